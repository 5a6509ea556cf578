"""Admin for forecast runs: history, forecast and interval chart, monthly totals per level with 50/80/95%
intervals, backtests ("how good have these forecasts been") and every series with the model that served it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from finops.admin import OrganizationListFilter, RoleScopedAdmin, SharedDataAdmin, save_through_service
from finops.models import Role
from forecasting.admin_start import forecast_start_urls
from forecasting.charts import forecast_chart_svg
from forecasting.models import ForecastRun, ForecastSeries, PriceScenario, PriceTrendFit
from forecasting.selectors import forecast_history_window, forecast_levels, forecast_monthly
from forecasting.services import price_scenario_delete, price_scenario_save
from ingest.selectors import usage_daily_tokens


@admin.register(ForecastRun)
class ForecastRunAdmin(RoleScopedAdmin):
    """Runs are started by analysts (the start page or the API), read by every member, deleted by admins."""

    write_role = Role.ANALYST
    delete_role = Role.ADMIN
    list_display = [
        "id",
        "organization",
        "status",
        "trigger",
        "scenario",
        "policy",
        "progress",
        "horizon_days",
        "history_end",
        "finished_at",
    ]
    list_filter = ["status", "trigger", "scenario", OrganizationListFilter]
    change_form_template = "admin/forecasting/forecastrun/change_form.html"
    readonly_fields = [
        "organization",
        "status",
        "trigger",
        "scenario",
        "policy",
        "holiday_country",
        "what_if",
        "baseline",
        "progress",
        "backtest",
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

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="series done")
    def progress(self, run: ForecastRun) -> str:
        failed = f", {run.series_failed} failed" if run.series_failed else ""
        return f"{run.series_done}/{run.series_total}{failed}"

    def get_urls(self) -> list[Any]:
        return [*forecast_start_urls(self), *super().get_urls()]

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
            extra["levels"] = {
                level: keys for level, keys in forecast_levels(run=run).items() if level != "organization"
            }
            extra["series"] = run.series.order_by("-kind", "provider", "team", "model", "token_type")
        return super().change_view(request, object_id, form_url, extra_context=extra)


@admin.register(ForecastSeries)
class ForecastSeriesAdmin(RoleScopedAdmin):
    organization_field = "run__organization"
    list_display = ["run", "provider", "team", "model", "token_type", "status", "model_name", "history_days"]
    list_filter = ["status", "model_name", "token_type"]
    search_fields = ["model", "team", "provider"]
    exclude = ["history", "forecast"]
    readonly_fields = ["run", *ForecastSeries.PUBLIC_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PriceScenario)
class PriceScenarioAdmin(RoleScopedAdmin):
    """An organization's own price scenarios (analysts edit them); runs use them by name, like the built-in
    three."""

    write_role = Role.ANALYST

    list_display = [
        "name",
        "organization",
        "stay_annual_drift",
        "follow_tier_annual_drift",
        "mid_annual_factor",
        "elasticity",
    ]
    list_filter = [OrganizationListFilter]

    def save_model(self, request: HttpRequest, obj: PriceScenario, form: Any, change: bool) -> None:
        save_through_service(request, form, lambda: price_scenario_save(scenario=obj, values={}, actor=request.user))

    def delete_model(self, request: HttpRequest, obj: PriceScenario) -> None:
        price_scenario_delete(scenario=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PriceScenario]) -> None:
        for scenario in queryset.select_related("organization"):
            price_scenario_delete(scenario=scenario, actor=request.user)


@admin.register(PriceTrendFit)
class PriceTrendFitAdmin(SharedDataAdmin):
    """Decline rates fitted from the price history (``manage.py fit_price_trends``) next to the published ones."""

    list_display = [
        "bar_model",
        "bar_score",
        "tier",
        "fitted",
        "published_base_factor",
        "n_points",
        "window_start",
        "window_end",
        "cheapest_model_changes",
        "shrinkage_applied",
        "fitted_at",
    ]
    list_filter = ["tier", "score_name"]

    @admin.display(description="fitted x/yr (90% CI)")
    def fitted(self, fit: PriceTrendFit) -> str:
        return f"{fit.annual_factor:.1f} ({fit.ci90_low:.1f}-{fit.ci90_high:.1f})"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
