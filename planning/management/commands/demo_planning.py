"""`manage.py demo_planning`: the demo organization's budgets, alerts and recommendations (after ``demo_setup``).

Creates (or updates) a monthly budget for the whole organization and budgets for three teams, sized from the
demo's own figures so that the organization's budget is at risk this month; evaluates alerts and regenerates
recommendations through the same services the workers run, and prints all three with their figures.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from finops.management.organization import organization_for_command
from finops.models import Organization
from ingest.selectors import usage_daily_scope
from planning.models import Alert, Budget, Recommendation
from planning.selectors import budget_status
from planning.services import alerts_evaluate, budget_save

DEMO_SLUG = "demo"
AT_RISK_SHARE = Decimal("0.96")
"""The organization's budget is set at 96% of this month's forecast (rounded down to 1,000): likely to break."""


def _last_month_cost(organization: Organization, team: str | None, today: date) -> Decimal:
    last_month_end = today.replace(day=1) - timedelta(days=1)
    rows = usage_daily_scope(
        organization=organization, date_from=last_month_end.replace(day=1), date_to=last_month_end, team=team
    )
    return sum((row["cost"] for row in rows), Decimal(0))


def _rounded(value: Decimal, step: int = 1000) -> Decimal:
    return max(Decimal(step), (value / step).quantize(Decimal(1), rounding=ROUND_DOWN) * step)


class Command(BaseCommand):
    help = "Create the demo organization's budgets, evaluate alerts, regenerate recommendations and print them."

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(DEMO_SLUG)
        today = timezone.localdate()
        year_start = today.replace(month=1, day=1).isoformat()
        whole = self._save(
            organization, "Demo Corp monthly", None, "month", year_start, Decimal(1), "finance@demo.example"
        )
        forecast = budget_status(budget=whole, on=today).forecast
        self._save(
            organization,
            whole.name,
            None,
            "month",
            year_start,
            _rounded(forecast * AT_RISK_SHARE),
            "finance@demo.example",
        )
        for team, period, factor, owner in (
            ("Search", "month", Decimal("1.15"), "search-lead@demo.example"),
            ("Support", "quarter", Decimal("3.6"), "support-lead@demo.example"),
            ("Analytics", "month", Decimal("1.3"), "analytics-lead@demo.example"),
        ):
            amount = _rounded(_last_month_cost(organization, team, today) * factor, 100)
            self._save(organization, f"{team} {period}ly budget", team, period, year_start, amount, owner)
        from planning.recommendations import recommendations_generate

        recommendations_generate(organization=organization)
        result = alerts_evaluate(organization=organization)
        self.stdout.write(f"Alerts evaluated: {result.summary()}")
        self._print(organization, today)

    def _save(
        self,
        organization: Organization,
        name: str,
        team: str | None,
        period: str,
        starts_on: str,
        amount: Decimal,
        owner: str,
    ) -> Budget:
        existing = Budget.objects.filter(organization=organization, name=name).first()
        data = {
            "name": name,
            "team": team,
            "period": period,
            "starts_on": starts_on,
            "amount": str(amount),
            "owners": owner,
        }
        try:
            return budget_save(organization=organization, data=data, budget=existing)
        except ValueError as error:
            raise CommandError(f"demo budget {name!r}: {error}") from error

    def _print(self, organization: Organization, today: date) -> None:
        self.stdout.write("")
        self.stdout.write(f"Budgets ({today:%Y-%m-%d}):")
        for budget in Budget.objects.filter(organization=organization).order_by("name"):
            status = budget_status(budget=budget, on=today)
            probability = "-" if status.overrun_probability is None else f"{status.overrun_probability:.0%}"
            breach = status.projected_breach_date.isoformat() if status.projected_breach_date else "none"
            self.stdout.write(
                f"  {budget.name:<24} {status.period_start}..{status.period_end}  amount {status.amount:>12,.2f}  "
                f"actual {status.actual:>12,.2f}  forecast {status.forecast:>12,.2f} "
                f"(80%: {status.forecast_lower:,.2f}-{status.forecast_upper:,.2f})  overrun {probability:>4}  "
                f"breach {breach}  [{status.state}]"
            )
        self.stdout.write("Open alerts:")
        for alert in Alert.objects.filter(organization=organization, status=Alert.Status.OPEN).order_by("kind", "id"):
            self.stdout.write(f"  [{alert.kind}] {alert.message}")
        self.stdout.write("Recommendations (open, largest 12-month savings first):")
        recommendations = Recommendation.objects.filter(organization=organization, status=Recommendation.Status.OPEN)
        for item in recommendations.order_by("kind", "-twelve_month_savings"):
            monthly = "-" if item.monthly_savings is None else f"{item.monthly_savings:,.2f}"
            yearly = "-" if item.twelve_month_savings is None else f"{item.twelve_month_savings:,.2f}"
            self.stdout.write(
                f"  [{item.kind}] {item.title} | {monthly} {item.currency} a month, {yearly} over 12 months, "
                f"{item.confidence} confidence"
            )
