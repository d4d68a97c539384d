"""Admin forms for the fleet operations. They only collect input; the services decide."""

from django import forms
from django.conf import settings
from django.utils import timezone

from tracking.models import ProductionRun

from .models import CustomerOrder

ADMIN_MAX_KEYS = 100_000  # generated synchronously in the request: a few seconds at most


def nothing_given(*choices: str) -> forms.ValidationError:
    """An empty submit: one wording for every form."""
    return forms.ValidationError(f"Nothing was given: {', or '.join(choices)}.")


def not_both(first: str, second: str) -> forms.ValidationError:
    """Two inputs of which exactly one is wanted: one wording for every form."""
    return forms.ValidationError(f"Give {first} or {second}, not both.")


class MacListForm(forms.Form):
    """A MAC list as an uploaded file (CSV or text) or pasted from a barcode scanner."""

    macs_file = forms.FileField(label="File", required=False, help_text="CSV or plain text.")
    macs_text = forms.CharField(
        label="or paste",
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 40, "autofocus": True}),
        help_text="One MAC per line, or separated by commas or semicolons; any spelling "
        "(AA:BB:CC:DD:EE:FF, aa-bb-..., aabbccddeeff).",
    )
    macs_required = True

    def clean(self):
        data = super().clean()
        upload, text = data.get("macs_file"), (data.get("macs_text") or "").strip()
        if upload and text:
            raise not_both("a file", "a pasted list")
        if upload and upload.size > settings.UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1_000_000:,.1f} MB, larger than the limit of "
                f"{settings.UPLOAD_MAX_BYTES / 1_000_000:g} MB. Split it into smaller files."
            )
        data["macs"] = upload.read() if upload else (text or None)
        if self.macs_required and data["macs"] is None:
            raise nothing_given("upload a file or paste MAC addresses")
        return data


class GenerateKeysForm(forms.Form):
    batch_name = forms.CharField(max_length=100, label="Batch name")
    count = forms.IntegerField(min_value=1, max_value=ADMIN_MAX_KEYS, initial=1000)


class AllocateForm(MacListForm):
    count = forms.IntegerField(
        min_value=1, required=False, help_text="Or take this many trackers from stock."
    )
    macs_required = False

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("macs") is None and data.get("count") is None:
            raise nothing_given("upload or paste MAC addresses", "give a count")
        if data.get("macs") is not None and data.get("count") is not None:
            raise not_both("MAC addresses", "a count")
        return data


class ImportForm(MacListForm):
    production_run = forms.ModelChoiceField(queryset=ProductionRun.objects.none())
    whole_order = forms.BooleanField(
        required=False, label="Every tracker of this order waiting for import"
    )
    macs_required = False

    def __init__(self, *args, order=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        runs = ProductionRun.objects.filter(ends_at__gte=timezone.now()).select_related(
            "brand__client"
        )
        if order is not None:
            runs = runs.filter(brand__client=order.client)
        else:
            del self.fields["whole_order"]
        self.fields["production_run"].queryset = runs
        self.fields["production_run"].label_from_instance = lambda run: (
            f"{run.brand.client} / {run.brand} / {run.name}"
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        whole_order = bool(data.get("whole_order"))
        if data.get("macs") is None and not whole_order:
            choices = ["upload or paste MAC addresses"]
            if "whole_order" in self.fields:
                choices.append("tick the whole order")
            raise nothing_given(*choices)
        if data.get("macs") is not None and whole_order:
            raise not_both("MAC addresses", "the whole order")
        return data


class CustomerOrderAddForm(forms.ModelForm):
    """The reference is stored stripped (services.order_create), so it is compared stripped:
    a duplicate is an error on the field, not a refusal after the form was accepted."""

    class Meta:
        model = CustomerOrder
        fields = ["client", "reference", "quantity"]

    def clean_reference(self):
        return self.cleaned_data["reference"].strip()
