"""Reads of the ingest app: uploads and ledger totals, always scoped to an organization or a user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Case, DateField, F, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek

from finops.models import FxRate, Organization, Team
from finops.selectors import FxTable, organizations_for_user
from ingest.models import COUNTED_COST_BASES, LedgerEntry, LedgerLine, Upload, UsageDaily, UsageRollupState

TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
# What usage totals can be grouped by, as expressions on the daily rollup; a team is grouped by its id and
# named afterwards, "unallocated" for usage no rule assigned.
_GROUP_EXPRESSIONS: dict[str, Any] = {
    "provider": F("provider"),
    "model": F("model"),
    "team": F("team_id"),
    "token_type": F("token_type"),
    "day": F("date"),
    "week": TruncWeek("date", output_field=DateField()),
    "month": TruncMonth("date", output_field=DateField()),
}
SUMMARY_FIELDS: tuple[str, ...] = tuple(_GROUP_EXPRESSIONS)
UNALLOCATED = "unallocated"


def uploads_for_user(*, user: User | AnonymousUser) -> QuerySet[Upload]:
    """Uploads of every organization the user belongs to."""
    return Upload.objects.filter(organization__in=organizations_for_user(user=user)).select_related("organization")


def ledger_for(
    *, organization: Organization, date_from: date | None = None, date_to: date | None = None
) -> QuerySet[LedgerEntry]:
    """The organization's ledger rows, optionally between two dates (inclusive)."""
    entries = LedgerEntry.objects.filter(organization=organization)
    if date_from is not None:
        entries = entries.filter(date__gte=date_from)
    if date_to is not None:
        entries = entries.filter(date__lte=date_to)
    return entries


@dataclass(frozen=True)
class UsageFilters:
    """What a usage summary is limited to; empty strings and None mean no limit. ``team`` is a team's name, or
    "unallocated" for usage no rule assigned."""

    provider: str = ""
    model: str = ""
    team: str = ""
    token_type: str = ""
    date_from: date | None = None
    date_to: date | None = None


def _usage_state(organization: Organization) -> tuple[str, list[str]] | None:
    """The organization's usage version and the currencies its rollup holds; None before its first ingest."""
    state = UsageRollupState.objects.filter(organization=organization).values_list("version", "currencies").first()
    if state is None:
        return None
    rollup_version, currencies = state
    return str(usage_version_from(organization, rollup_version)), list(currencies)


def usage_version_annotation() -> Subquery:
    """The rollup version of each organization of an ``Organization`` query, for a view that reads several versions
    in one query; ``usage_version_from`` makes ``usage_version``'s token of it."""
    return Subquery(UsageRollupState.objects.filter(organization=OuterRef("pk")).values("version")[:1])


def usage_version_from(organization: Organization, rollup_version: object) -> str | None:
    """``usage_version`` of the organization, given its rollup version (``usage_version_annotation``)."""
    if rollup_version is None:
        return None
    return f"{organization.pk}:{rollup_version}:{organization.reporting_currency}"


def _fx_for(organization: Organization, currencies: list[str]) -> FxTable | None:
    """The exchange rates the organization's totals need; None when every cost is in its reporting currency."""
    reporting = organization.reporting_currency
    foreign = sorted(set(currencies) - {reporting})
    if not foreign:
        return None
    wanted = {*foreign, reporting, "USD"}
    return FxTable(
        FxRate.objects.filter(from_currency__in=wanted, to_currency__in=wanted)
        .order_by("pk")
        .values_list("from_currency", "to_currency", "rate", "rate_date")
    )


def usage_version(*, organization: Organization) -> str | None:
    """A token that changes whenever any usage total of the organization may change: its rollup was refreshed
    (every ledger change refreshes it), its reporting currency changed, or, through ``ingest.rollup.
    usage_version_bump`` (called on every save and delete of a team or an exchange rate), a team was renamed or an
    exchange rate added, edited or removed. None before its first ingest. What answers from the rollup are cached
    under; one small query."""
    state = _usage_state(organization)
    return state[0] if state else None


