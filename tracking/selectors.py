"""Every read a user can make of tenancy and trackers, scoped to that user."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from .models import Brand, Client, ProductionRun, Tracker


def get_visible_or_404(queryset: QuerySet, user, **lookup):
    """The one portal helper: another client's object answers 404, exactly like a missing one."""
    try:
        return queryset.visible_to(user).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from None


def client_list(*, user) -> QuerySet[Client]:
    return Client.objects.visible_to(user).order_by("name")


def brand_list(*, user) -> QuerySet[Brand]:
    return Brand.objects.visible_to(user).select_related("client").order_by("client__name", "name")


def production_run_list(*, user) -> QuerySet[ProductionRun]:
    return (
        ProductionRun.objects.visible_to(user)
        .select_related("brand__client")
        .order_by("-starts_at")
    )


def production_run_get(*, user, pk: int) -> ProductionRun:
    return get_visible_or_404(ProductionRun.objects.select_related("brand__client"), user, pk=pk)


def tracker_list(*, user, production_run: ProductionRun | None = None) -> QuerySet[Tracker]:
    trackers = Tracker.objects.visible_to(user).select_related("production_run")
    if production_run is not None:
        trackers = trackers.filter(production_run=production_run)
    return trackers.order_by("mac_address")
