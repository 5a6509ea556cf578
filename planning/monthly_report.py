"""Reads of the monthly forecast e-mail: who gets one, and what each owner's e-mail says.

An owner is an e-mail address. Every ``BudgetOwner`` row of the organization's budgets that apply to the month or
the month before (a user's address, or a plain one, compared case-insensitively) belongs to one owner, who gets one
e-mail covering all of those budgets. Nothing here computes a figure of its own; every number is read through the
selectors the API and the admin use, so the e-mail says what they say:

* each budget's last month and current period: ``planning.selectors.budget_status`` on the last day of the month
  before and on the month's first day, exactly ``GET /api/v1/budgets/{id}/status/?period=YYYY-MM-DD``;
* each budget scope's next three months: ``planning.dashboard.scope_monthly_spend``, the budget page's spend by
  month (the month's forecast total and its band, in the reporting currency), and the chart draws the same;
* open alerts of the owner's budgets and the anomalies in their scopes (as the dashboard narrows them), and the
  open recommendations of their scopes with the largest 12-month savings, converted to the reporting currency.

The month's figures are read once per organization and month (``MonthFigures``) and shared by its owners' e-mails.
"""

from __future__ import annotations

import operator
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce

from django.contrib.auth.models import User
from django.db.models import F, Q
from django.utils import timezone

from finops.models import Organization
from finops.selectors import FxRateMissing, FxTable, fx_table
from forecasting.models import ForecastRun
from forecasting.selectors import forecast_latest
from planning.dashboard import MonthSpend, ScopeSpend, budget_monthly_amount, scope_monthly_spend
from planning.models import Alert, Budget, BudgetOwner, Recommendation
from planning.selectors import BudgetStatus, budget_status

UPCOMING_MONTHS = 3
CHART_MONTHS_BACK = 6
TOP_RECOMMENDATIONS = 5
LATEST_ALERTS = 10


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month``'s (``count`` may be negative)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def organization_local_date(*, organization: Organization, now: datetime | None = None) -> date:
    """Today (or ``now``'s day) in the organization's time zone."""
    moment = now or timezone.now()
    return moment.astimezone(zoneinfo.ZoneInfo(organization.time_zone or "UTC")).date()


def forecast_email_month(*, organization: Organization, now: datetime | None = None) -> date:
    """The month (its first day) whose e-mail is due now: the organization's current local month."""
    return organization_local_date(organization=organization, now=now).replace(day=1)


@dataclass(frozen=True)
class Recipient:
    """One owner of an organization's budgets: the address the e-mail goes to (``key``: lower-case, what the
    delivery record and the opt-out are keyed by), the user behind it if any, and their budgets."""

    address: str
    user: User | None
    budgets: tuple[Budget, ...]

    @property
    def key(self) -> str:
        return self.address.lower()

    @property
    def greeting_name(self) -> str:
        if self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        return ""


def _budgets_for_month(organization: Organization, month: date) -> list[Budget]:
    """The organization's budgets that apply to the month or to the month before it."""
    month_end = add_months(month, 1) - timedelta(days=1)
    return list(
        Budget.objects.filter(organization=organization, starts_on__lte=month_end)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=add_months(month, -1)))
        .select_related("team", "organization")
        .order_by("name", "pk")
    )


def forecast_email_recipients(*, organization: Organization, month: date) -> list[Recipient]:
    """Every owner of the organization's budgets for ``month``, each address once (ordered by address), with the
    budgets they own. An owner without an address (a user with none) is left out: there is nowhere to send to."""
    budgets = {budget.pk: budget for budget in _budgets_for_month(organization, month)}
    owners = BudgetOwner.objects.filter(budget_id__in=budgets).select_related("user").order_by("budget_id", "pk")
    addresses: dict[str, str] = {}
    users: dict[str, User] = {}
    owned: dict[str, dict[int, Budget]] = {}
    for owner in owners:
        address = owner.address.strip()
        if not address:
            continue
        key = address.lower()
        addresses.setdefault(key, address)
        if owner.user is not None and key not in users:
            users[key] = owner.user
        owned.setdefault(key, {})[owner.budget_id] = budgets[owner.budget_id]
    return [
        Recipient(
            address=addresses[key],
            user=users.get(key),
            budgets=tuple(sorted(owned[key].values(), key=lambda budget: (budget.name, budget.pk))),
        )
        for key in sorted(addresses)
    ]


