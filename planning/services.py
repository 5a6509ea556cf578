"""Writes of the planning app: budgets (validated once, for the API, the admin, the CSV import and the commands),
webhooks, and alert evaluation: threshold, forecast-overrun and anomaly alerts, one per budget, kind and period
(anomalies: per day and scope), resolved when their condition clears and reopened when it returns."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from finops.catalog import CURRENCIES
from finops.models import Membership, Organization, Team
from finops.selectors import FxRateMissing, fx_table
from forecasting.models import ForecastRun
from forecasting.selectors import forecast_day_bands, forecast_latest
from ingest.selectors import usage_daily_scope, usage_last_day
from planning import anomaly, budget_math
from planning.models import Alert, Budget, BudgetOwner, Webhook
from planning.selectors import BudgetStatus, budget_status

logger = logging.getLogger(__name__)

BUDGET_FIELDS = (
    "name",
    "team",
    "provider",
    "model",
    "period",
    "starts_on",
    "ends_on",
    "amount",
    "currency",
    "owners",
    "thresholds",
    "overrun_alert_probability",
)
MAX_AMOUNT = Decimal("9999999999999999.99")
ANOMALY_LOOKBACK_DAYS = 14
ANOMALY_MIN_COST_EXCESS = 1.0
"""USD: a day's cost must leave its band by more than this (and by ``ANOMALY_MIN_SHARE`` of the organization's
expected day) to be an anomaly; a 99% band is narrow on a quiet scope, and cents are not news."""
ANOMALY_MIN_SHARE = 0.02
MIN_DRIVER_SHARE = 0.05
"""A team x model named as a driver explains at least 5% of the day's deviation."""


class BudgetInvalid(ValueError):
    """A budget that cannot be saved: ``errors`` maps each bad field to what was expected."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace(",", ";").split(";") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def _date(value: Any, name: str, errors: dict[str, str]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[name] = f"expected a date as YYYY-MM-DD, got {value!r}"
        return None


def _amount(value: Any, errors: dict[str, str]) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        errors["amount"] = f"expected a number, got {value!r}"
        return None
    if amount < 0:
        errors["amount"] = f"must not be negative, got {amount}"
    elif amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        errors["amount"] = f"expected at most 2 decimals and below {MAX_AMOUNT}, got {amount}"
    return amount


def _team(organization: Organization, value: Any, errors: dict[str, str]) -> Team | None:
    if value in (None, ""):
        return None
    if isinstance(value, Team):
        if value.organization_id != organization.pk:
            errors["team"] = f"team {value.name!r} belongs to another organization"
        return value
    text = str(value).strip()
    team = Team.objects.filter(organization=organization, slug=text).first() or (
        Team.objects.filter(organization=organization, name=text).first()
    )
    if team is None:
        errors["team"] = f"no team {text!r} in {organization.slug} (give its slug or name)"
    return team


def _owners(organization: Organization, value: Any, errors: dict[str, str]) -> list[tuple[User | None, str]]:
    """Each owner as (user, e-mail): an address, or the username of a member of the organization."""
    owners: list[tuple[User | None, str]] = []
    for entry in _split(value):
        if "@" in entry:
            try:
                validate_email(entry)
            except DjangoValidationError:
                errors["owners"] = f"{entry!r} is not an e-mail address"
                continue
            owners.append((None, entry.lower()))
            continue
        member = Membership.objects.filter(organization=organization, user__username=entry).select_related("user")
        found = member.first()
        if found is None:
            errors["owners"] = f"{entry!r} is not an e-mail address or the username of a member of {organization.slug}"
            continue
        owners.append((found.user, ""))
    return owners


def _probability(value: Any, errors: dict[str, str]) -> float:
    if value in (None, ""):
        return 0.5
    try:
        probability = float(value)
    except (TypeError, ValueError):
        probability = math.nan
    if not 0 < probability < 1:
        errors["overrun_alert_probability"] = f"expected a probability between 0 and 1 (exclusive), got {value!r}"
    return probability


def budget_clean(*, organization: Organization, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a budget's fields (typed values or the strings of a CSV row); raises ``BudgetInvalid`` naming every
    bad field. Lists (owners, thresholds) may be given as "a; b" strings."""
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - set(BUDGET_FIELDS))
    if unknown:
        errors["fields"] = f"unknown field(s) {', '.join(unknown)}; expected {', '.join(BUDGET_FIELDS)}"
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 200:
        errors["name"] = "required, at most 200 characters"
    period = str(data.get("period") or "month").strip().lower()
    if period not in budget_math.PERIOD_KINDS:
        errors["period"] = f"expected one of {', '.join(budget_math.PERIOD_KINDS)}, got {period!r}"
    starts_on = _date(data.get("starts_on"), "starts_on", errors)
    if starts_on is None and "starts_on" not in errors:
        errors["starts_on"] = "required: the first day of the first period (YYYY-MM-01)"
    elif starts_on is not None and starts_on.day != 1:
        errors["starts_on"] = f"a budget period starts on the first day of a month, not {starts_on}"
    ends_on = _date(data.get("ends_on"), "ends_on", errors)
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = f"ends before it starts ({ends_on} < {starts_on})"
    currency = str(data.get("currency") or "USD").strip().upper()
    if currency not in CURRENCIES:
        errors["currency"] = f"unknown currency {currency!r}; expected an ISO code such as USD, EUR, GBP"
    thresholds: list[float] = []
    raw_thresholds = data.get("thresholds")
    try:
        values = [float(v) for v in _split(raw_thresholds)] if isinstance(raw_thresholds, str) else raw_thresholds
        thresholds = budget_math.validate_thresholds(list(values) if values else [0.8, 1.0])
    except (TypeError, ValueError) as error:
        errors["thresholds"] = f"fractions of the amount between 0 and 10: {error}"
    cleaned = {
        "name": name,
        "team": _team(organization, data.get("team"), errors),
        "provider": str(data.get("provider") or "").strip(),
        "model": str(data.get("model") or "").strip(),
        "period": period,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "amount": _amount(data.get("amount"), errors),
        "currency": currency,
        "owners": _owners(organization, data.get("owners"), errors),
        "thresholds": thresholds,
        "overrun_alert_probability": _probability(data.get("overrun_alert_probability"), errors),
    }
    if errors:
        raise BudgetInvalid(errors)
    return cleaned


