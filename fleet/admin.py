"""Admin pages for the tracker lifecycle. Every button calls one service; a refusal shows
each message (line and value) and changes nothing."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from tracking.models import KeyBatch, Tracker

from . import selectors, services
from .exceptions import LifecycleError
from .forms import AllocateForm, CustomerOrderAddForm, GenerateKeysForm, ImportForm, MacListForm
from .models import Allocation, CustomerOrder

REFUSALS_SHOWN = 50


def _submitted(request) -> tuple:
    """A form's data and files: bound on every POST, so that an empty submit is told that
    nothing was given instead of getting the blank form back."""
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None


def refused(request, exc: LifecycleError) -> None:
    """One banner: what was refused (the first REFUSALS_SHOWN reasons), then how many more."""
    shown, rest = exc.messages[:REFUSALS_SHOWN], len(exc.messages) - REFUSALS_SHOWN
    messages.error(
        request,
        format_html(
            'Refused, nothing was changed:<ul class="refusals">{}</ul>{}',
            format_html_join("", "<li>{}</li>", ((m,) for m in shown)),
            f"and {rest} more." if rest > 0 else "",
        ),
    )


class _OperationPages:
    """Renders one operation form page inside the admin's look."""

    operation_template = "admin/fleet/operation_form.html"

    def changelist_view(self, request, extra_context=None):
        # The list's operation links show only to those whose group may run them.
        extra_context = {
            **(extra_context or {}),
            "may_operate": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def render_operation(self, request, *, title, form, obj=None, intro="", submit="Submit"):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "original": obj,
            "intro": intro,
            "submit_label": submit,
            "has_view_permission": True,
        }
        return TemplateResponse(request, self.operation_template, context)


