"""Partner API of fleet: the client's own orders, read only."""

from __future__ import annotations

from rest_framework import serializers

from tracking.api.base import ScopedViewSet

from . import selectors
from .models import CustomerOrder


class OrderSerializer(serializers.ModelSerializer):
    allocated = serializers.IntegerField(help_text="Trackers allocated to the order now.")

    class Meta:
        model = CustomerOrder
        fields = ["id", "reference", "client", "quantity", "allocated", "status", "created_at"]


class OrderViewSet(ScopedViewSet):
    serializer_class = OrderSerializer

    def get_queryset(self):
        return selectors.order_list(user=self.request.user).order_by("-created_at", "-id")
