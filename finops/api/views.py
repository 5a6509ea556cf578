"""API views of the core domain: the caller's organizations."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.generics import ListAPIView

from finops.models import Organization
from finops.selectors import organizations_for_user


class OrganizationOutputSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["slug", "name", "reporting_currency", "holiday_country"]


class OrganizationListView(ListAPIView[Organization]):
    """The organizations the caller belongs to."""

    serializer_class = OrganizationOutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return organizations_for_user(user=self.request.user)
