"""Reads of the finance pages of the admin: the dashboard on the admin index, and the team, budget and model pages.

Spend by month (actual, then the latest forecast with its band), budgets with their status, the top open
recommendations, open alerts and the latest uploads, of one organization the user belongs to, narrowed by team,
provider, model and period. Everything goes through the selectors of the other apps, scoped to that organization:
a filter value or organization slug that is not the user's is dropped, never echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Q
from django.utils import timezone

from finops.models import Organization
from finops.selectors import FxRateMissing, fx_table, organizations_for_user
from forecasting.models import ForecastRun
from forecasting.selectors import ScopeOutlook, forecast_latest, forecast_scope_outlook
from ingest.models import Upload
from ingest.selectors import uploads_for_user, usage_last_day, usage_summary
from planning.models import Alert, Budget, Recommendation
from planning.selectors import BudgetStatus, alerts_for_user, budget_status, budgets_for_user, recommendations_for_user

CENT = Decimal("0.01")
PERIODS = {"3m": 3, "6m": 6, "12m": 12, "24m": 24, "all": None}
"""Months of actual spend shown, ending with the latest month that has any."""
PERIOD_LABELS = {
    "3m": "Last 3 months",
    "6m": "Last 6 months",
    "12m": "Last 12 months",
    "24m": "Last 24 months",
    "all": "All",
}
DEFAULT_PERIOD = "12m"
FORECAST_MONTHS = 12
TOP_RECOMMENDATIONS = 5
LATEST_ALERTS = 10
LATEST_UPLOADS = 5
BUDGET_STATE_ORDER = {"over": 0, "at_risk": 1, "ok": 2}
UNALLOCATED = "unallocated"


@dataclass(frozen=True)
class SpendFilters:
    """What the dashboard is narrowed to: a team name (or "unallocated"), a provider, a model ("" = all) and a
    period (a key of ``PERIODS``)."""

    team: str = ""
    provider: str = ""
    model: str = ""
    period: str = DEFAULT_PERIOD

    @property
    def months_back(self) -> int | None:
        return PERIODS[self.period]

    @property
    def period_label(self) -> str:
        return PERIOD_LABELS[self.period]


@dataclass(frozen=True)
class MonthSpend:
    """A month of a scope's spend (in its ``ScopeSpend``'s currency): ``actual`` booked (to date in the current
    month), and for months the forecast covers, the month's expected total (actual so far plus the forecast of the
    rest) with its band."""

    month: date
    actual: Decimal | None
    forecast: Decimal | None = None
    lower: Decimal | None = None
    upper: Decimal | None = None

    @property
    def label(self) -> str:
        return self.month.strftime("%Y-%m")


@dataclass(frozen=True)
class ScopeSpend:
    """A scope's monthly spend in the organization's reporting currency, actual then forecast, the run the forecast
    comes from, and what could not be shown (``notes``)."""

    months: list[MonthSpend]
    actual_total: Decimal
    actual_through: date | None
    forecast_run: int | None
    interval_width: float | None
    forecast_total: Decimal | None = None
    forecast_lower: Decimal | None = None
    forecast_upper: Decimal | None = None
    currency: str = "USD"
    notes: list[str] = field(default_factory=list)

    @property
    def interval_label(self) -> str:
        return f"{round((self.interval_width or 0.8) * 100)}% interval"

    @property
    def forecast_months(self) -> list[MonthSpend]:
        return [month for month in self.months if month.forecast is not None]


@dataclass(frozen=True)
class BudgetLine:
    """A budget with its status this period (or why there is none)."""

    budget: Budget
    status: BudgetStatus | None
    problem: str = ""

    @property
    def state(self) -> str:
        return self.status.state if self.status is not None else ""


@dataclass
class Dashboard:
    """What the admin index shows of one organization."""

    organizations: list[Organization]
    organization: Organization | None
    filters: SpendFilters
    teams: list[str] = field(default_factory=list)
    providers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    spend: ScopeSpend | None = None
    budgets: list[BudgetLine] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    open_recommendations: int = 0
    alerts: list[Alert] = field(default_factory=list)
    open_alerts: int = 0
    uploads: list[Upload] = field(default_factory=list)
    team_ids: dict[str, int] = field(default_factory=dict)
    problem: str = ""

    @property
    def periods(self) -> list[tuple[str, str]]:
        return list(PERIOD_LABELS.items())

    @property
    def team_id(self) -> int | None:
        """The id of the team filtered on (None: no team, or "unallocated"), for a link to its page."""
        return self.team_ids.get(self.filters.team) if self.filters.team else None


@dataclass(frozen=True)
class ModelSpendRow:
    """A model the organization used: its routes, tokens and cost over a period, and its share of the cost."""

    model: str
    providers: list[str]
    tokens: int
    cost: Decimal
    share: float


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _month_end(month: date) -> date:
    return _add_months(month, 1) - timedelta(days=1)


def _period_start(last_day: date | None, months_back: int | None) -> date | None:
    """The first day of the ``months_back`` months that end with the month of ``last_day`` (None: no bound)."""
    if last_day is None or months_back is None:
        return None
    return _add_months(_month_start(last_day), -(months_back - 1))


def dashboard_organization(*, user: User | AnonymousUser, slug: str = "") -> Organization | None:
    """The organization ``slug`` if the user belongs to it, else the user's first one (None: they have none)."""
    organizations = organizations_for_user(user=user).order_by("slug")
    if slug:
        chosen = organizations.filter(slug=slug).first()
        if chosen is not None:
            return chosen
    return organizations.first()


