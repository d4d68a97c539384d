"""Writes of tracking's data: the tenancy objects (clients, brands, memberships, production
runs), the partner-facing data (API keys, the event outbox, webhook endpoints), the share
links customers give to people without an account, members and accounts, and trackers'
labels. One module per family; every function is imported here, so callers write
`services.client_save` and the like.

Every function is keyword-only and atomic. The delivery of events to webhooks lives in
tracking/webhooks.py (it talks HTTP); these modules only record.
"""

from .integrations import (  # noqa: F401
    _SILENT_SQL,
    API_KEY_PREFIX,
    CreatedWebhook,
    IssuedApiKey,
    IssuedShareLink,
    _clean_event_types,
    api_key_create,
    api_key_hash,
    api_key_revoke,
    api_key_touch,
    event_record,
    events_record_silent,
    share_link_create,
    share_link_hash,
    share_link_record_view,
    share_link_revoke,
    webhook_create,
    webhook_delete,
    webhook_secret,
    webhook_update,
)
from .labels import (  # noqa: F401
    AUDIT_LABELS_SHOWN,
    LABEL_LOOKUP_BATCH,
    LABEL_MAX_LENGTH,
    LabelImport,
    _clean_label,
    _label_rows,
    _shown,
    tracker_label_set,
    tracker_labels_import,
)
from .members import (  # noqa: F401
    InvitationClosed,
    IssuedInvitation,
    _last_admin_check,
    invitation_accept,
    invitation_create,
    invitation_email_send,
    invitation_hash,
    invitation_revoke,
    member_remove,
    member_role_set,
    profile_timezone_set,
)
from .tenancy import (  # noqa: F401
    UNCHANGED,
    _require_admin,
    _tenancy_actor,
    _tenancy_audit,
    _tenancy_save,
    brand_delete,
    brand_save,
    client_save,
    client_silent_threshold_set,
    membership_delete,
    membership_save,
    production_run_save,
)
