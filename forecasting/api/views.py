"""Forecast endpoints: queue a run (202), read the latest run with daily and monthly figures."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from finops.models import Organization, Role
from finops.permissions import organization_from_request
from forecasting.models import ForecastPoint, ForecastRun
from forecasting.selectors import forecast_latest, forecast_monthly, forecast_runs_for_user
from forecasting.services import forecast_run_create


class ForecastInputSerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False)
    horizon_days = serializers.IntegerField(min_value=1, max_value=730, default=180)
    interval_width = serializers.FloatField(min_value=0.5, max_value=0.99, default=0.8)


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
            "scope",
            "horizon_days",
            "interval_width",
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


class ForecastRunDetailSerializer(ForecastRunSerializer):
    points = ForecastPointSerializer(many=True, read_only=True)
    monthly = serializers.SerializerMethodField()

    class Meta(ForecastRunSerializer.Meta):
        fields = [*ForecastRunSerializer.Meta.fields, "monthly", "points"]

    def get_monthly(self, run: ForecastRun) -> list[dict[str, object]]:
        return [
            {
                key: (str(value) if key.startswith("cost") and value is not None else value)
                for key, value in month.items()
            }
            for month in forecast_monthly(run=run)
        ]


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
        run = forecast_run_create(
            organization=organization,
            horizon_days=data.validated_data["horizon_days"],
            interval_width=data.validated_data["interval_width"],
            user=request.user,
        )
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