def spend_dimensions(*, organization: Organization) -> dict[str, list[str]]:
    """The teams (names, "unallocated" for usage no rule assigned), providers and models of the organization's
    ledger: the filter choices, none of another organization's."""
    rows = usage_summary(organization=organization, by=["team", "provider", "model"])
    return {
        "team": sorted({row["team"] for row in rows}),
        "provider": sorted({row["provider"] for row in rows}),
        "model": sorted({row["model"] for row in rows}),
    }


def spend_filters(*, params: Mapping[str, str], dimensions: Mapping[str, list[str]]) -> SpendFilters:
    """Filters read from query parameters; a value that is not among the organization's own is dropped."""

    def pick(name: str) -> str:
        value = params.get(name, "") or ""
        return value if value in dimensions.get(name, []) else ""

    period = params.get("period", "") or DEFAULT_PERIOD
    return SpendFilters(
        team=pick("team"),
        provider=pick("provider"),
        model=pick("model"),
        period=period if period in PERIODS else DEFAULT_PERIOD,
    )


def _actual_by_month(
    organization: Organization, *, team: str, provider: str, model: str, date_from: date | None
) -> dict[date, Decimal]:
    """Counted cost per month of one scope, in the organization's reporting currency."""
    rows = usage_summary(
        organization=organization, by=["month"], date_from=date_from, team=team, provider=provider, model=model
    )
    return {date.fromisoformat(f"{row['month']}-01"): row["cost"] for row in rows}


def _band(samples: np.ndarray | None, mean: float, width: float) -> tuple[float, float]:
    if samples is None or len(samples) == 0:
        return mean, mean
    low, high = np.quantile(samples, [(1 - width) / 2, (1 + width) / 2])
    return float(low), float(high)


def _forecast_months(
    outlook: ScopeOutlook, *, first_open_day: date, count: int, width: float
) -> tuple[dict[date, tuple[float, float, float]], tuple[float, float, float] | None]:
    """Per month the forecast covers whole (to its end), from the month of ``first_open_day``: the forecast of
    its days from ``first_open_day`` on (mean, low, high); and the same for all those days together."""
    result: dict[date, tuple[float, float, float]] = {}
    month = _month_start(first_open_day)
    first_forecast_day: date | None = None
    last_forecast_day: date | None = None
    while len(result) < count:
        end = _month_end(month)
        if end > outlook.end:
            break
        first = max(month, first_open_day, outlook.start)
        if first <= end:
            mean = outlook.mean_between(first, end)
            result[month] = (mean, *_band(outlook.samples_between(first, end), mean, width))
            first_forecast_day = first_forecast_day or first
            last_forecast_day = end
        month = _add_months(month, 1)
    if first_forecast_day is None or last_forecast_day is None:
        return result, None
    mean = outlook.mean_between(first_forecast_day, last_forecast_day)
    total = (mean, *_band(outlook.samples_between(first_forecast_day, last_forecast_day), mean, width))
    return result, total


