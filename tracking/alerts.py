"""Customer alerts: a client's rules, each member's subscription, and the fan-out that turns
outbox events into notifications.

1. Rules (`AlertRule`, set by a client's admins): which event types are on, for every run or
   for chosen runs. Subscriptions (`AlertSubscription`, each member's own): which runs they
   follow and how they hear: at once, in a daily digest at a local hour, or not at all.
2. Fan-out (`notifications_fan_out`, in Celery): events with `notified_at` NULL are locked
   (SKIP LOCKED, so two workers share the queue), matched against rules and subscriptions in
   one statement, debounced, written as one Notification per (event, person) (unique: a run
   twice adds nothing) and marked notified, all in one transaction. One status change writes
   several events (status changed, left, arrived, delivered, moved after delivery); a person
   is alerted once per change, with the most telling of them the rule has on.
3. Debounce: a tracker flapping at a place's edge alerts once per ALERTS_DEBOUNCE_MINUTES per
   (tracker, event type, person); the alerts in between are stored DEBOUNCED: neither listed
   nor e-mailed.
4. E-mail (alert_emails.py): each person's pending immediate alerts go out as one message (a
   whole run arriving is one e-mail listing the first 50 and "and N more"); digests hourly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from .models import (
    AlertRule,
    AlertSubscription,
    AuditEvent,
    Client,
    Event,
    Membership,
    Notification,
    ProductionRun,
    Tracker,
)

logger = logging.getLogger(__name__)

_E = Event._meta.db_table
_N = Notification._meta.db_table
_R = AlertRule._meta.db_table
_R_RUNS = AlertRule.production_runs.through._meta.db_table
_S = AlertSubscription._meta.db_table
_S_RUNS = AlertSubscription.production_runs.through._meta.db_table
_T = Tracker._meta.db_table
_M = Membership._meta.db_table
_U = get_user_model()._meta.db_table


# --- Rules and subscriptions --------------------------------------------------------------


def _runs_of(client: Client, runs: Iterable[ProductionRun]) -> list[ProductionRun]:
    runs = list(runs)
    foreign = [run for run in runs if run.brand.client_id != client.pk]
    if foreign:
        raise ValidationError(
            {"production_runs": f"Not a run of {client}: {', '.join(map(str, foreign))}."}
        )
    return runs


@transaction.atomic
def alert_rule_save(
    *,
    user,
    client: Client,
    event_types: Iterable[str],
    all_runs: bool,
    production_runs: Iterable[ProductionRun] = (),
    silent_after_hours: int | None = None,
) -> AlertRule:
    """The client's alert rule, by one of its admins (or staff). Audited."""
    if not Client.objects.administered_by(user).filter(pk=client.pk).exists():
        raise PermissionDenied("Only an admin of this client may change its alerts.")
    event_types = list(dict.fromkeys(str(t) for t in event_types))
    unknown = [t for t in event_types if t not in Event.Type.values]
    if unknown:
        raise ValidationError({"event_types": f"Unknown event type(s): {', '.join(unknown)}."})
    runs = _runs_of(client, production_runs)
    if not all_runs and not runs and event_types:
        raise ValidationError({"production_runs": "Choose at least one run, or all runs."})
    rule, _ = AlertRule.objects.get_or_create(client=client)
    rule.event_types = event_types
    rule.all_runs = all_runs
    rule.updated_at = timezone.now()
    rule.updated_by = user if getattr(user, "pk", None) else None
    rule.save()
    rule.production_runs.set([] if all_runs else runs)
    if silent_after_hours is not None and silent_after_hours != client.silent_after_hours:
        client.silent_after_hours = silent_after_hours
        client.full_clean()
        client.save(update_fields=["silent_after_hours"])
    AuditEvent.objects.create(
        actor=rule.updated_by,
        action="alert_rule.update",
        client=client,
        target=client.name,
        details={
            "event_types": event_types,
            "runs": "all" if all_runs else [run.pk for run in runs],
            "silent_after_hours": client.silent_after_hours,
        },
    )
    return rule


@transaction.atomic
def alert_subscription_save(
    *,
    user,
    client: Client,
    delivery: str,
    digest_hour: int = 8,
    all_runs: bool = True,
    production_runs: Iterable[ProductionRun] = (),
) -> AlertSubscription:
    """The user's own subscription to a client they are a member of."""
    if not Membership.objects.filter(user=user, client=client).exists():
        raise PermissionDenied("Only a member of this client may follow its alerts.")
    if delivery not in AlertSubscription.Delivery.values:
        raise ValidationError({"delivery": f"{delivery!r} is not a way to get alerts."})
    if not 0 <= int(digest_hour) <= 23:
        raise ValidationError({"digest_hour": f"{digest_hour!r} is not an hour (0-23)."})
    runs = _runs_of(client, production_runs)
    if not all_runs and not runs and delivery != AlertSubscription.Delivery.OFF:
        raise ValidationError({"production_runs": "Choose at least one run, or all runs."})
    subscription, _ = AlertSubscription.objects.update_or_create(
        user=user,
        client=client,
        defaults={"delivery": delivery, "digest_hour": int(digest_hour), "all_runs": all_runs},
    )
    subscription.production_runs.set([] if all_runs else runs)
    return subscription


