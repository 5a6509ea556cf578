"""Admin for forecast runs: the run page draws actual history, forecast and interval, with monthly totals."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from finops.admin import OrganizationListFilter, OrganizationScopedAdmin
from forecasting.charts import forecast_chart_svg
from forecasting.models import ForecastRun
from forecasting.selectors import forecast_history_window, forecast_monthly
from ingest.selectors import usage_daily_tokens


@admin.register(ForecastRun)
class ForecastRunAdmin(OrganizationScopedAdmin):
    list_display = ["id", "organization", "status", "model_name", "horizon_days", "history_end", "finished_at"]
    list_filter = ["status", OrganizationListFilter]
    change_form_template = "admin/forecasting/forecastrun/change_form.html"
    readonly_fields = [
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
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if run is not None and run.status == ForecastRun.Status.SUCCEEDED:
            start, end = forecast_history_window(run=run)
            history = [
                (day, tokens)
                for day, tokens in usage_daily_tokens(organization=run.organization)
                if start is not None and end is not None and start <= day <= end
            ]
            points = [(p.date, p.tokens, p.tokens_lower, p.tokens_upper) for p in run.points.order_by("date")]
            extra["chart_svg"] = forecast_chart_svg(
                history=history,
                forecast=points,
                title=f"{run.organization.name}: daily tokens, actual and forecast ({run.model_name})",
                interval_label=f"{round(run.interval_width * 100)}% interval",
            )
            extra["monthly"] = forecast_monthly(run=run)
        return super().change_view(request, object_id, form_url, extra_context=extra)