def scope_monthly_spend(
    *,
    organization: Organization,
    team: str = "",
    provider: str = "",
    model: str = "",
    months_back: int | None = 12,
    forecast_months: int = FORECAST_MONTHS,
    run: ForecastRun | None = None,
) -> ScopeSpend:
    """The monthly spend of a scope of the organization (a team name or "unallocated", a provider, a model;
    "" = all) in its reporting currency: ``months_back`` months of actuals ending with the latest month that has
    any (None: all), then up to ``forecast_months`` months of the latest forecast (or ``run``), each with the
    run's interval read off its sampled paths. The current month holds both: the actual so far and the expected
    total. The forecast (USD) is converted at the latest rate known today."""
    last_day = usage_last_day(organization=organization)
    date_from = _period_start(last_day, months_back)
    actual = _actual_by_month(organization, team=team, provider=provider, model=model, date_from=date_from)
    run = run if run is not None else forecast_latest(organization=organization)
    outlook = forecast_scope_outlook(run=run, team=team or None, provider=provider, model=model) if run else None
    width = run.interval_width if run is not None else None
    currency = organization.reporting_currency
    notes: list[str] = []
    forecast: dict[date, tuple[float, float, float]] = {}
    total = None
    covered = outlook is not None and (outlook.paths is not None or any(outlook.daily_cost))
    if outlook is not None and run is not None and covered:
        try:
            rate = _usd_rate(currency)
        except FxRateMissing as error:
            notes.append(f"The forecast is not shown: {error}.")
        else:
            first_open_day = last_day + timedelta(days=1) if last_day is not None else outlook.start
            in_usd, total_usd = _forecast_months(
                outlook, first_open_day=first_open_day, count=forecast_months, width=run.interval_width
            )
            forecast = {month: _scaled(values, rate) for month, values in in_usd.items()}
            total = _scaled(total_usd, rate) if total_usd is not None else None
    months = []
    for month in sorted(set(actual) | set(forecast)):
        booked = actual.get(month)
        if month not in forecast:
            months.append(MonthSpend(month=month, actual=_money(booked or 0)))
            continue
        mean, low, high = forecast[month]
        base = float(booked or 0)
        months.append(
            MonthSpend(
                month=month,
                actual=_money(booked) if booked is not None else None,
                forecast=_money(base + mean),
                lower=_money(base + low),
                upper=_money(base + high),
            )
        )
    return ScopeSpend(
        months=months,
        actual_total=_money(sum(actual.values(), Decimal(0))),
        actual_through=last_day,
        forecast_run=run.pk if run is not None and forecast else None,
        interval_width=width,
        forecast_total=_money(total[0]) if total else None,
        forecast_lower=_money(total[1]) if total else None,
        forecast_upper=_money(total[2]) if total else None,
        currency=currency,
        notes=notes,
    )


def _usd_rate(currency: str) -> float:
    """Units of ``currency`` per USD at the latest rate known today; FxRateMissing when there is none."""
    if currency == "USD":
        return 1.0
    rate, _ = fx_table(currencies=[currency]).rate(from_currency="USD", to_currency=currency, on=timezone.localdate())
    return float(rate)


def _scaled(values: tuple[float, float, float], rate: float) -> tuple[float, float, float]:
    return values[0] * rate, values[1] * rate, values[2] * rate


def _budget_lines(budgets: list[Budget], run: ForecastRun | None) -> list[BudgetLine]:
    """Each budget's status this period against one run and one FX table; the most urgent first."""
    table = fx_table()
    lines = []
    for budget in budgets:
        try:
            lines.append(BudgetLine(budget=budget, status=budget_status(budget=budget, run=run, fx=table)))
        except (FxRateMissing, ValueError) as error:
            lines.append(BudgetLine(budget=budget, status=None, problem=str(error)))
    return sorted(lines, key=lambda line: (BUDGET_STATE_ORDER.get(line.state, 3), line.budget.name))


def _scoped_budgets(user: User | AnonymousUser, organization: Organization, filters: SpendFilters) -> list[Budget]:
    budgets = budgets_for_user(user=user).filter(organization=organization)
    if filters.team == UNALLOCATED:
        budgets = budgets.none()
    elif filters.team:
        budgets = budgets.filter(team__name=filters.team)
    if filters.provider:
        budgets = budgets.filter(provider=filters.provider)
    if filters.model:
        budgets = budgets.filter(model=filters.model)
    return list(budgets)


def _scoped_alerts(user: User | AnonymousUser, organization: Organization, filters: SpendFilters) -> Any:
    """Open alerts of the organization; with a filter, those of budgets of that scope and anomalies of
    "team | model" scopes that match it."""
    alerts = alerts_for_user(user=user).filter(organization=organization, status=Alert.Status.OPEN)
    if filters.team:
        alerts = alerts.filter(Q(budget__team__name=filters.team) | Q(scope__startswith=f"{filters.team} | "))
    if filters.provider:
        alerts = alerts.filter(budget__provider=filters.provider)
    if filters.model:
        alerts = alerts.filter(Q(budget__model=filters.model) | Q(scope__endswith=f" | {filters.model}"))
    return alerts.order_by("-opened_at", "-id")


def _scoped_recommendations(user: User | AnonymousUser, organization: Organization, filters: SpendFilters) -> Any:
    """Open recommendations of the organization that save money, the largest 12-month savings first."""
    items = recommendations_for_user(user=user).filter(
        organization=organization, status=Recommendation.Status.OPEN, twelve_month_savings__gt=0
    )
    for name in ("team", "provider", "model"):
        value = getattr(filters, name)
        if value:
            items = items.filter(**{name: value})
    return items.order_by(F("twelve_month_savings").desc(nulls_last=True), "id")