# --- Fan-out ------------------------------------------------------------------------------

# The event types one status change of the engine writes together (they share the change as
# their source), the most telling first: a change alerts a person once, as the first of these
# its client's rule has on.
CHANGE_TYPES = [
    Event.Type.MOVED_AFTER_DELIVERY.value,
    Event.Type.DELIVERED.value,
    Event.Type.ARRIVED.value,
    Event.Type.LEFT.value,
    Event.Type.STATUS_CHANGED.value,
]

_PICK_SQL = f"""
SELECT id, tracker_id, occurred_at FROM {_E}
WHERE notified_at IS NULL
ORDER BY created_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

# The fan-out of one batch of locked events, in one statement:
#
# * followers: the people who follow a client's alerts (a subscription that is not OFF, still
#   a member, an active account): a handful of rows, joined to the events by client;
# * ruled, picked: the batch's events whose type the client's rule has on; of the events of
#   one status change (the engine's, with the same source: status changed, left, arrived,
#   delivered, moved after delivery) only the most telling one (CHANGE_TYPES order), so one
#   change is one alert; with `n`, how many events of that type the batch holds for the
#   tracker;
# * wanted: every (event, person) the rule's and the subscription's runs let through (the
#   tracker is read only when one of them names runs);
# * recent: the alerts let through lately for these people (the list index: person, time)
#   and trackers, and decided: each wanted alert with the last of the same kind for the same
#   tracker and person within the debounce period before it;
# * made: the alerts alone of their kind for their tracker in the batch are written at once:
#   DEBOUNCED when decided found one before, else PENDING (unique per event and person: a
#   second run adds nothing);
# * one row (event NULL) counts what `made` wrote and lists the people it alerted; the other
#   rows are the alerts several of a kind for a tracker in this batch (ordered by person,
#   tracker, kind and time) with the last alert let through before them: Python walks them
#   (_debounce), since only the alerts let through start a period.
_FAN_OUT_SQL = f"""
WITH followers AS MATERIALIZED (
    SELECT s.id, s.user_id, s.client_id, s.delivery, s.all_runs
    FROM {_S} s
    JOIN {_M} m ON m.user_id = s.user_id AND m.client_id = s.client_id
    JOIN {_U} u ON u.id = s.user_id AND u.is_active
    WHERE s.delivery <> 'OFF'
), ruled AS (
    SELECT e.id, e.type, e.client_id, e.tracker_id, e.occurred_at, r.id AS rule_id,
           r.all_runs AS rule_all_runs,
           row_number() OVER (
               PARTITION BY COALESCE(CASE WHEN e.type = ANY(%(change_types)s)
                                          THEN e.source_id::text END, e.id::text)
               ORDER BY array_position(%(change_types)s, e.type::text)) AS rank
    FROM {_E} e
    JOIN {_R} r ON r.client_id = e.client_id AND r.event_types @> jsonb_build_array(e.type)
    WHERE e.id = ANY(%(ids)s)
), picked AS MATERIALIZED (
    SELECT *, count(*) OVER (PARTITION BY tracker_id, type) AS n
    FROM ruled
    WHERE rank = 1
), wanted AS MATERIALIZED (
    SELECT p.id AS event_id, f.user_id, p.type AS kind, p.client_id, p.tracker_id,
           p.occurred_at, f.delivery, p.n
    FROM picked p
    JOIN followers f ON f.client_id = p.client_id
    WHERE (p.rule_all_runs OR EXISTS (
            SELECT 1 FROM {_R_RUNS} rr JOIN {_T} t ON t.production_run_id = rr.productionrun_id
            WHERE rr.alertrule_id = p.rule_id AND t.id = p.tracker_id))
      AND (f.all_runs OR EXISTS (
            SELECT 1 FROM {_S_RUNS} sr JOIN {_T} t ON t.production_run_id = sr.productionrun_id
            WHERE sr.alertsubscription_id = f.id AND t.id = p.tracker_id))
), recent AS MATERIALIZED (
    SELECT n.tracker_id, n.kind, n.user_id, n.occurred_at
    FROM {_N} n
    WHERE n.user_id IN (SELECT user_id FROM followers)
      AND n.occurred_at > %(since)s AND n.occurred_at <= %(until)s
      AND n.tracker_id = ANY(%(trackers)s) AND n.state <> 'DEBOUNCED'
), decided AS (
    SELECT w.*, l.at AS last_alert_at
    FROM wanted w
    LEFT JOIN (
        SELECT w2.event_id, w2.user_id, max(x.occurred_at) AS at
        FROM wanted w2
        JOIN recent x ON x.tracker_id = w2.tracker_id AND x.kind = w2.kind
                     AND x.user_id = w2.user_id
        WHERE x.occurred_at > w2.occurred_at - %(debounce)s AND x.occurred_at <= w2.occurred_at
        GROUP BY w2.event_id, w2.user_id
    ) l ON l.event_id = w.event_id AND l.user_id = w.user_id
), made AS (
    INSERT INTO {_N} (user_id, event_id, kind, client_id, tracker_id, delivery, state,
                      dedupe_key, title, link, occurred_at, created_at)
    SELECT d.user_id, d.event_id, d.kind, d.client_id, d.tracker_id, d.delivery,
           CASE WHEN d.last_alert_at IS NULL THEN 'PENDING' ELSE 'DEBOUNCED' END,
           '', '', '', d.occurred_at, %(now)s
    FROM decided d
    WHERE d.n = 1 OR d.tracker_id IS NULL
    ON CONFLICT (event_id, user_id) DO NOTHING
    RETURNING user_id, state
)
SELECT NULL::uuid, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, NULL::timestamptz,
       NULL::text, NULL::timestamptz,
       (SELECT count(*) FROM made), (SELECT count(*) FROM made WHERE state = 'DEBOUNCED'),
       (SELECT array_agg(DISTINCT user_id) FROM made WHERE state <> 'DEBOUNCED')
