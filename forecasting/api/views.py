"""Forecast endpoints: queue a run or a what-if (202), read runs with their levels, series, backtests and
comparisons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from finops.models import Organization, Role
from finops.permissions import organization_from_request
from forecasting.models import ForecastPoint, ForecastRun, ForecastSeries
from forecasting.selectors import (
    forecast_compare,
    forecast_latest,
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
        default="base", help_text="conservative, base, aggressive, or one of the organization's own scenarios"
    )
    policy = serializers.ChoiceField(choices=["stay", "follow_tier", "cheapest_at_bar"], default="stay")
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
    class Meta:
        model = ForecastPoint
        fields = ["date", "tokens", "tokens_lower", "tokens_upper", "cost", "cost_lower", "cost_upper"]


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


def _jsonable(months: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {key: (str(value) if isinstance(value, Decimal) else value) for key, value in month.items()} for month in months
    ]


class ForecastRunDetailSerializer(ForecastRunSerializer):
    points = ForecastPointSerializer(many=True, read_only=True)
    monthly = serializers.SerializerMethodField()
    levels = serializers.SerializerMethodField()

    class Meta(ForecastRunSerializer.Meta):
        fields = [*ForecastRunSerializer.Meta.fields, "monthly", "levels", "points"]

    def get_monthly(self, run: ForecastRun) -> list[dict[str, Any]]:
        """The organization total per month."""
        return _jsonable(forecast_monthly(run=run))

    def get_levels(self, run: ForecastRun) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Every level (provider, team, model, team_model) per key and month."""
        return {
            level: {key: _jsonable(months) for key, months in keys.items()}
            for level, keys in forecast_levels(run=run).items()
            if level != "organization"
        }


class ForecastRunViewSet(ReadOnlyModelViewSet[ForecastRun]):
    """Forecast runs of your organizations. POST to queue one; GET latest/ for the newest result."""

    filterset_fields = ["status"]

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

    @extend_schema(responses=ForecastRunDetailSerializer)
    @action(detail=False, methods=["get"])
    def latest(self, request: Request) -> Response:
        organization = organization_from_request(request, slug=request.query_params.get("organization"))
        run = forecast_latest(organization=organization)
        if run is None:
            raise NotFound(f"no finished forecast for {organization.slug} yet")
        return Response(ForecastRunDetailSerializer(run).data)

    @extend_schema(responses=ForecastSeriesSerializer(many=True))
    @action(detail=True, methods=["get"])
    def series(self, request: Request, pk: str | None = None) -> Response:
        """Every series of the run: the model that served it and why, its backtest metrics, or its error."""
        run = self.get_object()
        return Response(
            ForecastSeriesSerializer(run.series.order_by("provider", "team", "model", "token_type"), many=True).data
        )

    @extend_schema(parameters=[OpenApiParameter("with", int, required=True), OpenApiParameter("level", str)])
    @action(detail=True, methods=["get"])
    def compare(self, request: Request, pk: str | None = None) -> Response:
        """This run (a) and another run (b) side by side per month, e.g. this month's forecast vs last month's."""
        run = self.get_object()
        other_id = request.query_params.get("with", "")
        other = self.get_queryset().filter(pk=other_id).first() if other_id.isdigit() else None
        if other is None:
            raise NotFound(f"no run {other_id!r} among yours to compare with")
        level = request.query_params.get("level", "organization")
        rows = forecast_compare(run=run, other=other, level=level)
        return Response({"a": run.pk, "b": other.pk, "level": level, "months": _jsonable(rows)})
