"""Tenancy and the core data: clients, brands, production runs, trackers and their reports,
and what the system tells others about them. One module per family; every model is
imported here, so `tracking.models.Tracker` is the one name to use."""

from .alerts import (  # noqa: F401
    AlertEmail,
    AlertRule,
    AlertSubscription,
    Notification,
    NotificationQuerySet,
)
from .catalog import (  # noqa: F401
    Brand,
    KeyBatch,
    ProductionRun,
    ProductionRunQuerySet,
    Tracker,
    TrackerQuerySet,
)
from .integrations import (  # noqa: F401
    ApiKey,
    AuditEvent,
    Event,
    ShareLink,
    ShareLinkQuerySet,
    WebhookDelivery,
    WebhookDeliveryQuerySet,
    WebhookEndpoint,
)
from .reports import (  # noqa: F401
    DailyRollup,
    HourlyRollup,
    LocationReport,
    LocationReportQuerySet,
    LocationRollup,
    RollupQuerySet,
)
from .tenancy import (  # noqa: F401
    INVITATION_VALID_DAYS,
    Client,
    Invitation,
    InvitationQuerySet,
    Membership,
    Profile,
    TenantQuerySet,
    _invitation_expiry,  # migration 0015 names it here
)