def forecast_email_recipient(*, organization: Organization, month: date, address: str) -> Recipient | None:
    """The owner with ``address`` (any case) among the month's recipients, or None."""
    wanted = address.strip().lower()
    return next(
        (item for item in forecast_email_recipients(organization=organization, month=month) if item.key == wanted),
        None,
    )


@dataclass(frozen=True)
class UpcomingMonth:
    """One of the months after the current one: its forecast total and band (None: the forecast does not cover
    the whole month)."""

    month: date
    spend: MonthSpend | None


@dataclass
class BudgetReport:
    """One budget's part of the e-mail: last month's period, the current period, the next months of its scope, the
    scope's spend by month (for the chart) and what could not be read."""

    budget: Budget
    last_period: BudgetStatus | None
    current: BudgetStatus | None
    upcoming: list[UpcomingMonth]
    spend: ScopeSpend | None
    chart_budget: Decimal | None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecommendationLine:
    """An open recommendation with its savings in the reporting currency (``currency``)."""

    recommendation: Recommendation
    monthly_savings: Decimal | None
    twelve_month_savings: Decimal | None
    currency: str


@dataclass
class OwnerReport:
    """Everything one owner's e-mail says."""

    organization: Organization
    month: date
    recipient: Recipient
    budgets: list[BudgetReport]
    alerts: list[Alert]
    open_alerts: int
    recommendations: list[RecommendationLine]
    forecast_run: ForecastRun | None

    @property
    def currency(self) -> str:
        return self.organization.reporting_currency

    @property
    def last_month(self) -> date:
        return add_months(self.month, -1)


class MonthFigures:
    """The figures of one organization's month, read once (the latest run, the exchange rates, each budget's
    report) and shared by every owner's e-mail of that month; ``charts`` keeps each budget's rendered chart."""

    def __init__(self, *, organization: Organization, month: date) -> None:
        self.organization = organization
        self.month = month
        self.run = forecast_latest(organization=organization)
        self.fx: FxTable = fx_table()
        self.charts: dict[int, bytes] = {}
        self._budgets: dict[int, BudgetReport] = {}

    def budget_report(self, budget: Budget) -> BudgetReport:
        if budget.pk not in self._budgets:
            self._budgets[budget.pk] = _budget_report(self, budget)
        return self._budgets[budget.pk]


def _status(figures: MonthFigures, budget: Budget, on: date, problems: list[str], label: str) -> BudgetStatus | None:
    try:
        return budget_status(budget=budget, on=on, run=figures.run, fx=figures.fx)
    except FxRateMissing as error:
        problems.append(f"{label}: {error}")
    except ValueError:
        pass  # no period of the budget contains the day: nothing to report for it
    return None


def _budget_report(figures: MonthFigures, budget: Budget) -> BudgetReport:
    """A budget's statuses (the API's), and its scope's months (the budget page's)."""
    problems: list[str] = []
    month = figures.month
    last_period = _status(figures, budget, month - timedelta(days=1), problems, "last month")
    current = _status(figures, budget, month, problems, "this period")
    spend = None
    try:
        spend = scope_monthly_spend(
            organization=figures.organization,
            team=budget.team.name if budget.team_id and budget.team else "",
            provider=budget.provider,
            model=budget.model,
            months_back=CHART_MONTHS_BACK,
            run=figures.run,
        )
    except FxRateMissing as error:
        problems.append(f"spend by month: {error}")
    by_month = {item.month: item for item in spend.months} if spend else {}
    upcoming = []
    for offset in range(1, UPCOMING_MONTHS + 1):
        item = by_month.get(add_months(month, offset))
        upcoming.append(UpcomingMonth(month=add_months(month, offset), spend=item if item and item.forecast else None))
    chart_budget = None
    if spend is not None:
        chart_budget = budget_monthly_amount(budget=budget, currency=spend.currency, on=month)
    return BudgetReport(
        budget=budget,
        last_period=last_period,
        current=current,
        upcoming=upcoming,
        spend=spend,
        chart_budget=chart_budget,
        problems=problems,
    )


