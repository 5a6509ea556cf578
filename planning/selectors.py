"""Reads of the planning app: budgets, alerts and recommendations scoped to the caller, and a budget's status for
any period (actual to date, the forecast of the rest with its 80% interval and overrun probability read off the
run's sampled paths, the projected breach date and how its children add up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.utils import timezone

from finops.selectors import FxTable, fx_table, organizations_for_user
from forecasting.models import ForecastRun
from forecasting.selectors import ScopeOutlook, forecast_latest, forecast_scope_outlook
from ingest.selectors import usage_daily_scope, usage_last_day
from planning import budget_math
from planning.models import Alert, Budget, Recommendation

CENT = Decimal("0.01")


def budgets_for_user(*, user: User | AnonymousUser) -> QuerySet[Budget]:
    """Budgets of every organization the user belongs to."""
    return (
        Budget.objects.filter(organization__in=organizations_for_user(user=user))
        .select_related("organization", "team")
        .prefetch_related("owners__user")
    )


def alerts_for_user(*, user: User | AnonymousUser) -> QuerySet[Alert]:
    """Alerts of every organization the user belongs to."""
    return Alert.objects.filter(organization__in=organizations_for_user(user=user)).select_related(
        "organization", "budget"
    )


def recommendations_for_user(*, user: User | AnonymousUser) -> QuerySet[Recommendation]:
    """Recommendations of every organization the user belongs to."""
    return Recommendation.objects.filter(organization__in=organizations_for_user(user=user)).select_related(
        "organization"
    )


@dataclass
class BudgetStatus:
    """A budget's period: amounts in the budget's currency (2 decimals), how sure the forecast is, and where it
    stands among its parent and children."""

    budget: Budget
    period_start: date
    period_end: date
    amount: Decimal
    currency: str
    actual: Decimal
    actual_through: date | None
    forecast: Decimal
    forecast_lower: Decimal
    forecast_upper: Decimal
    overrun_probability: float | None
    projected_breach_date: date | None
    variance: Decimal
    forecast_run: int | None
    forecast_through: date | None
    sampled_paths: int
    thresholds_crossed: list[float]
    fx: dict[str, Any]
    parent: int | None = None
    children: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """ "over" (actual above the amount), "at_risk" (the overrun probability reaches the budget's setting) or
        "ok": what the admin colors."""
        if self.actual > self.amount:
            return "over"
        probability = self.overrun_probability or 0.0
        return "at_risk" if probability > self.budget.overrun_alert_probability else "ok"


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _team_name(budget: Budget) -> str | None:
    return budget.team.name if budget.team_id and budget.team else None


def _usd_rate(table: FxTable, currency: str, on: date) -> tuple[Decimal, dict[str, Any]]:
    """The rate from USD (the ledger's currency) into the budget's, in force on ``on``."""
    if currency == "USD":
        return Decimal(1), {"rate": "1", "from": "USD", "to": "USD", "rate_date": None}
    rate, rate_date = table.rate(from_currency="USD", to_currency=currency, on=on)
    return rate, {
        "rate": str(rate),
        "from": "USD",
        "to": currency,
        "rate_date": rate_date.isoformat() if rate_date else None,
    }


def budget_status(
    *, budget: Budget, on: date | None = None, run: ForecastRun | None = None, fx: FxTable | None = None
) -> BudgetStatus:
    """The status of the budget's period that contains ``on`` (default today), against ``run`` (default the
    organization's latest forecast). Raises ``ValueError`` when no period contains ``on`` and ``FxRateMissing``
    when the budget's currency has no rate."""
    on = on or timezone.localdate()
    start, end = budget_math.period_bounds(
        starts_on=budget.starts_on, kind=budget.period, on=on, ends_on=budget.ends_on
    )
    organization = budget.organization
    run = run if run is not None else forecast_latest(organization=organization)
    table = fx if fx is not None else fx_table()
    rate, fx_used = _usd_rate(table, budget.currency, min(on, end))
    last_day = usage_last_day(organization=organization)
    team = _team_name(budget)
    actual_rows = []
    if last_day is not None and last_day >= start:
        actual_rows = usage_daily_scope(
            organization=organization,
            date_from=start,
            date_to=min(end, last_day),
            team=team,
            provider=budget.provider,
            model=budget.model,
        )
    actual_daily = [(row["day"], float(row["cost"] * rate)) for row in actual_rows]
    actual = sum((row["cost"] for row in actual_rows), Decimal(0)) * rate
    outlook = forecast_scope_outlook(run=run, team=team, provider=budget.provider, model=budget.model) if run else None
    remaining_first = max(start, (last_day + timedelta(days=1)) if last_day else start)
    status = _with_forecast(budget, start, end, actual, actual_daily, outlook, remaining_first, float(rate))
    status.actual_through = min(last_day, end) if last_day and last_day >= start else None
    status.forecast_run = run.pk if run and outlook else None
    status.fx = fx_used
    status.thresholds_crossed = budget_math.thresholds_crossed(
        actual=float(actual), amount=float(budget.amount), thresholds=budget.thresholds
    )
    _hierarchy(status, table)
    return status


def _with_forecast(
    budget: Budget,
    start: date,
    end: date,
    actual: Decimal,
    actual_daily: list[tuple[date, float]],
    outlook: ScopeOutlook | None,
    remaining_first: date,
    rate: float,
) -> BudgetStatus:
    """Actual plus the forecast of the period's days after the actuals, read off the run's paths."""
    notes: list[str] = []
    samples = None
    point = None
    forecast_daily: list[float] = []
    forecast_start = None
    forecast_through = None
    if outlook is not None and remaining_first <= end:
        first = max(remaining_first, outlook.start)
        if first > remaining_first:
            notes.append(f"the forecast starts on {outlook.start}; {remaining_first} to {first} has no figures")
        raw = outlook.samples_between(first, end)
        samples = raw * rate if raw is not None else None
        point = outlook.mean_between(first, end) * rate
        offset = (first - outlook.start).days
        forecast_daily = [value * rate for value in outlook.daily_cost[offset:]]
        forecast_start = first
        forecast_through = min(end, outlook.end)
        if outlook.end < end:
            notes.append(f"the forecast ends on {outlook.end}, before the period does ({end})")
    elif outlook is None and remaining_first <= end:
        notes.append("no forecast run yet: the forecast is the actual cost so far")
    result = budget_math.period_outlook(
        actual=float(actual), amount=float(budget.amount), remaining_paths=samples, point=point
    )
    breach = budget_math.breach_date(
        amount=float(budget.amount),
        period_start=start,
        actual_daily=actual_daily,
        forecast_start=forecast_start,
        forecast_daily=forecast_daily,
        period_end=end,
    )
    forecast = _money(result.forecast)
    return BudgetStatus(
        budget=budget,
        period_start=start,
        period_end=end,
        amount=budget.amount,
        currency=budget.currency,
        actual=_money(actual),
        actual_through=None,
        forecast=forecast,
        forecast_lower=_money(result.lower),
        forecast_upper=_money(result.upper),
        overrun_probability=round(result.overrun_probability, 4) if samples is not None or outlook else None,
        projected_breach_date=breach,
        variance=forecast - budget.amount,
        forecast_run=None,
        forecast_through=forecast_through,
        sampled_paths=result.paths,
        thresholds_crossed=[],
        fx={},
        notes=notes,
    )


def _same_period(other: Budget, status: BudgetStatus) -> bool:
    if other.period != status.budget.period:
        return False
    try:
        bounds = budget_math.period_bounds(
            starts_on=other.starts_on, kind=other.period, on=status.period_start, ends_on=other.ends_on
        )
    except ValueError:
        return False
    return bounds == (status.period_start, status.period_end)


def _hierarchy(status: BudgetStatus, table: FxTable) -> None:
    """Team budgets sit under the organization-wide budget of the same period: the parent's status says how much
    its team budgets add up to, and by how much they exceed it."""
    budget = status.budget
    siblings = Budget.objects.filter(organization_id=budget.organization_id, period=budget.period).exclude(pk=budget.pk)
    if budget.is_organization_wide:
        children = [
            child
            for child in siblings.filter(team__isnull=False, provider="", model="").select_related("team")
            if _same_period(child, status)
        ]
        if not children:
            return
        amounts = [
            _convert(table, child.amount, child.currency, budget.currency, status.period_start) for child in children
        ]
        total = sum(amounts, Decimal(0))
        excess = budget_math.children_excess(
            parent_amount=float(budget.amount), child_amounts=[float(a) for a in amounts]
        )
        status.children = {
            "budgets": [child.pk for child in children],
            "total": _money(total),
            "exceeds_parent_by": _money(excess) if excess is not None else None,
        }
        if excess is not None:
            status.notes.append(
                f"team budgets add up to {_money(total)} {budget.currency}, {_money(excess)} above this one"
            )
    elif budget.team_id and not budget.provider and not budget.model:
        parent = next(
            (item for item in siblings.filter(team__isnull=True, provider="", model="") if _same_period(item, status)),
            None,
        )
        status.parent = parent.pk if parent else None


def _convert(table: FxTable, amount: Decimal, from_currency: str, to_currency: str, on: date) -> Decimal:
    if from_currency == to_currency:
        return amount
    return table.convert(amount=amount, from_currency=from_currency, to_currency=to_currency, on=on).amount