def dashboard_for(
    *, user: User | AnonymousUser, organization_slug: str = "", params: Mapping[str, str] | None = None
) -> Dashboard:
    """The dashboard of one of the user's organizations (``organization_slug``, else their first), narrowed by
    ``params`` (team, provider, model, period)."""
    organizations = list(organizations_for_user(user=user).order_by("slug"))
    organization = dashboard_organization(user=user, slug=organization_slug)
    if organization is None:
        return Dashboard(organizations=organizations, organization=None, filters=SpendFilters())
    run = forecast_latest(organization=organization)
    problem = ""
    try:
        dimensions = spend_dimensions(organization=organization)
        filters = spend_filters(params=params or {}, dimensions=dimensions)
        spend: ScopeSpend | None = scope_monthly_spend(
            organization=organization,
            team=filters.team,
            provider=filters.provider,
            model=filters.model,
            months_back=filters.months_back,
            run=run,
        )
    except FxRateMissing as error:  # a cost in a currency with no rate to the reporting currency
        dimensions, filters, spend = {"team": [], "provider": [], "model": []}, SpendFilters(), None
        problem = f"Spend cannot be shown in {organization.reporting_currency}: {error}."
    alerts = _scoped_alerts(user, organization, filters)
    recommendations = _scoped_recommendations(user, organization, filters)
    return Dashboard(
        organizations=organizations,
        organization=organization,
        filters=filters,
        teams=dimensions["team"],
        providers=dimensions["provider"],
        models=dimensions["model"],
        spend=spend,
        budgets=_budget_lines(_scoped_budgets(user, organization, filters), run),
        recommendations=list(recommendations[:TOP_RECOMMENDATIONS]),
        open_recommendations=recommendations.count(),
        alerts=list(alerts[:LATEST_ALERTS]),
        open_alerts=alerts.count(),
        uploads=list(uploads_for_user(user=user).filter(organization=organization)[:LATEST_UPLOADS]),
        team_ids={team.name: team.pk for team in organization.teams.all()},
        problem=problem,
    )


def budget_spend(*, budget: Budget, months_back: int = 12) -> tuple[ScopeSpend, BudgetLine]:
    """The monthly spend of a budget's scope, and the budget's status this period."""
    run = forecast_latest(organization=budget.organization)
    spend = scope_monthly_spend(
        organization=budget.organization,
        team=budget.team.name if budget.team_id and budget.team else "",
        provider=budget.provider,
        model=budget.model,
        months_back=months_back,
        run=run,
    )
    return spend, _budget_lines([budget], run)[0]


def budget_monthly_amount(*, budget: Budget, currency: str, on: date) -> Decimal | None:
    """A monthly budget's amount in ``currency`` (the spend chart's) at the rate in force on ``on``, to draw beside
    the monthly spend; None for quarterly and yearly budgets, or when no rate converts it."""
    if budget.period != Budget.Period.MONTH:
        return None
    if budget.currency == currency:
        return budget.amount
    try:
        conversion = fx_table().convert(
            amount=budget.amount, from_currency=budget.currency, to_currency=currency, on=on
        )
    except FxRateMissing:
        return None
    return _money(conversion.amount)


def model_spend_table(*, organization: Organization, months_back: int | None = 12) -> list[ModelSpendRow]:
    """The models of the organization's ledger with their routes, tokens and cost over the last ``months_back``
    months with any spend (None: all), the most expensive first."""
    last_day = usage_last_day(organization=organization)
    date_from = _period_start(last_day, months_back)
    rows = usage_summary(organization=organization, by=["model", "provider"], date_from=date_from)
    by_model: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = by_model.setdefault(row["model"], {"providers": set(), "tokens": 0, "cost": Decimal(0)})
        item["providers"].add(row["provider"])
        item["tokens"] += row["tokens"]
        item["cost"] += row["cost"]
    total = sum((item["cost"] for item in by_model.values()), Decimal(0))
    table = [
        ModelSpendRow(
            model=model,
            providers=sorted(item["providers"]),
            tokens=item["tokens"],
            cost=_money(item["cost"]),
            share=float(item["cost"] / total) if total else 0.0,
        )
        for model, item in by_model.items()
    ]
    return sorted(table, key=lambda row: (-row.cost, row.model))


def model_usage_by(
    *, organization: Organization, model: str, by: str, months_back: int | None = 12
) -> list[dict[str, Any]]:
    """One model's tokens and cost per team or provider (``by``) over the last ``months_back`` months, the most
    expensive first."""
    last_day = usage_last_day(organization=organization)
    date_from = _period_start(last_day, months_back)
    rows = usage_summary(organization=organization, by=[by, "model"], date_from=date_from)
    mine = [
        {"key": row[by], "tokens": row["tokens"], "cost": _money(row["cost"])} for row in rows if row["model"] == model
    ]
    return sorted(mine, key=lambda row: (-row["cost"], row["key"]))