def _alert_scope(budget: Budget) -> Q:
    """The budget's own alerts, and the anomalies of its scope: all of them for an organization-wide budget,
    "team | model" scopes matching its team and model otherwise (anomalies have no provider)."""
    scope = Q(budget=budget)
    if budget.is_organization_wide:
        return scope | Q(budget__isnull=True)
    team = budget.team.name if budget.team_id and budget.team else ""
    if not team and not budget.model:
        return scope
    anomalies = Q(budget__isnull=True) & ~Q(scope="organization")
    if team:
        anomalies &= Q(scope__startswith=f"{team} | ")
    if budget.model:
        anomalies &= Q(scope__endswith=f" | {budget.model}")
    return scope | anomalies


def _recommendation_scope(budget: Budget) -> Q:
    """Recommendations of the budget's scope: everything for an organization-wide budget."""
    scope = Q()
    if budget.team_id and budget.team:
        scope &= Q(team=budget.team.name)
    if budget.provider:
        scope &= Q(provider=budget.provider)
    if budget.model:
        scope &= Q(model=budget.model)
    return scope


def _recommendation_lines(figures: MonthFigures, budgets: tuple[Budget, ...]) -> list[RecommendationLine]:
    scopes = [_recommendation_scope(budget) for budget in budgets]
    # An empty Q (an organization-wide budget) means everything; OR-ing it in would drop it instead.
    scope = Q() if any(not item for item in scopes) else reduce(operator.or_, scopes, Q(pk__in=[]))
    items = Recommendation.objects.filter(
        scope,
        organization=figures.organization,
        status=Recommendation.Status.OPEN,
        twelve_month_savings__gt=0,
    ).order_by(F("twelve_month_savings").desc(nulls_last=True), "id")[:TOP_RECOMMENDATIONS]
    currency = figures.organization.reporting_currency
    lines = []
    for item in items:
        try:
            rate, _ = figures.fx.rate(from_currency=item.currency, to_currency=currency, on=figures.month)
        except FxRateMissing:  # shown in the currency it was computed in
            lines.append(RecommendationLine(item, item.monthly_savings, item.twelve_month_savings, item.currency))
            continue
        monthly = item.monthly_savings * rate if item.monthly_savings is not None else None
        yearly = item.twelve_month_savings * rate if item.twelve_month_savings is not None else None
        lines.append(RecommendationLine(item, monthly, yearly, currency))
    return lines


def owner_report(*, recipient: Recipient, figures: MonthFigures) -> OwnerReport:
    """What ``recipient``'s e-mail for ``figures``' month says."""
    scope = Q(pk__in=[])
    for budget in recipient.budgets:
        scope |= _alert_scope(budget)
    alerts = (
        Alert.objects.filter(scope, organization=figures.organization, status=Alert.Status.OPEN)
        .select_related("budget")
        .order_by("-opened_at", "-id")
    )
    return OwnerReport(
        organization=figures.organization,
        month=figures.month,
        recipient=recipient,
        budgets=[figures.budget_report(budget) for budget in recipient.budgets],
        alerts=list(alerts[:LATEST_ALERTS]),
        open_alerts=alerts.count(),
        recommendations=_recommendation_lines(figures, recipient.budgets),
        forecast_run=figures.run,
    )