def usage_summary(
    *,
    organization: Organization,
    by: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
    provider: str = "",
    model: str = "",
    team: str = "",
    token_type: str = "",
) -> list[dict[str, Any]]:
    """Tokens and cost grouped by any of provider, model, team, token_type, day, week, month, optionally limited to
    one provider, model, team (its name, or "unallocated") or token type and to days between two dates.

    Each group has its keys (``day`` and ``week`` (its Monday) as ISO dates, ``month`` as ``YYYY-MM``, ``team`` by
    name), ``tokens`` (token types only, not ``other`` units), ``cost`` (Decimal in the organization's reporting
    currency, unrounded: each day's cost converted at the rate in force that day, ``finops.selectors.FxTable``)
    and ``records`` (ledger entries); groups come sorted by their keys. Without ``by``, one group: the total.

    Reads the daily rollup (``UsageDaily``), not the ledger: about a thousand rows a day for an organization of
    50 teams, whatever its ledger holds. Raises ValueError for an unknown field and FxRateMissing when a cost's
    currency has no rate to the reporting currency on its day.
    """
    unknown = [field for field in by if field not in _GROUP_EXPRESSIONS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; choose from {', '.join(SUMMARY_FIELDS)}")
    by = list(dict.fromkeys(by))
    filters = UsageFilters(
        provider=provider, model=model, team=team, token_type=token_type, date_from=date_from, date_to=date_to
    )
    state = _usage_state(organization)
    if state is None:  # nothing ingested yet
        return [] if by else [{"tokens": 0, "cost": Decimal(0), "records": 0}]
    fx = _fx_for(organization, state[1])
    return _usage_summary_rows(
        organization=organization, by=by, filters=filters, fx=fx, reporting=organization.reporting_currency
    )


def _usage_summary_rows(
    *, organization: Organization, by: list[str], filters: UsageFilters, fx: FxTable | None, reporting: str
) -> list[dict[str, Any]]:
    """The summary computed from the rollup: grouped in SQL by the fields and the currency (and by day, for the
    costs that need converting), converted and added up here."""
    rows = UsageDaily.objects.filter(organization=organization)
    for field in ("provider", "model", "token_type"):
        if getattr(filters, field):
            rows = rows.filter(**{field: getattr(filters, field)})
    if filters.team == UNALLOCATED:
        rows = rows.filter(team__isnull=True)
    elif filters.team:
        rows = rows.filter(team_id__in=Team.objects.filter(organization=organization, name=filters.team).values("pk"))
    if filters.date_from is not None:
        rows = rows.filter(date__gte=filters.date_from)
    if filters.date_to is not None:
        rows = rows.filter(date__lte=filters.date_to)
    keys = {f"g_{field}": _GROUP_EXPRESSIONS[field] for field in by}
    if fx is not None:
        # A cost in another currency is converted at its day's rate: those rows are grouped by day as well.
        keys["fx_day"] = Case(When(currency=reporting, then=Value(None)), default=F("date"), output_field=DateField())
    grouped = (
        rows.annotate(**keys)
        .values(*keys, "currency")
        .annotate(tokens=Sum("tokens"), cost=Sum("cost"), records=Sum("records"))
        .order_by()
    )
    team_names = dict(Team.objects.filter(organization=organization).values_list("pk", "name")) if "team" in by else {}
    totals: dict[tuple[Any, ...], list[Any]] = {}
    groups: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # the group of each key as SQL gives it
    rates: dict[tuple[str, date], Decimal] = {}
    for row in grouped:
        cost = row["cost"] if row["cost"] is not None else Decimal(0)
        if fx is not None and row["currency"] != reporting:
            day_rate = rates.get((row["currency"], row["fx_day"]))
            if day_rate is None:
                day_rate, _ = fx.rate(from_currency=row["currency"], to_currency=reporting, on=row["fx_day"])
                rates[row["currency"], row["fx_day"]] = day_rate
            cost *= day_rate
        key = tuple(row[f"g_{field}"] for field in by)
        group = groups.get(key)
        if group is None:
            group = groups[key] = tuple(
                _group_value(field, value, team_names) for field, value in zip(by, key, strict=True)
            )
        total = totals.setdefault(group, [0, Decimal(0), 0])
        total[0] += int(row["tokens"] or 0)
        total[1] += cost
        total[2] += int(row["records"] or 0)
    if not by and not totals:
        totals[()] = [0, Decimal(0), 0]
    return [
        {**dict(zip(by, group, strict=True)), "tokens": tokens, "cost": cost, "records": records}
        for group, (tokens, cost, records) in sorted(totals.items())
    ]


def _group_value(field: str, value: Any, team_names: dict[int, str]) -> Any:
    if field == "team":
        return team_names.get(value, UNALLOCATED) if value is not None else UNALLOCATED
    if field == "month":
        return value.isoformat()[:7]
    if field in ("day", "week"):
        return value.isoformat()
    return value


def usage_daily_tokens(*, organization: Organization) -> list[tuple[date, int]]:
    """Total tokens per day (all token types, ``other`` excluded), oldest first."""
    rows = (
        LedgerEntry.objects.filter(organization=organization)
        .exclude(token_type="other")
        .filter(unit="tokens")
        .values("date")
        .annotate(tokens=Sum("quantity"))
        .order_by("date")
    )
    return [(row["date"], int(row["tokens"])) for row in rows]


def usage_cost_per_token(*, organization: Organization, date_from: date, date_to: date) -> Decimal | None:
    """Average cost of one token (USD, billed or estimated) over a period, or None when nothing is priced.

    All USD cost that counts (billed rows of cost files included, superseded estimates excluded)
    divided by all tokens of the period.
    """
    totals = (
        ledger_for(organization=organization, date_from=date_from, date_to=date_to)
        .filter(currency="USD")
        .aggregate(
            tokens=Sum("quantity", filter=~Q(token_type="other") & Q(unit="tokens")),
            cost=Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
        )
    )
    if not totals["tokens"] or totals["cost"] is None:
        return None
    return Decimal(totals["cost"]) / Decimal(totals["tokens"])


def usage_daily_by_leaf(*, organization: Organization) -> list[tuple[str, str, str, str, date, int]]:
    """Daily tokens per provider, team (name, or "unallocated"), model and token type, oldest first.

    The leaves of every forecast: each level people budget at (provider, team, model, team x model,
    the organization) is a sum of leaves. Only token rows (``other`` and money-only rows excluded).
    """
    rows = (
        LedgerEntry.objects.filter(organization=organization, unit="tokens")
        .exclude(token_type="other")
        .values("provider", "model", "token_type", "date")
        .annotate(team_name=Coalesce(F("team__name"), Value("unallocated")), tokens=Sum("quantity"))
        .order_by("date")
    )
    return [
        (row["provider"], row["team_name"], row["model"], row["token_type"], row["date"], int(row["tokens"]))
        for row in rows
    ]


def usage_unit_costs(
    *, organization: Organization, date_from: date, date_to: date
) -> dict[tuple[str, str, str], Decimal]:
    """USD per token actually paid (billed, or estimated from list price) per provider, model and token type.

    Counted cost of the period (cost files' billed rows included, superseded estimates excluded) divided
    by the tokens of the period; keys with no tokens or no cost are left out.
    """
    rows = (
        ledger_for(organization=organization, date_from=date_from, date_to=date_to)
        .filter(currency="USD")
        .exclude(token_type="other")
        .values("provider", "model", "token_type")
        .annotate(
            tokens=Sum("quantity", filter=Q(unit="tokens")),
            cost=Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
        )
        .order_by()
    )
    return {
        (row["provider"], row["model"], row["token_type"]): Decimal(row["cost"]) / Decimal(row["tokens"])
        for row in rows
        if row["tokens"] and row["cost"] is not None
    }


def organizations_with_usage() -> QuerySet[Organization]:
    """Organizations whose ledger has at least one token row."""
    with_tokens = LedgerEntry.objects.filter(unit="tokens").values("organization_id")
    return Organization.objects.filter(pk__in=with_tokens).order_by("slug")


def usage_daily_scope(
    *,
    organization: Organization,
    date_from: date,
    date_to: date,
    team: str | None = None,
    provider: str = "",
    model: str = "",
    by_team_model: bool = False,
) -> list[dict[str, Any]]:
    """Tokens and cost (USD) per day of one scope, oldest first: ``{"day", "tokens", "cost"}`` (plus ``team`` and
    ``model`` per team x model when ``by_team_model``). ``team`` is a team's name, or "unallocated" for usage no
    rule assigned; empty ``provider``/``model`` and a None ``team`` mean every one. Reads the daily rollup (a
    quarter's budget status adds up thousands of rollup rows, not millions of ledger records)."""
    rows_of = UsageDaily.objects.filter(organization=organization, date__gte=date_from, date__lte=date_to)
    if team == "unallocated":
        rows_of = rows_of.filter(team__isnull=True)
    elif team is not None:
        rows_of = rows_of.filter(team__name=team)
    if provider:
        rows_of = rows_of.filter(provider=provider)
    if model:
        rows_of = rows_of.filter(model=model)
    fields: list[str] = ["date"]
    if by_team_model:
        rows_of = rows_of.annotate(team_name=Coalesce(F("team__name"), Value("unallocated")))
        fields += ["team_name", "model"]
    rows = (
        rows_of.values(*fields).annotate(tokens=Coalesce(Sum("tokens"), Value(0)), cost=Sum("cost")).order_by(*fields)
    )
    result = []
    for row in rows:
        item: dict[str, Any] = {"day": row["date"], "tokens": int(row["tokens"]), "cost": row["cost"] or Decimal(0)}
        if by_team_model:
            item["team"], item["model"] = row["team_name"], row["model"]
        result.append(item)
    return result


def usage_last_day(*, organization: Organization) -> date | None:
    """The latest day with any ledger row of the organization (how far its actuals reach).

    Read from the ledger's lines (every line holds at least one record), whose index on organization and date
    answers it without reading the lines."""
    last = LedgerLine.objects.filter(organization=organization).aggregate(last=Max("date"))["last"]
    return last  # type: ignore[no-any-return]
