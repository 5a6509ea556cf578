"""Forecast endpoints: queue a run or a what-if (202), read runs with their levels, series, backtests and
comparisons."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from finops.api.caching import cached_answer
from finops.api.fields import MoneyField
from finops.api.pagination import ApiPagination
from finops.api.throttling import FORECAST_CREATE_SCOPE, AnonThrottle, CreateThrottle, UserThrottle
from finops.models import Organization, Role
from finops.permissions import organization_from_request
from forecasting import projection
from forecasting.models import ForecastMonth, ForecastPoint, ForecastRun, ForecastSeries
from forecasting.selectors import (
    forecast_compare,
    forecast_latest,
    forecast_latest_version,
    forecast_levels,
    forecast_monthly,
    forecast_runs_for_user,
)
from forecasting.services import forecast_run_create


class ForecastInputSerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False)
    horizon_days = serializers.IntegerField(min_value=1, max_value=730, default=365)
    interval_width = serializers.FloatField(min_value=0.5, max_value=0.99, default=0.8)
    scenario = serializers.CharField(
        default="base",
        max_length=ForecastRun._meta.get_field("scenario").max_length,
        help_text=f"A built-in price scenario ({', '.join(projection.SCENARIOS)}) or the name of one of the "
        "organization's own (GET /api/v1/scenarios/).",
    )
    policy = serializers.ChoiceField(
        choices=list(projection.POLICIES),
        default=projection.STAY,
        help_text="Migration policy: stay on the model, follow the vendor's tier, or move to the cheapest model "
        "at the same quality bar.",
    )
    baseline = serializers.IntegerField(required=False, help_text="For a what-if: the run to re-price.")
    what_if = serializers.JSONField(
        required=False,
        help_text='e.g. {"switch": {"from_model": "gpt-4o", "to_model": "gpt-4.1-mini"}, "batch_share": 0.3, '
        '"cached_input_share": 0.5}',
    )


class ForecastSeriesSerializer(serializers.ModelSerializer[ForecastSeries]):
    class Meta:
        model = ForecastSeries
        fields = ["id", *ForecastSeries.PUBLIC_FIELDS]


class ForecastPointSerializer(serializers.ModelSerializer[ForecastPoint]):
    cost = MoneyField(allow_null=True)
    cost_lower = MoneyField(allow_null=True)
    cost_upper = MoneyField(allow_null=True)

    class Meta:
        model = ForecastPoint
        fields = ["date", "tokens", "tokens_lower", "tokens_upper", "cost", "cost_lower", "cost_upper"]


class ForecastMonthSerializer(serializers.Serializer[dict[str, Any]]):
    """A month of one level and key of a run (costs in USD)."""

    month = serializers.CharField(help_text="YYYY-MM")
    days = serializers.IntegerField()
    tokens = serializers.IntegerField()
    tokens_lower = serializers.IntegerField()
    tokens_upper = serializers.IntegerField()
    tokens_by_type = serializers.DictField(child=serializers.IntegerField())
    tokens_intervals = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()), help_text='{"50": [lower, upper], ...}'
    )
    cost = MoneyField(allow_null=True)
    cost_lower = MoneyField(allow_null=True)
    cost_upper = MoneyField(allow_null=True)
    cost_intervals = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    unpriced_tokens = serializers.IntegerField()


class ForecastLevelMonthSerializer(ForecastMonthSerializer):
    level = serializers.ChoiceField(choices=ForecastMonth.Level.choices)
    key = serializers.CharField(help_text='e.g. "Search" for a team, "Search | gpt-4o" for team x model; "" for all.')

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        fields = super().get_fields()
        return {
            name: fields[name] for name in ["level", "key", *(name for name in fields if name not in ("level", "key"))]
        }


class ForecastMonthsOutputSerializer(serializers.Serializer[dict[str, Any]]):
    run = serializers.IntegerField()
    results = ForecastLevelMonthSerializer(many=True)


class ForecastCompareRowSerializer(serializers.Serializer[dict[str, Any]]):
    key = serializers.CharField()
    month = serializers.CharField(help_text="YYYY-MM")
    tokens_a = serializers.IntegerField(allow_null=True)
    tokens_b = serializers.IntegerField(allow_null=True)
    tokens_change = serializers.IntegerField(allow_null=True)
    cost_a = MoneyField(allow_null=True)
    cost_b = MoneyField(allow_null=True)
    cost_change = MoneyField(allow_null=True)


class ForecastCompareOutputSerializer(serializers.Serializer[dict[str, Any]]):
    a = serializers.IntegerField()
    b = serializers.IntegerField()
    level = serializers.CharField()
    months = ForecastCompareRowSerializer(many=True)


class ForecastRunSerializer(serializers.ModelSerializer[ForecastRun]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = ForecastRun
        fields = [
            "id",
            "organization",
            "status",
            "trigger",
            "scenario",
            "policy",
            "holiday_country",
            "what_if",
            "baseline",
            "horizon_days",
            "interval_width",
            "series_total",
            "series_done",
            "series_failed",
            "backtest",
            "model_name",
            "model_reason",
            "history_start",
            "history_end",
            "history_days",
            "cost_per_million_tokens",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


def _months(months: list[dict[str, Any]]) -> list[dict[str, Any]]:
    serializer: Any = ForecastMonthSerializer(months, many=True)  # type: ignore[arg-type]  # many=True takes a list
    return list(serializer.data)


@extend_schema_field(
    {
        "type": "object",
        "description": "Per level (provider, team, model, team_model), per key: the months.",
        "additionalProperties": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"$ref": "#/components/schemas/ForecastMonth"}},
        },
    }
)
class ForecastLevelsField(serializers.Field):  # type: ignore[type-arg]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, run: ForecastRun) -> dict[str, dict[str, list[dict[str, Any]]]]:
        return {
            level: {key: _months(months) for key, months in keys.items()}
            for level, keys in forecast_levels(run=run).items()
            if level != ForecastMonth.Level.ORGANIZATION
        }


class ForecastRunDetailSerializer(ForecastRunSerializer):
    points = ForecastPointSerializer(many=True, read_only=True)
    monthly = serializers.SerializerMethodField()
    levels = ForecastLevelsField()

    class Meta(ForecastRunSerializer.Meta):
        fields = [*ForecastRunSerializer.Meta.fields, "monthly", "levels", "points"]

    @extend_schema_field(ForecastMonthSerializer(many=True))
    def get_monthly(self, run: ForecastRun) -> list[dict[str, Any]]:
        """The organization total per month."""
        return _months(forecast_monthly(run=run))


class ForecastRunFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")

    class Meta:
        model = ForecastRun
        fields = ["organization", "status", "trigger", "scenario", "policy"]


def _level(request: Request) -> str:
    level = request.query_params.get("level", ForecastMonth.Level.ORGANIZATION)
    if level not in ForecastMonth.Level.values:
        raise ValidationError({"level": f"unknown level {level!r}; use {', '.join(ForecastMonth.Level.values)}"})
    return level


LEVEL_PARAMETER = OpenApiParameter(
    "level", str, enum=ForecastMonth.Level.values, description="The level of the months (default: organization)."
)
ORGANIZATION_PARAMETER = OpenApiParameter(
    "organization", str, description="An organization's slug; may be left out by members of one organization."
)


class ForecastRunViewSet(ReadOnlyModelViewSet[ForecastRun]):
    """Forecast runs of your organizations. POST to queue one (analysts); GET latest/ for the newest result."""

    filterset_class = ForecastRunFilter
    ordering_fields = ["id", "created_at", "finished_at", "status"]
    throttle_classes = [UserThrottle, AnonThrottle, CreateThrottle]
    throttle_scope = FORECAST_CREATE_SCOPE

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return forecast_runs_for_user(user=self.request.user)

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        return ForecastRunDetailSerializer if self.action in ("retrieve", "latest") else ForecastRunSerializer

    @extend_schema(request=ForecastInputSerializer, responses={202: ForecastRunSerializer})
    def create(self, request: Request) -> Response:
        data = ForecastInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = organization_from_request(
            request, slug=data.validated_data.get("organization"), min_role=Role.ANALYST
        )
        baseline = None
        if "baseline" in data.validated_data:
            baseline = ForecastRun.objects.filter(organization=organization, pk=data.validated_data["baseline"]).first()
            if baseline is None:
                raise ValidationError({"baseline": f"no run #{data.validated_data['baseline']} in {organization.slug}"})
        try:
            run = forecast_run_create(
                organization=organization,
                horizon_days=data.validated_data["horizon_days"],
                interval_width=data.validated_data["interval_width"],
                scenario=data.validated_data["scenario"],
                policy=data.validated_data["policy"],
                what_if=data.validated_data.get("what_if") or None,
                baseline=baseline,
                user=request.user,
            )
        except ValueError as error:
            raise ValidationError({"detail": str(error)}) from error
        run.refresh_from_db()
        return Response(ForecastRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER], responses=ForecastRunDetailSerializer)
    @action(detail=False, methods=["get"])
    def latest(self, request: Request) -> Response:
        organization = organization_from_request(request, slug=request.query_params.get("organization"))
        version = forecast_latest_version(organization=organization)
        if version is None:
            raise NotFound(f"no finished forecast for {organization.slug} yet")

        def build() -> Response:
            run = forecast_latest(organization=organization)
            if run is None:  # deleted since
                raise NotFound(f"no finished forecast for {organization.slug} yet")
            return Response(ForecastRunDetailSerializer(run).data)

        # A finished run never changes: its answer, the same for every member, is cached under its id and finish time.
        return cached_answer(  # type: ignore[return-value]
            request, version=version, build=build, audience=f"organization:{organization.pk}"
        )

    @extend_schema(responses=ForecastSeriesSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def series(self, request: Request, pk: str | None = None) -> Response:
        """Every series of the run (a page of them): the model that served it and why, its backtest metrics, or its
        error."""
        run = self.get_object()
        paginator = ApiPagination()
        page = paginator.paginate_queryset(
            run.series.order_by("provider", "team", "model", "token_type"), request, view=self
        )
        return paginator.get_paginated_response(ForecastSeriesSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("with", int, required=True, description="The other run (b)."), LEVEL_PARAMETER],
        responses=ForecastCompareOutputSerializer,
    )
    @action(detail=True, methods=["get"])
    def compare(self, request: Request, pk: str | None = None) -> Response:
        """This run (a) and another run (b) side by side per month, e.g. this month's forecast vs last month's."""
        run = self.get_object()
        other_id = request.query_params.get("with", "")
        other = self.get_queryset().filter(pk=other_id).first() if other_id.isdigit() else None
        if other is None:
            raise NotFound(f"no run {other_id!r} among yours to compare with")
        level = _level(request)
        rows = forecast_compare(run=run, other=other, level=level)
        return Response(
            ForecastCompareOutputSerializer({"a": run.pk, "b": other.pk, "level": level, "months": rows}).data
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("level", str, enum=ForecastMonth.Level.values, description="Only this level."),
            OpenApiParameter("key", str, description="Only this key of the level (a team, a model ...)."),
        ],
        responses=ForecastMonthsOutputSerializer,
    )
    @action(detail=True, methods=["get"])
    def months(self, request: Request, pk: str | None = None) -> Response:
        """The run's months at every level (or one), one row per level, key and month: the table to export with
        ``?format=csv`` or ``?format=xlsx``."""
        run = self.get_object()
        level = _level(request) if "level" in request.query_params else None
        key = request.query_params.get("key")
        rows = [
            {"level": each_level, "key": each_key, **month}
            for each_level, keys in forecast_levels(run=run).items()
            if level is None or each_level == level
            for each_key, months in keys.items()
            if key is None or each_key == key
            for month in months
        ]
        return Response(ForecastMonthsOutputSerializer({"run": run.pk, "results": rows}).data)