def budget_save(*, organization: Organization, data: Mapping[str, Any], budget: Budget | None = None) -> Budget:
    """Create (or update ``budget``) from ``data`` after ``budget_clean``; its owners are replaced."""
    cleaned = budget_clean(organization=organization, data=data)
    owners = cleaned.pop("owners")
    clash = Budget.objects.filter(organization=organization, name=cleaned["name"])
    if budget is not None:
        clash = clash.exclude(pk=budget.pk)
    if clash.exists():
        raise BudgetInvalid({"name": f"{organization.slug} already has a budget named {cleaned['name']!r}"})
    with transaction.atomic():
        if budget is None:
            budget = Budget(organization=organization)
        for name, value in cleaned.items():
            setattr(budget, name, value)
        budget.save()
        budget.owners.all().delete()
        BudgetOwner.objects.bulk_create([BudgetOwner(budget=budget, user=user, email=email) for user, email in owners])
    return budget


def webhook_clean_url(url: str) -> str:
    """An http(s) URL with a host; ``ValueError`` otherwise."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"expected an http(s) URL, got {url!r}")
    return url.strip()


def webhook_save(
    *,
    organization: Organization,
    name: str,
    url: str,
    secret: str = "",
    kinds: Iterable[str] = (),
    active: bool = True,
    webhook: Webhook | None = None,
) -> Webhook:
    """Create or update a webhook after checking its URL and kinds."""
    errors: dict[str, str] = {}
    try:
        url = webhook_clean_url(url)
    except ValueError as error:
        errors["url"] = str(error)
    kinds = list(kinds)
    unknown = sorted(set(kinds) - set(Alert.Kind.values))
    if unknown:
        errors["kinds"] = f"unknown alert kind(s) {', '.join(unknown)}; expected {', '.join(Alert.Kind.values)}"
    if not name.strip():
        errors["name"] = "required"
    clash = Webhook.objects.filter(organization=organization, name=name.strip())
    if webhook is not None:
        clash = clash.exclude(pk=webhook.pk)
    if name.strip() and clash.exists():
        errors["name"] = f"{organization.slug} already has a webhook named {name.strip()!r}"
    if errors:
        raise BudgetInvalid(errors)
    webhook = webhook or Webhook(organization=organization)
    webhook.name, webhook.url, webhook.secret, webhook.kinds, webhook.active = name.strip(), url, secret, kinds, active
    webhook.save()
    return webhook


@dataclass
class EvaluationResult:
    """What one evaluation did: alerts opened, reopened, escalated, resolved, and budgets it could not check."""

    opened: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    unchanged: int = 0
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{len(self.opened)} opened, {len(self.reopened)} reopened, {len(self.escalated)} escalated, "
            f"{len(self.resolved)} resolved, {self.unchanged} unchanged"
            + (f", {len(self.skipped)} budget(s) skipped" if self.skipped else "")
        )


@dataclass(frozen=True)
class _Condition:
    """An alert's condition as evaluated now: whether it holds, its level, message and details."""

    holds: bool
    level: float | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _alert_sync(
    *,
    organization: Organization,
    kind: str,
    period_start: date,
    condition: _Condition,
    result: EvaluationResult,
    budget: Budget | None = None,
    scope: str = "",
) -> Alert | None:
    """Open, update, escalate, resolve or reopen the one alert of (budget or scope, kind, period)."""
    from planning.delivery import alert_deliveries_create

    key: dict[str, Any] = {"organization": organization, "kind": kind, "period_start": period_start}
    key.update({"budget": budget} if budget is not None else {"budget__isnull": True, "scope": scope})
    now = timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(**key).first()
        if alert is None and not condition.holds:
            return None
        event = ""
        if alert is None:
            alert = Alert(
                organization=organization,
                budget=budget,
                kind=kind,
                period_start=period_start,
                scope=scope,
                opened_at=now,
            )
            event = "opened#1"
        elif not condition.holds:
            if alert.status == Alert.Status.OPEN:
                alert.status, alert.resolved_at = Alert.Status.RESOLVED, now
                alert.save(update_fields=["status", "resolved_at", "updated_at"])
                result.resolved.append(alert.pk)
            else:
                result.unchanged += 1
            return alert
        elif alert.status == Alert.Status.RESOLVED:
            alert.status, alert.resolved_at, alert.opened_at = Alert.Status.OPEN, None, now
            alert.acknowledged_at, alert.acknowledged_by = None, None
            alert.generation += 1
            event = f"reopened#{alert.generation}"
            result.reopened.append(alert.pk)
        elif kind == Alert.Kind.THRESHOLD and condition.level is not None and condition.level > (alert.level or 0):
            event = f"threshold {condition.level:g}#{alert.generation}"
            result.escalated.append(alert.pk)
        else:
            result.unchanged += 1
        alert.level, alert.message, alert.details = condition.level, condition.message, condition.details
        try:
            with transaction.atomic():
                alert.save()
        except IntegrityError:  # another evaluation opened it first: this one leaves it to that one
            return Alert.objects.filter(**key).first()
        if event == "opened#1":
            result.opened.append(alert.pk)
        if event:
            alert_deliveries_create(alert=alert, event=event)
    return alert


