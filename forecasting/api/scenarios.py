"""Price-scenario endpoints: every member reads the organization's own price scenarios; analysts create, change
and delete them. A forecast run names one (``scenario``) next to the built-in conservative, base and aggressive.

The values are checked by the projection's own rules (``forecasting.projection.Scenario``), so a scenario the API
accepts is one a forecast can use.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from finops.permissions import organization_from_request
from finops.selectors import organizations_for_user
from forecasting import projection
from forecasting.models import ForecastRun, PriceScenario
from forecasting.services import SCENARIO_PARAMETERS as PARAMETERS
from forecasting.services import SCENARIO_WRITE_ROLE, price_scenario_delete, price_scenario_save

SCENARIO_NAME_MAX = ForecastRun._meta.get_field("scenario").max_length or 32


class PriceScenarioOutputSerializer(serializers.ModelSerializer[PriceScenario]):
    organization = serializers.CharField(source="organization.slug", read_only=True)

    class Meta:
        model = PriceScenario
        fields = ["id", "organization", "name", "description", *PARAMETERS]


def _drift(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(min_value=-0.99, max_value=10, required=False, help_text=help_text)


def _lag() -> serializers.FloatField:
    return serializers.FloatField(min_value=0, max_value=120, required=False, help_text="Months before the decline.")


def _factor() -> serializers.FloatField:
    return serializers.FloatField(
        min_value=1, max_value=1000, required=False, help_text="Times cheaper a year (1 = flat)."
    )


class PriceScenarioInputSerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False, help_text="On create: one of your organizations.")
    name = serializers.SlugField(
        max_length=SCENARIO_NAME_MAX,
        help_text=f"What a forecast run names; not one of the built-ins ({', '.join(projection.SCENARIOS)}).",
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    stay_annual_drift = _drift("Yearly change of a model's own price (-0.10 = falls 10% a year).")
    follow_tier_annual_drift = _drift("Yearly change of a vendor tier's price.")
    commodity_lag_months = _lag()
    commodity_annual_factor = _factor()
    mid_lag_months = _lag()
    mid_annual_factor = _factor()
    frontier_lag_months = _lag()
    frontier_annual_factor = _factor()
    elasticity = serializers.FloatField(
        min_value=0, max_value=10, required=False, help_text="Price elasticity of token demand (0 = none)."
    )

    def validate_name(self, value: str) -> str:
        if value in projection.SCENARIOS:
            raise serializers.ValidationError(f"{value!r} is a built-in scenario; choose another name")
        return value


class PriceScenarioFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")

    class Meta:
        model = PriceScenario
        fields = ["organization", "name"]


class PriceScenarioViewSet(ModelViewSet[PriceScenario]):
    """Your organizations' own price scenarios; analysts create, change and delete them."""

    serializer_class = PriceScenarioOutputSerializer
    filterset_class = PriceScenarioFilter
    ordering_fields = ["id", "name"]
    ordering = ["organization__slug", "name"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return PriceScenario.objects.filter(
            organization__in=organizations_for_user(user=self.request.user)
        ).select_related("organization")

    @extend_schema(request=PriceScenarioInputSerializer, responses={201: PriceScenarioOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PriceScenarioInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = organization_from_request(
            request, slug=data.validated_data.get("organization"), min_role=SCENARIO_WRITE_ROLE
        )
        scenario = price_scenario_save(
            scenario=PriceScenario(organization=organization), values=data.validated_data, actor=request.user
        )
        return Response(PriceScenarioOutputSerializer(scenario).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PriceScenarioInputSerializer, responses=PriceScenarioOutputSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        scenario = self.get_object()
        data = PriceScenarioInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        values = {key: value for key, value in data.validated_data.items() if key != "organization"}
        return Response(
            PriceScenarioOutputSerializer(
                price_scenario_save(scenario=scenario, values=values, actor=request.user)
            ).data
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        scenario = self.get_object()
        price_scenario_delete(scenario=scenario, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
