"""Template tags of the finance pages: ``{% tokencast_dashboard as dash %}`` on the admin index, and the spend panels
of the team and budget change pages. They read the request (user, query parameters), call ``planning.dashboard``
and draw the chart; what they show is scoped to the organizations the user belongs to."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from finops.models import Team
from finops.selectors import organizations_for_user
from planning.charts import scope_spend_chart_svg
from planning.dashboard import budget_monthly_amount, budget_spend, dashboard_for, scope_monthly_spend
from planning.models import Budget

register = template.Library()


def _visible(context: template.Context, organization_id: int) -> bool:
    request = context.get("request")
    if request is None:
        return False
    return organizations_for_user(user=request.user).filter(pk=organization_id).exists()


@register.simple_tag(takes_context=True)
def tokencast_dashboard(context: template.Context) -> dict[str, Any]:
    """The dashboard of the organization in ``?organization=`` (else the user's first), narrowed by ``?team=``,
    ``?provider=``, ``?model=`` and ``?period=``, with its chart."""
    request = context["request"]
    dashboard = dashboard_for(
        user=request.user, organization_slug=request.GET.get("organization", ""), params=request.GET
    )
    chart = ""
    if dashboard.organization is not None and dashboard.spend is not None:
        scope = ", ".join(
            value for value in (dashboard.filters.team, dashboard.filters.provider, dashboard.filters.model) if value
        )
        title = f"{dashboard.organization.name}{f' ({scope})' if scope else ''}: spend by month, actual and forecast"
        chart = scope_spend_chart_svg(dashboard.spend, title=title)
    return {"data": dashboard, "chart_svg": chart}


@register.simple_tag(takes_context=True)
def team_spend_panel(context: template.Context, team: Team | None) -> dict[str, Any] | None:
    """A team's monthly spend, actual then forecast, with its chart (None for a team the user may not see)."""
    if team is None or team.pk is None or not _visible(context, team.organization_id):
        return None
    spend = scope_monthly_spend(organization=team.organization, team=team.name)
    title = f"{team.organization.name}, team {team.name}: spend by month, actual and forecast"
    return {"spend": spend, "chart_svg": scope_spend_chart_svg(spend, title=title)}


@register.simple_tag(takes_context=True)
def budget_spend_panel(context: template.Context, budget: Budget | None) -> dict[str, Any] | None:
    """A budget scope's monthly spend with its chart and the budget's status this period (None for a budget the
    user may not see)."""
    if budget is None or budget.pk is None or not _visible(context, budget.organization_id):
        return None
    spend, line = budget_spend(budget=budget)
    monthly_amount = budget_monthly_amount(budget=budget, currency=spend.currency, on=timezone.localdate())
    title = f"{budget.name} ({budget.scope_label()}): spend by month, actual and forecast"
    return {
        "spend": spend,
        "line": line,
        "monthly_amount": monthly_amount,
        "chart_svg": scope_spend_chart_svg(spend, title=title, budget=monthly_amount),
    }


@register.filter
def percent(value: float | None) -> str:
    """0.1234 -> '12.3%'."""
    return "" if value is None else f"{value * 100:.1f}%"


@register.filter
def money(value: Any) -> str:
    """1234.5 -> '1,234.50'; None -> a dash."""
    return "\N{EN DASH}" if value is None else f"{value:,.2f}"


@register.filter
def state_label(value: str) -> str:
    """A budget state as read: 'at_risk' -> 'at risk'."""
    return value.replace("_", " ")