def _money_text(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _budget_conditions(status: BudgetStatus) -> tuple[_Condition, _Condition]:
    """The threshold and forecast-overrun conditions of a budget's period."""
    budget = status.budget
    amount = _money_text(status.amount, status.currency)
    details = {
        "period_end": status.period_end.isoformat(),
        "amount": str(status.amount),
        "actual": str(status.actual),
        "forecast": str(status.forecast),
        "forecast_lower": str(status.forecast_lower),
        "forecast_upper": str(status.forecast_upper),
        "overrun_probability": status.overrun_probability,
        "projected_breach_date": status.projected_breach_date.isoformat() if status.projected_breach_date else None,
        "currency": status.currency,
        "forecast_run": status.forecast_run,
    }
    crossed = status.thresholds_crossed
    threshold = _Condition(
        holds=bool(crossed),
        level=max(crossed) if crossed else None,
        message=(
            f"Budget '{budget.name}' ({budget.scope_label()}): actual {_money_text(status.actual, status.currency)} "
            f"has crossed {max(crossed):.0%} of {amount} for {status.period_start:%Y-%m-%d} to {status.period_end}"
            if crossed
            else ""
        ),
        details={**details, "thresholds_crossed": crossed},
    )
    probability = status.overrun_probability
    overrun_holds = probability is not None and probability > budget.overrun_alert_probability
    breach = f", breaking on {status.projected_breach_date}" if status.projected_breach_date else ""
    overrun = _Condition(
        holds=overrun_holds,
        level=probability,
        message=(
            f"Budget '{budget.name}' ({budget.scope_label()}) is forecast to overrun: {probability:.0%} likely; "
            f"forecast {_money_text(status.forecast, status.currency)} (80%: {status.forecast_lower:,.2f}-"
            f"{status.forecast_upper:,.2f}) against {amount}{breach}"
            if overrun_holds and probability is not None
            else ""
        ),
        details={**details, "alert_probability": budget.overrun_alert_probability},
    )
    return threshold, overrun


def _budgets_in_force(organization: Organization, on: date) -> list[Budget]:
    budgets = Budget.objects.filter(organization=organization, starts_on__lte=on).select_related("team", "organization")
    return [budget for budget in budgets if budget.ends_on is None or budget.ends_on >= on]


def alerts_evaluate(*, organization: Organization, on: date | None = None) -> EvaluationResult:
    """Evaluate every budget's threshold and forecast-overrun alerts for the period containing ``on`` (default
    today), and the anomalies of the last ``ANOMALY_LOOKBACK_DAYS`` days of actuals. Safe to run any number of
    times: each alert exists once and only changes state when its condition does."""
    on = on or timezone.localdate()
    result = EvaluationResult()
    table = fx_table()
    run = forecast_latest(organization=organization)  # read once for every budget
    for budget in _budgets_in_force(organization, on):
        try:
            status = budget_status(budget=budget, on=on, fx=table, run=run)
        except (FxRateMissing, ValueError) as error:
            result.skipped[budget.name] = str(error)
            logger.warning("budget %s of %s not evaluated: %s", budget.name, organization.slug, error)
            continue
        threshold, overrun = _budget_conditions(status)
        for kind, condition in ((Alert.Kind.THRESHOLD, threshold), (Alert.Kind.FORECAST_OVERRUN, overrun)):
            _alert_sync(
                organization=organization,
                budget=budget,
                kind=kind,
                period_start=status.period_start,
                condition=condition,
                result=result,
            )
    _anomalies_evaluate(organization, result)
    return result


def _runs_for_days(organization: Organization, first: date) -> list[ForecastRun]:
    """Succeeded forecasts (not what-ifs) that may cover days from ``first`` on, newest history first."""
    from forecasting.rollup import BAND_DAYS

    return list(
        ForecastRun.objects.filter(
            organization=organization,
            status=ForecastRun.Status.SUCCEEDED,
            baseline__isnull=True,
            history_end__gte=first - timedelta(days=BAND_DAYS),
        ).order_by("-history_end", "-finished_at", "-id")
    )


def _anomalies_evaluate(organization: Organization, result: EvaluationResult) -> None:
    """Each recent day of actuals against the 99% band of the newest forecast made before it, at the organization
    and at each team x model."""
    last = usage_last_day(organization=organization)
    if last is None:
        return
    first = last - timedelta(days=ANOMALY_LOOKBACK_DAYS - 1)
    runs = _runs_for_days(organization, first)
    if not runs:
        return
    rows = usage_daily_scope(organization=organization, date_from=first, date_to=last, by_team_model=True)
    by_day: dict[date, dict[tuple[str, str], tuple[float, float]]] = {}
    for row in rows:
        by_day.setdefault(row["day"], {})[(row["team"], row["model"])] = (float(row["tokens"]), float(row["cost"]))
    bands_by_run: dict[int, dict[tuple[str, str], dict[str, Any]]] = {}
    for offset in range(ANOMALY_LOOKBACK_DAYS):
        day = first + timedelta(days=offset)
        run = next((item for item in runs if item.history_end is not None and item.history_end < day), None)
        if run is None:
            continue
        if run.pk not in bands_by_run:
            bands_by_run[run.pk] = forecast_day_bands(run=run)
        _day_anomalies(organization, run, day, by_day.get(day, {}), bands_by_run[run.pk], result)


def _band_at(scope: dict[str, Any], measure: str, index: int) -> anomaly.DayBand | None:
    bounds = scope["band"].get(measure) or []
    if index >= len(bounds):
        return None
    lower, upper = bounds[index]
    return anomaly.DayBand(expected=float(scope[measure][index]), lower=float(lower), upper=float(upper))


def _day_anomalies(
    organization: Organization,
    run: ForecastRun,
    day: date,
    actual_by_cell: dict[tuple[str, str], tuple[float, float]],
    bands: dict[tuple[str, str], dict[str, Any]],
    result: EvaluationResult,
) -> None:
    """The organization's day, then each team x model's, against their bands; one alert per day and scope."""
    org_scope = bands.get(("", ""))
    if org_scope is None:
        return
    index = (day - org_scope["start"]).days
    org_expected_cost = float(org_scope["cost"][index]) if index < len(org_scope["cost"]) else 0.0
    org_expected_tokens = float(org_scope["tokens"][index]) if index < len(org_scope["tokens"]) else 0.0
    minimum = {
        "cost": max(ANOMALY_MIN_COST_EXCESS, ANOMALY_MIN_SHARE * org_expected_cost),
        "tokens": ANOMALY_MIN_SHARE * org_expected_tokens,
    }
    scopes: list[tuple[str, dict[str, Any], dict[str, float]]] = [
        (
            "organization",
            org_scope,
            {
                "tokens": sum(value[0] for value in actual_by_cell.values()),
                "cost": sum(value[1] for value in actual_by_cell.values()),
            },
        )
    ]
    for (team, model), scope in sorted(bands.items()):
        if team or model:
            actual = actual_by_cell.get((team, model), (0.0, 0.0))
            scopes.append((f"{team} | {model}", scope, {"tokens": actual[0], "cost": actual[1]}))
    for label, scope, actual_measures in scopes:
        condition = _anomaly_condition(label, scope, actual_measures, index, day, minimum, actual_by_cell, bands)
        if condition is None:
            continue
        _alert_sync(
            organization=organization,
            kind=Alert.Kind.ANOMALY,
            period_start=day,
            scope=label,
            condition=_Condition(
                holds=condition.holds,
                level=condition.level,
                message=condition.message,
                details={**condition.details, "forecast_run": run.pk},
            ),
            result=result,
        )


def _anomaly_condition(
    label: str,
    scope: dict[str, Any],
    actual: dict[str, float],
    index: int,
    day: date,
    minimum: dict[str, float],
    actual_by_cell: dict[tuple[str, str], tuple[float, float]],
    bands: dict[tuple[str, str], dict[str, Any]],
) -> _Condition | None:
    """Whether the scope's day left its 99% band in cost (first) or tokens, and who drove it."""
    for measure, unit in (("cost", "USD"), ("tokens", "tokens")):
        band = _band_at(scope, measure, index)
        if band is None:
            return None
        deviation = anomaly.deviation(measure=measure, actual=actual[measure], band=band)
        if not anomaly.is_anomalous(deviation, min_excess=minimum[measure]):
            continue
        position = 1 if measure == "cost" else 0
        expected_by_cell = {
            key: float(item[measure][index])
            for key, item in bands.items()
            if key != ("", "") and index < len(item[measure])
        }
        cells = {key: value[position] for key, value in actual_by_cell.items()}
        if label != "organization":
            team, _, model = label.partition(" | ")
            cells = {(team, model): actual[measure]}
            expected_by_cell = {(team, model): band.expected}
        drivers = anomaly.attribute(actual_by_cell=cells, expected_by_cell=expected_by_cell)
        drivers = [driver for driver in drivers if driver.share >= MIN_DRIVER_SHARE] or drivers[:1]
        message = anomaly.describe(scope=label, day=day, dev=deviation, drivers=drivers, unit=unit)
        details = {
            "measure": measure,
            "actual": round(deviation.actual, 6),
            "expected": round(deviation.expected, 6),
            "band_99": [round(deviation.lower, 6), round(deviation.upper, 6)],
            "excess": round(deviation.excess, 6),
            "direction": deviation.direction,
            "drivers": [
                {
                    "team": driver.team,
                    "model": driver.model,
                    "actual": round(driver.actual, 6),
                    "expected": round(driver.expected, 6),
                    "delta": round(driver.delta, 6),
                    "share": round(driver.share, 4),
                }
                for driver in drivers
            ],
        }
        return _Condition(
            holds=True,
            level=deviation.ratio if math.isfinite(deviation.ratio) else None,
            message=message,
            details=details,
        )
    return _Condition(holds=False)


def alert_acknowledge(*, alert: Alert, user: User | AnonymousUser | None) -> Alert:
    """Mark an alert as seen (it stays open until its condition clears)."""
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = user if isinstance(user, User) else None
    alert.save(update_fields=["acknowledged_at", "acknowledged_by", "updated_at"])
    return alert


def planning_refresh(*, organization_id: int, recommend: bool = False) -> int:
    """Evaluate the organization's alerts (and regenerate its recommendations); returns its open alerts."""
    organization = Organization.objects.get(pk=organization_id)
    if recommend:
        from planning.recommendations import recommendations_generate

        recommendations_generate(organization=organization)
    alerts_evaluate(organization=organization)
    return Alert.objects.filter(organization=organization, status=Alert.Status.OPEN).count()


def planning_refresh_enqueue(*, organization_id: int, recommend: bool) -> None:
    """Queue a planning refresh once the current transaction commits."""
    from planning.tasks import refresh_planning

    transaction.on_commit(lambda: refresh_planning.delay(organization_id, recommend))


def alerts_evaluate_all() -> int:
    """Evaluate every organization's alerts (daily, from beat); returns how many organizations were evaluated."""
    count = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            alerts_evaluate(organization=organization)
        except Exception:  # one organization's failure must not stop the others
            logger.exception("alert evaluation failed for %s", organization.slug)
            continue
        count += 1
    return count
