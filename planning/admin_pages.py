"""The finance pages of the admin: the dashboard on the admin index, and the model pages (the models the organization
used with their spend, and one model's spend by month, actual then forecast).

Loaded by ``planning/admin.py``. The index template (``admin/planning/dashboard_index.html``) draws the dashboard
through ``{% tokencast_dashboard %}``; the team and budget change pages get their chart from their own templates
(``admin/finops/team/change_form.html``, ``admin/planning/budget/change_form.html``). The model pages are served
under the ledger's admin (``/admin/ingest/ledgerentry/models/``): this module replaces the ledger's admin
registration with a subclass that adds them, as ``ingest.admin_reconciliation`` does for its page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from finops.selectors import FxRateMissing, organizations_for_user
from ingest.admin_reconciliation import LedgerEntryReconciliationAdmin
from ingest.models import LedgerEntry
from planning.charts import scope_spend_chart_svg
from planning.dashboard import (
    DEFAULT_PERIOD,
    PERIOD_LABELS,
    PERIODS,
    dashboard_organization,
    model_spend_table,
    model_usage_by,
    scope_monthly_spend,
    spend_dimensions,
)
from planning.models import Recommendation
from planning.selectors import budgets_for_user, recommendations_for_user

admin.site.index_template = "admin/planning/dashboard_index.html"


class LedgerEntryModelPagesAdmin(LedgerEntryReconciliationAdmin):
    """The ledger admin plus its model pages."""

    change_list_template = "admin/planning/ledgerentry/change_list.html"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        pages = [
            path("models/", view(self.models_view), name="ingest_ledgerentry_models"),
            path("models/<path:model>/", view(self.model_view), name="ingest_ledgerentry_model"),
        ]
        return [*pages, *super().get_urls()]

    def _page_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        organization = dashboard_organization(user=request.user, slug=request.GET.get("organization", ""))
        period = request.GET.get("period", DEFAULT_PERIOD)
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "organizations": list(organizations_for_user(user=request.user).order_by("slug")),
            "organization": organization,
            "currency": organization.reporting_currency if organization is not None else "",
            "period": period if period in PERIODS else DEFAULT_PERIOD,
            "periods": list(PERIOD_LABELS.items()),
        }

    def models_view(self, request: HttpRequest) -> HttpResponse:
        """The models of one of the user's organizations, with their routes, tokens and cost over the period."""
        context = self._page_context(request, "Models by spend")
        organization = context["organization"]
        if organization is not None:
            try:
                context["rows"] = model_spend_table(organization=organization, months_back=PERIODS[context["period"]])
            except FxRateMissing as error:  # a cost in a currency with no rate to the reporting currency
                context["problem"] = f"Spend cannot be shown in {organization.reporting_currency}: {error}."
        return TemplateResponse(request, "admin/planning/model_list.html", context)

    def model_view(self, request: HttpRequest, model: str) -> HttpResponse:
        """One model of the organization: its spend by month (actual, then forecast with its band), by team and by
        route, and its budgets and open recommendations. 404 for a model the organization's ledger lacks."""
        context = self._page_context(request, f"Model {model}")
        organization = context["organization"]
        months_back = PERIODS[context["period"]]
        context["model"] = model
        if organization is None:
            raise Http404("you are not a member of any organization")
        try:
            if model not in spend_dimensions(organization=organization)["model"]:
                raise Http404(f"no usage of model {model!r} in this organization")
            spend = scope_monthly_spend(organization=organization, model=model, months_back=months_back)
            by_team = model_usage_by(organization=organization, model=model, by="team", months_back=months_back)
            by_provider = model_usage_by(organization=organization, model=model, by="provider", months_back=months_back)
        except FxRateMissing as error:  # a cost in a currency with no rate to the reporting currency
            context["problem"] = f"Spend cannot be shown in {organization.reporting_currency}: {error}."
            return TemplateResponse(request, "admin/planning/model_detail.html", context)
        title = f"{organization.name}, model {model}: spend by month, actual and forecast"
        context.update(
            {
                "panel": {"spend": spend, "chart_svg": scope_spend_chart_svg(spend, title=title)},
                "by_team": by_team,
                "by_provider": by_provider,
                "budgets": budgets_for_user(user=request.user).filter(organization=organization, model=model),
                "recommendations": recommendations_for_user(user=request.user).filter(
                    organization=organization, model=model, status=Recommendation.Status.OPEN
                ),
            }
        )
        return TemplateResponse(request, "admin/planning/model_detail.html", context)


admin.site.unregister(LedgerEntry)
admin.site.register(LedgerEntry, LedgerEntryModelPagesAdmin)