# KeyBatch lives in tracking (a tracker points at its batch) but its pages are the lifecycle's
# first steps, so fleet registers its admin (tracking may not import fleet).
@admin.register(KeyBatch)
class KeyBatchAdmin(_OperationPages, admin.ModelAdmin):
    list_display = ["name", "state", "created_at", "created_by"]
    list_filter = ["state"]
    search_fields = ["name"]
    list_select_related = ["created_by"]
    change_form_template = "admin/fleet/keybatch/change_form.html"
    change_list_template = "admin/fleet/keybatch/change_list.html"
    readonly_fields = ["name", "state", "created_at", "created_by", "lifecycle_summary"]

    @admin.display(description="trackers by state")
    def lifecycle_summary(self, obj):
        counts = selectors.lifecycle_counts(key_batch=obj)
        return ", ".join(f"{state}: {n}" for state, n in counts.items() if n) or "none"

    def get_urls(self):
        own = [
            path(
                "receive/",
                self.admin_site.admin_view(self.receive_view),
                name="fleet_devices_receive",
            ),
            path(
                "<int:pk>/export/",
                self.admin_site.admin_view(self.export_view),
                name="fleet_keybatch_export",
            ),
        ]
        return own + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        trackers = reverse("admin:tracking_tracker_changelist")
        extra_context = {
            **(extra_context or {}),
            "export_formats": list(services.EXPORT_FORMATS),
            "batch_trackers_url": f"{trackers}?key_batch__id__exact={object_id}",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a batch means generating its keys."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GenerateKeysForm(_submitted(request)[0])
        if request.method == "POST" and form.is_valid():
            try:
                batch = services.keys_generate(
                    batch_name=form.cleaned_data["batch_name"],
                    count=form.cleaned_data["count"],
                    user=request.user,
                )
            except LifecycleError as exc:
                refused(request, exc)
            else:
                messages.success(
                    request, f'Key batch "{batch}": {form.cleaned_data["count"]} key pairs.'
                )
                return redirect("admin:tracking_keybatch_change", batch.pk)
        return self.render_operation(
            request,
            title="Generate a key batch",
            form=form,
            intro="Fresh P-224 key pairs; private keys are stored encrypted and never leave "
            "the system. Up to 100,000 keys here; more with manage.py generate_keys.",
            submit="Generate",
        )

    def export_view(self, request, pk):
        batch = get_object_or_404(KeyBatch, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, batch):
            raise PermissionDenied
        fmt = request.POST.get("format", "")
        try:
            content = services.batch_export(batch=batch, fmt=fmt, user=request.user)
        except LifecycleError as exc:
            refused(request, exc)
            return redirect("admin:tracking_keybatch_change", batch.pk)
        export_format = services.EXPORT_FORMATS[fmt]
        response = HttpResponse(content, content_type=export_format.content_type)
        filename = f"{batch.name}.{export_format.extension}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def receive_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = MacListForm(*_submitted(request))
        if request.method == "POST" and form.is_valid():
            try:
                count = services.devices_receive(
                    macs_text=form.cleaned_data["macs"], user=request.user
                )
            except LifecycleError as exc:
                refused(request, exc)
            else:
                messages.success(request, f"{count} devices received into stock.")
                return redirect("admin:tracking_keybatch_changelist")
        return self.render_operation(
            request,
            title="Receive devices from the manufacturer",
            form=form,
            intro="The listed trackers move from EXPORTED to IN_STOCK.",
            submit="Receive",
        )


class AllocationInline(admin.TabularInline):
    model = Allocation
    fields = ["tracker", "tracker_state", "allocated_at", "allocated_by", "released_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    @admin.display(description="state")
    def tracker_state(self, obj):
        return obj.tracker.get_lifecycle_state_display()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tracker", "allocated_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CustomerOrder)
class CustomerOrderAdmin(_OperationPages, admin.ModelAdmin):
    list_display = ["reference", "client", "quantity", "allocated", "status", "created_at"]
    list_filter = ["status", "client"]
    search_fields = ["reference", "client__name"]
    autocomplete_fields = ["client"]
    change_form_template = "admin/fleet/customerorder/change_form.html"
    change_list_template = "admin/fleet/customerorder/change_list.html"
    inlines = [AllocationInline]

    def get_queryset(self, request):
        return selectors.order_list(user=request.user)

    @admin.display(description="allocated", ordering="allocated")
    def allocated(self, obj):
        return obj.allocated

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CustomerOrderAddForm
        return super().get_form(request, obj, change, **kwargs)

    def response_add(self, request, obj, post_url_continue=None):
        """A new order opens on its own page, where Allocate is the next step."""
        messages.success(request, f'Order "{obj}" created. Next step: allocate its trackers.')
        return redirect("admin:fleet_customerorder_change", obj.pk)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "reference", "quantity"]
        return ["client", "reference", "quantity", "status", "created_at", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on an existing order is edited here; the buttons do the work
        try:
            created = services.order_create(
                client=obj.client, reference=obj.reference, quantity=obj.quantity, user=request.user
            )
        except LifecycleError as exc:
            raise PermissionDenied("; ".join(exc.messages)) from exc
        obj.pk, obj.status, obj.created_at = created.pk, created.status, created.created_at
        obj.created_by = created.created_by
        obj._state.adding = False

    def get_urls(self):
        view = self.admin_site.admin_view
        own = [
            path("import/", view(self.import_view), name="fleet_trackers_import"),
            path("<int:pk>/allocate/", view(self.allocate_view), name="fleet_order_allocate"),
            path("<int:pk>/import/", view(self.import_view), name="fleet_order_import"),
            path("<int:pk>/cancel/", view(self.cancel_view), name="fleet_order_cancel"),
        ]
        return own + super().get_urls()

    def _order(self, request, pk) -> CustomerOrder:
        order = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        return order

    def _back(self, order):
        return redirect("admin:fleet_customerorder_change", order.pk)

    def allocate_view(self, request, pk):
        order = self._order(request, pk)
        form = AllocateForm(*_submitted(request))
        if request.method == "POST" and form.is_valid():
            try:
                count = services.order_allocate(
                    order=order,
                    macs_text=form.cleaned_data["macs"],
                    count=form.cleaned_data["count"],
                    user=request.user,
                )
            except LifecycleError as exc:
                refused(request, exc)
            else:
                messages.success(request, f'{count} trackers allocated to order "{order}".')
                return self._back(order)
        return self.render_operation(
            request,
            obj=order,
            title=f'Allocate trackers to order "{order}" ({order.client})',
            form=form,
            intro=f"Quantity {order.quantity}. All or nothing: any bad line refuses the list.",
            submit="Allocate",
        )

    def import_view(self, request, pk=None):
        order = self._order(request, pk) if pk is not None else None
        if order is None and not self.has_change_permission(request):
            raise PermissionDenied
        form = ImportForm(*_submitted(request), order=order)
        if request.method == "POST" and form.is_valid():
            run = form.cleaned_data["production_run"]
            try:
                count = services.trackers_import(
                    production_run=run,
                    macs_text=form.cleaned_data["macs"],
                    order=order if form.cleaned_data.get("whole_order") else None,
                    user=request.user,
                )
            except LifecycleError as exc:
                refused(request, exc)
            else:
                messages.success(request, f'{count} trackers active in production run "{run}".')
                if order is not None:
                    return self._back(order)
                return redirect("admin:fleet_customerorder_changelist")
        title = "Import trackers into a production run"
        return self.render_operation(
            request,
            obj=order,
            title=f'{title} (order "{order}")' if order else title,
            form=form,
            intro="Allocated trackers of the run's client become ACTIVE and are fetched "
            "while the run is live.",
            submit="Import",
        )

    def cancel_view(self, request, pk):
        order = self._order(request, pk)
        if request.method == "POST":
            try:
                count = services.order_cancel(order=order, user=request.user)
            except LifecycleError as exc:
                refused(request, exc)
            else:
                messages.success(
                    request, f'Order "{order}" cancelled; {count} trackers back in stock.'
                )
            return self._back(order)
        trackers = list(selectors.order_trackers(order=order))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f'Cancel order "{order}"?',
            "original": order,
            "trackers": trackers,
            # Only allocated trackers can go back to stock (services.order_cancel): say so
            # before offering a button that would be refused.
            "blocking": [t for t in trackers if t.lifecycle_state != Tracker.Lifecycle.ALLOCATED],
            "cancel_url": reverse("admin:fleet_order_cancel", args=[order.pk]),
        }
        return TemplateResponse(request, "admin/fleet/customerorder/cancel.html", context)
