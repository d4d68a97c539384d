"""Portal: the fleet-wide tracker list (/trackers/): search, filters, sorting, pages; its
labels, changed by the client's admins one at a time or from a CSV file."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from html import escape
from typing import NamedTuple
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..models import Client, Tracker
from ..templatetags.ages import age

PAGE_SIZE = 50
REFUSALS_SHOWN = 50
# The columns, in order: (sort key, heading).
COLUMNS = [
    ("mac", "MAC"),
    ("label", "Label"),
    ("status", "Status"),
    ("run", "Run"),
    ("brand", "Brand"),
    ("city", "City"),
    ("seen", "Last seen"),
]
SORT_CHOICES = [
    choice
    for key, heading in COLUMNS
    for choice in ((key, f"{heading}, A to Z"), (f"-{key}", f"{heading}, Z to A"))
]
SORT_CHOICES[-2:] = [("seen", "Last seen, longest ago first"), ("-seen", "Last seen, latest first")]


class RunChoice(NamedTuple):
    """A run the user may filter by, as a plain row (the rows of a page name theirs)."""

    id: int
    name: str
    brand_id: int
    brand_name: str
    client_name: str


class TrackerFilterForm(forms.Form):
    """The list's query string (the page writes the inputs itself, see `options`). Runs and
    brands are the user's own (another client's id is refused like a missing one); a field
    that does not validate is named on the page and left out of the filter."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Tracker.Status.choices]
    )
    production_run = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Run"
    )
    brand = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    city = forms.CharField(required=False, max_length=200)
    seen = forms.ChoiceField(
        required=False,
        label="Last seen",
        choices=[
            ("", "Any time"),
            *((k, label) for k, (label, _) in selectors.TRACKER_SEEN.items()),
        ],
    )
    seen_from = forms.DateField(required=False, label="Seen from")
    seen_to = forms.DateField(required=False, label="Seen to")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Sort by")

    def __init__(self, data, *, user):
        super().__init__(data)
        self.runs = {
            run.id: run
            for run in map(
                RunChoice._make,
                selectors.production_run_list(user=user).values_list(
                    "id", "name", "brand_id", "brand__name", "brand__client__name"
                ),
            )
        }
        # A brand without runs has no trackers: the runs' brands are every brand worth a choice.
        brands = sorted({(r.client_name, r.brand_name, r.brand_id) for r in self.runs.values()})
        several = len({r.client_name for r in self.runs.values()}) > 1
        self.fields["production_run"].choices = [("", "Any run")] + [
            (r.id, f"{r.name} ({r.client_name})" if several else r.name) for r in self.runs.values()
        ]
        self.fields["brand"].choices = [("", "Any brand")] + [
            (pk, f"{name} ({client})" if several else name) for client, name, pk in brands
        ]

    def options(self) -> dict[str, str]:
        """Each select's <option>s, the current value selected: the page writes its own
        <select>s, far cheaper than a widget template per option on a page opened this
        often."""
        return {
            name: format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                (
                    (
                        value,
                        " selected" if str(value) == str(self.data.get(name) or "") else "",
                        text,
                    )
                    for value, text in self.fields[name].choices
                ),  # fmt: skip
            )
            for name in ("status", "production_run", "brand", "seen", "sort")
        }

    def filters(self) -> selectors.TrackerFilters:
        """The valid fields as filters (the form is always bound; invalid fields are None)."""
        self.is_valid()
        data = self.cleaned_data
        seen_from, seen_to = data.get("seen_from"), data.get("seen_to")
        return selectors.TrackerFilters(
            q=(data.get("q") or "").strip(),
            status=data.get("status") or "",
            brand=data.get("brand"),
            production_run=data.get("production_run"),
            city=data.get("city") or "",
            seen=data.get("seen") or "",
            # Days in the user's timezone; "to" includes its whole day.
            seen_from=_local_midnight(seen_from) if seen_from else None,
            seen_to=_local_midnight(seen_to + timedelta(days=1)) if seen_to else None,
            sort=data.get("sort") or "mac",
        )


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def tracker_filter_form(request) -> TrackerFilterForm:
    return TrackerFilterForm(request.GET, user=request.user)


def _query(params, **changes) -> str:
    """The query string with `changes` (None drops a key), empty values left out."""
    merged = {k: v for k, v in params.items() if v}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return urlencode(merged)