UNION ALL
(SELECT d.event_id, d.user_id, d.kind, d.client_id, d.tracker_id, d.occurred_at, d.delivery,
        d.last_alert_at, NULL, NULL, NULL
 FROM decided d
 WHERE d.n > 1 AND d.tracker_id IS NOT NULL
 ORDER BY d.user_id, d.tracker_id, d.kind, d.occurred_at)
"""

# The alerts the batch holds several of (per kind, tracker and person), as _debounce decided.
_INSERT_SQL = f"""
INSERT INTO {_N} (user_id, event_id, kind, client_id, tracker_id, delivery, state,
                  dedupe_key, title, link, occurred_at, created_at)
SELECT n.user_id, n.event_id, n.kind, n.client_id, n.tracker_id, n.delivery, n.state,
       '', '', '', n.occurred_at, %(now)s
FROM unnest(%(user_id)s::bigint[], %(event_id)s::uuid[], %(kind)s::text[],
            %(client_id)s::bigint[], %(tracker_id)s::bigint[], %(delivery)s::text[],
            %(state)s::text[], %(occurred_at)s::timestamptz[])
    AS n(user_id, event_id, kind, client_id, tracker_id, delivery, state, occurred_at)
ON CONFLICT (event_id, user_id) DO NOTHING
"""


@dataclass(frozen=True)
class FanOut:
    events: int  # events looked at (and marked notified)
    notifications: int  # notifications written, debounced ones included
    debounced: int
    users: frozenset[int]  # the people who got a new notification


def _debounce(rows: list, period: timedelta) -> list[str]:
    """The state of each row (ordered by person, tracker, kind, time): PENDING, or DEBOUNCED
    when an alert of the same kind for the same tracker and person was let through less than
    `period` before it. Only the alerts let through start a period, so a tracker that flaps
    all afternoon still alerts once per period."""
    states = []
    key = last = None
    for _event, user_id, kind, _client, tracker_id, occurred_at, _delivery, before in rows:
        if (user_id, tracker_id, kind) != key:
            key, last = (user_id, tracker_id, kind), before
        if last is not None and occurred_at - last < period:
            states.append(Notification.State.DEBOUNCED.value)
        else:
            states.append(Notification.State.PENDING.value)
            last = occurred_at
    return states


def notifications_fan_out(*, limit: int | None = None, now: datetime | None = None) -> FanOut:
    """Notifications for one batch of events not yet looked at. Safe to run twice and in
    parallel: the events are locked (SKIP LOCKED) and marked in the same transaction."""
    now = now or timezone.now()
    period = timedelta(minutes=settings.ALERTS_DEBOUNCE_MINUTES)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_PICK_SQL, {"limit": limit or settings.ALERTS_FAN_OUT_BATCH})
        picked = cursor.fetchall()
        if not picked:
            return FanOut(0, 0, 0, frozenset())
        ids = [row[0] for row in picked]
        cursor.execute(
            _FAN_OUT_SQL,
            {
                "ids": ids,
                "trackers": sorted({row[1] for row in picked if row[1] is not None}),
                "since": min(row[2] for row in picked) - period,
                "until": max(row[2] for row in picked),
                "debounce": period,
                "now": now,
                "change_types": CHANGE_TYPES,
            },
        )
        rows = cursor.fetchall()
        [totals] = [row for row in rows if row[0] is None]
        several = [row for row in rows if row[0] is not None]
        written, debounced, alerted = totals[8], totals[9], totals[10]
        users = set(alerted or ())
        if several:
            rows = [row[:8] for row in several]
            states = _debounce(rows, period)
            columns = list(zip(*rows, strict=True))
            cursor.execute(
                _INSERT_SQL,
                {
                    "now": now,
                    "event_id": list(columns[0]),
                    "user_id": list(columns[1]),
                    "kind": list(columns[2]),
                    "client_id": list(columns[3]),
                    "tracker_id": list(columns[4]),
                    "occurred_at": list(columns[5]),
                    "delivery": list(columns[6]),
                    "state": states,
                },
            )
            written += cursor.rowcount
            debounced += states.count(Notification.State.DEBOUNCED.value)
            users |= {
                row[1] for row, state in zip(rows, states, strict=True) if state != "DEBOUNCED"
            }
        cursor.execute(f"UPDATE {_E} SET notified_at = %s WHERE id = ANY(%s)", [now, ids])
        _forget_now_and_on_commit(users)
    return FanOut(len(ids), written, debounced, frozenset(users))


def notify_soon() -> None:
    """Called by writers of events inside their transaction: once it commits, queue a
    notification run instead of waiting for the beat schedule (every minute)."""
    if settings.ALERTS_FAN_OUT_ON_COMMIT:
        transaction.on_commit(_queue_notification_run)


def _queue_notification_run() -> None:
    from .tasks import notify_alerts_task

    try:
        notify_alerts_task.apply_async(retry=False)
    except Exception:  # noqa: BLE001 (any broker failure: beat picks the events up)
        logger.warning("could not queue a notification run; beat will", exc_info=True)


# --- Reading notifications ----------------------------------------------------------------


def _unread_key(user_id: int) -> str:
    return f"alerts:unread:{user_id}"


# The header counts the unread alerts of this many days, up to UNREAD_CAP ("99+" beyond),
# walking the person's list index from the newest: bounded however long their history.
UNREAD_DAYS = 90
UNREAD_CAP = 100


def unread_count(user) -> int:
    """The person's unread notifications of the last UNREAD_DAYS, at most UNREAD_CAP: cached
    (the header shows it on every page), one query on a miss, forgotten whenever their
    notifications change."""
    key = _unread_key(user.pk)
    count = cache.get(key)
    if count is None:
        since = timezone.now() - timedelta(days=UNREAD_DAYS)
        newest = (
            Notification.objects.filter(user=user, occurred_at__gte=since)
            .unread()
            .order_by("-occurred_at")
            .values("pk")[:UNREAD_CAP]
        )
        count = Notification.objects.filter(pk__in=newest).count()
        cache.set(key, count, 300)
    return count


def unread_count_forget(user_ids: Iterable[int]) -> None:
    keys = [_unread_key(user_id) for user_id in user_ids]
    if keys:
        cache.delete_many(keys)


def _forget_now_and_on_commit(user_ids: Iterable[int]) -> None:
    """Forget the counts at once and again after the commit: a page rendered in between
    would otherwise cache the count from before this change."""
    user_ids = list(user_ids)
    unread_count_forget(user_ids)
    transaction.on_commit(lambda: unread_count_forget(user_ids))


def unread_notifications(request) -> dict:
    """Context processor: `unread_notifications`, counted only if a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}


@transaction.atomic
def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when ids is None)."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    marked = rows.update(read_at=timezone.now())
    _forget_now_and_on_commit([user.pk])
    return marked


# --- Operations alerts for staff ----------------------------------------------------------


@transaction.atomic
def staff_alert_record(
    *, recipients: Iterable, kind: str, key: str, title: str, link: str, occurred_at: datetime
) -> int:
    """One notification per recipient for a problem staff must act on, once per `key` (a
    check that runs every few minutes finds the same problem again: it adds nothing).
    Returns the notifications written."""
    key = key[:200]
    recipients = list(recipients)
    told = set(
        Notification.objects.filter(dedupe_key=key, user__in=recipients).values_list(
            "user_id", flat=True
        )
    )
    rows = [
        Notification(
            user=user,
            kind=kind,
            dedupe_key=key,
            title=title[:300],
            link=link[:300],
            occurred_at=occurred_at,
        )
        for user in recipients
        if user.pk not in told
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    _forget_now_and_on_commit([row.user_id for row in rows])
    return len(rows)
