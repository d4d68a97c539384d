"""Webhook endpoints and their delivery log. Members read; client admins create, change and
delete. The signing secret is in the answer to the create, and never again."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action

from .. import selectors, services
from ..models import Event, WebhookDelivery, WebhookEndpoint
from .base import ClientOwnedSerializer, ScopedModelViewSet
from .pagination import PagePagination


class WebhookSerializer(ClientOwnedSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.Type.choices), min_length=1, max_length=10
    )
    failing_since = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Set when a delivery gave up after its retries; cleared by the next success.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "client",
            "url",
            "description",
            "event_types",
            "enabled",
            "failing_since",
            "created_at",
        ]
        read_only_fields = ["created_at"]

    def create(self, validated):
        created = services.webhook_create(user=self.context["request"].user, **validated)
        created.endpoint.signing_secret = created.secret
        return created.endpoint

    def update(self, endpoint, validated):
        return services.webhook_update(
            user=self.context["request"].user, endpoint=endpoint, **validated
        )


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        source="signing_secret",
        read_only=True,
        help_text="Signs every delivery (see the Webhook-Signature header). Shown only now.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    event = serializers.UUIDField(source="event_id")
    event_type = serializers.ChoiceField(source="event.type", choices=Event.Type.choices)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_type",
            "state",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class WebhookViewSet(ScopedModelViewSet):
    """Webhook endpoints of the caller's clients."""

    serializer_class = WebhookSerializer

    def get_base_queryset(self):
        return WebhookEndpoint.objects.order_by("created_at", "id")

    def get_serializer_class(self):
        return WebhookCreatedSerializer if self.action == "create" else WebhookSerializer

    @extend_schema(responses={status.HTTP_201_CREATED: WebhookCreatedSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def perform_destroy(self, endpoint):
        services.webhook_delete(user=self.request.user, endpoint=endpoint)

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=PagePagination)
    def deliveries(self, request, pk=None):
        """The delivery log of this endpoint, newest first."""
        endpoint = self.get_object()
        rows = selectors.webhook_delivery_list(user=request.user, endpoint=endpoint)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @property
    def extra_query_params(self):
        return ("limit", "offset") if self.action == "deliveries" else ()