ROW_VALUES = (
    "id",
    "mac_address",
    "label",
    "client_id",
    "status",
    "last_report_at",
    "nearest_city",
    "nearest_country_code",
    "production_run_id",
)
STATUS_LABELS = dict(Tracker.Status.choices)


def _pattern(name: str):
    """A URL with one id, as a function of that id: one reverse() per page, not per row."""
    head, tail = reverse(name, args=[0]).rsplit("/0/", 1)
    return lambda pk: f"{head}/{pk}/{tail}"


def _seen(at: datetime | None, now: datetime) -> dict:
    """Last seen as an age, with the exact time in the person's timezone (as the `date`
    filter's "Y-m-d H:i T") and in ISO 8601 for <time datetime>."""
    if at is None:
        return {"seen_age": "", "seen_title": "", "seen_iso": ""}
    local = timezone.localtime(at)
    return {
        "seen_age": age(at, now),
        "seen_title": local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or ""),
        "seen_iso": local.isoformat(),
    }


# One table row. Written here rather than in the template: the list is the portal's most
# opened page, and fifty rows of template nodes (or of format_html calls) cost more than the
# rest of the page. Every value goes through `escape` (html.escape, quotes too).


def _row_html(row: dict, *, csrf_token: str, here: str, label_max: int) -> str:
    e = escape
    mac, label = e(row["mac_address"]), e(row["label"])
    if row["label_url"]:
        label_cell = (
            f'<form method="post" action="{e(row["label_url"])}" class="label-form">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{e(csrf_token)}">'
            f'<input type="hidden" name="next" value="{e(here)}">'
            f'<input type="text" name="label" value="{label}" maxlength="{label_max}"'
            f' aria-label="Label of {mac}"> <button type="submit">Save</button></form>'
        )
    else:
        label_cell = f'<span class="label">{label}</span>'
    run_cell = f'<a href="{e(row["run_url"])}">{e(row["run_name"])}</a>' if row["run_url"] else ""
    city = e(", ".join(filter(None, [row["nearest_city"], row["nearest_country_code"]])))
    seen_cell = (
        f'<time datetime="{e(row["seen_iso"])}" title="{e(row["seen_title"])}">'
        f"{e(row['seen_age'])}</time>"
        if row["seen_iso"]
        else '<span class="muted">never</span>'
    )
    return mark_safe(  # every value in it is escaped above
        f'<tr data-tracker="{int(row["id"])}">'
        f'<td data-label="MAC"><a href="{e(row["history_url"])}"><code class="mac">{mac}</code>'
        "</a></td>"
        f'<td data-label="Label" class="label-cell">{label_cell}</td>'
        f'<td data-label="Status"><span class="status status-{e(row["status_key"])}">'
        f"{e(row['status_label'])}</span></td>"
        f'<td data-label="Run">{run_cell}</td>'
        f'<td data-label="Brand">{e(row["brand_name"])}</td>'
        f'<td data-label="City">{city}</td>'
        f'<td data-label="Last seen" class="last-seen nowrap">{seen_cell}</td>'
        "</tr>"
    )


def _rows(
    trackers, runs: dict, administered: set[int], *, csrf_token: str, here: str
) -> list[dict]:
    """Plain rows for the table, every value ready to print, each with its HTML: the runs
    and brands come from the form's choices (the user's own runs, already read), the links
    from one pattern each, the times formatted once here rather than by filters per cell."""
    now = timezone.now()
    label_max = Tracker._meta.get_field("label").max_length
    history, label, run_url = (
        _pattern("portal:tracker-history"),
        _pattern("portal:tracker-label"),
        _pattern("portal:run-detail"),
    )
    rows = []
    for tracker in trackers:
        run = runs.get(tracker["production_run_id"])
        rows.append(
            {
                **tracker,
                "status_label": STATUS_LABELS.get(tracker["status"], tracker["status"]),
                "status_key": tracker["status"].lower(),
                "history_url": history(tracker["id"]),
                "label_url": label(tracker["id"]) if tracker["client_id"] in administered else "",
                "run_name": run.name if run else "",
                "run_url": run_url(run.id) if run else "",
                "brand_name": run.brand_name if run else "",
                **_seen(tracker["last_report_at"], now),
            }
        )
        rows[-1]["html"] = _row_html(rows[-1], csrf_token=csrf_token, here=here,
                                     label_max=label_max)  # fmt: skip
    return rows


