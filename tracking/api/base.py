"""The partner API's base classes: scoping, strict query parameters, capped pages, errors.

Every viewset of every app derives from ScopedViewSet (read) or ScopedModelViewSet (write),
so tenancy, paging and the error shape are decided here once.
"""

from __future__ import annotations

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.renderers import JSONRenderer

from ..models import Client
from .errors import QueryParameterError
from .pagination import PagePagination


class GeoJSONRenderer(JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, with its refusals reported as query parameter errors."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise QueryParameterError(
                {name: [str(m) for m in messages] for name, messages in filterset.errors.items()}
            )
        return filterset.qs


class StrictQueryMixin:
    """A query parameter the endpoint does not know is a 400, never silently ignored."""

    extra_query_params: tuple[str, ...] = ()

    def known_query_params(self) -> set[str]:
        known = set(self.extra_query_params)
        paginator = getattr(self, "paginator", None)
        if paginator is not None and self.action == "list":
            known |= {p["name"] for p in paginator.get_schema_operation_parameters(self)}
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None and self.action == "list":
            known |= set(filterset_class.base_filters)
        if any(r.format == "geojson" for r in self.renderer_classes):
            known.add("format")
        return known

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except (Http404, exceptions.NotFound):  # DRF's answer to an unknown ?format=
            formats = sorted(r.format for r in self.get_renderers())
            raise QueryParameterError({"format": [f"One of: {', '.join(formats)}."]}) from None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(self, "action", None) is None:
            return  # a method the endpoint does not have: DRF answers 405 next
        unknown = sorted(set(request.query_params) - self.known_query_params())
        if unknown:
            raise QueryParameterError({name: ["Unknown parameter."] for name in unknown})
        empty = sorted(
            name for name, values in request.query_params.lists() if not all(v for v in values)
        )
        if empty:
            raise QueryParameterError({name: ["Give a value or leave it out."] for name in empty})


class ScopedViewSet(StrictQueryMixin, viewsets.ReadOnlyModelViewSet):
    """Every API queryset goes through visible_to(user): another client's object is a 404.

    Subclasses set `queryset` or override `get_base_queryset` (a selector call)."""

    queryset = None
    renderer_classes = [JSONRenderer]
    pagination_class = PagePagination
    filter_backends = [StrictFilterBackend]

    def get_base_queryset(self):
        return self.queryset.all()

    def get_queryset(self):
        return self.get_base_queryset().visible_to(self.request.user)


class AdministeredClientField(serializers.PrimaryKeyRelatedField):
    """The client a new object belongs to: one the caller administers (another client's id
    is "does not exist"); fixed once the object exists."""

    def get_queryset(self):
        request = self.context.get("request")
        return Client.objects.administered_by(getattr(request, "user", None))


class ClientOwnedSerializer(serializers.ModelSerializer):
    """`client` may be left out by a caller who administers exactly one client."""

    client = AdministeredClientField(
        required=False,
        help_text="The client it belongs to; may be left out by admins of one client.",
    )

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["client"].read_only = True
        return fields

    def validate(self, attrs):
        if self.instance is None and "client" not in attrs:
            clients = list(Client.objects.administered_by(self.context["request"].user)[:2])
            if len(clients) != 1:
                raise serializers.ValidationError({"client": "Say which client it belongs to."})
            attrs["client"] = clients[0]
        return attrs


class ScopedModelViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ScopedViewSet,
):
    """Read for every member; writes for the client's admins. Another client's object stays a
    404; a viewer's write to their own client's object is a 403."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request, *args, **kwargs):
        if not Client.objects.administered_by(request.user).exists():
            raise exceptions.PermissionDenied("Only a client admin may create this.")
        return super().create(request, *args, **kwargs)

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            model = type(obj)
            if not model.objects.administered_by(self.request.user).filter(pk=obj.pk).exists():
                raise exceptions.PermissionDenied("Only an admin of this client may change it.")
        return obj


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    enum=["json", "geojson"],
    description="`geojson` answers a GeoJSON FeatureCollection (application/geo+json).",
)