@login_required
def tracker_list(request):
    form = tracker_filter_form(request)
    filters = form.filters()
    trackers = selectors.tracker_table(user=request.user, filters=filters)
    page = Paginator(trackers.values(*ROW_VALUES), PAGE_SIZE).get_page(request.GET.get("page"))
    administered = list(selectors.administered_client_list(user=request.user))
    page.object_list = _rows(
        page.object_list,
        form.runs,
        {c.pk for c in administered},
        csrf_token=get_token(request),
        here=request.get_full_path(),
    )
    params = {k: v for k, v in request.GET.items() if k in form.fields}
    current = filters.sort if filters.sort.removeprefix("-") in selectors.TRACKER_SORTS else "mac"
    columns = []
    for key, heading in COLUMNS:
        active = current.removeprefix("-") == key
        descending = current.startswith("-")
        # A click on the sorted column turns it round; on another column sorts it ascending.
        next_sort = (key if descending else f"-{key}") if active else key
        columns.append(
            {
                "key": key,
                "heading": heading,
                "url": "?" + _query(params, sort=next_sort, page=None),
                "direction": ("descending" if descending else "ascending") if active else "",
            }
        )
    return render(
        request,
        "portal/tracker_list.html",
        {
            "form": form,
            "options": form.options(),
            "page": page,
            "columns": columns,
            "page_query": _query(params, page=None),
            "export_query": _query(params, page=None),
            "filtered": any(v for k, v in params.items() if k != "sort"),
            "here": request.get_full_path(),  # where the upload form comes back to
            "upload_max_mb": f"{settings.UPLOAD_MAX_BYTES / 1_000_000:g}",
            "upload_clients": administered,
        },
    )


def _back(request) -> str:
    """Where a label form came from (the list with its filters and page), if it is ours."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("portal:tracker-list")


@login_required
@require_POST
def tracker_label(request, pk: int):
    """An admin of the tracker's client changes its label; viewers get 403."""
    tracker = selectors.tracker_get(user=request.user, pk=pk)
    try:
        services.tracker_label_set(
            user=request.user, tracker=tracker, label=request.POST.get("label", "")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, f"Label of {tracker.mac_address}: {message}")
    else:
        messages.success(
            request,
            f"{tracker.mac_address} is now labelled “{tracker.label}”."
            if tracker.label
            else f"{tracker.mac_address} has no label now.",
        )
    return redirect(_back(request))


class LabelUploadForm(forms.Form):
    labels_file = forms.FileField(
        label="CSV file",
        help_text="Columns mac,label (a header row naming them); any MAC spelling.",
    )

    def clean_labels_file(self):
        upload = self.cleaned_data["labels_file"]
        if upload.size > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1_000_000:,.1f} MB, larger than the limit of "
                f"{settings.UPLOAD_MAX_BYTES / 1_000_000:g} MB. Split it into smaller files."
            )
        return upload


def _refused(request, errors: list[str]) -> None:
    """One banner: the first REFUSALS_SHOWN reasons, then how many more."""
    shown, rest = errors[:REFUSALS_SHOWN], len(errors) - REFUSALS_SHOWN
    messages.error(
        request,
        format_html(
            'Refused, no label was changed:<ul class="refusals">{}</ul>{}',
            format_html_join("", "<li>{}</li>", ((m,) for m in shown)),
            f"and {rest} more." if rest > 0 else "",
        ),
    )


@login_required
@require_POST
def tracker_labels_upload(request):
    """A client's admins set many labels at once from a CSV file: every row is checked
    first, and one bad row changes nothing."""
    client_id = request.POST.get("client", "")
    if not client_id.isdigit():
        raise Http404("No such client.")
    # Another client's answers 404; the client's viewers get 403 from the service.
    client = selectors.get_visible_or_404(Client.objects.all(), request.user, pk=int(client_id))
    if not selectors.administered_client_list(user=request.user).filter(pk=client.pk).exists():
        raise PermissionDenied("Only the client's admins change labels.")
    form = LabelUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        _refused(request, [f"{form[f].label}: {e}" for f, errors in form.errors.items()
                           for e in errors])  # fmt: skip
        return redirect(_back(request))
    try:
        result = services.tracker_labels_import(
            user=request.user, client=client, data=form.cleaned_data["labels_file"].read()
        )
    except ValidationError as exc:
        _refused(request, exc.messages)
    else:
        messages.success(
            request,
            f"{result.changed} label{'s' if result.changed != 1 else ''} changed, "
            f"{result.unchanged} already as in the file ({client.name}).",
        )
    return redirect(_back(request))
