"""Reads of the ingest app: uploads and ledger totals, always scoped to an organization or a user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, F, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from finops.models import Organization
from finops.selectors import organizations_for_user
from ingest.models import COUNTED_COST_BASES, LedgerEntry, Upload

TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
SUMMARY_FIELDS = {
    "provider": F("provider"),
    "model": F("model"),
    "team": Coalesce(F("team__name"), Value("unallocated")),
    "token_type": F("token_type"),
    "day": F("date"),
    "month": TruncMonth("date"),
}


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


def usage_summary(
    *,
    organization: Organization,
    by: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[dict[str, Any]]:
    """Tokens and cost grouped by any of provider, model, team, token_type, day, month.

    Each group has ``tokens`` (token types only, not ``other`` units), ``cost`` (Decimal, USD)
    and ``records``.
    """
    unknown = [field for field in by if field not in SUMMARY_FIELDS]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(unknown)}; choose from {', '.join(SUMMARY_FIELDS)}")
    entries = ledger_for(organization=organization, date_from=date_from, date_to=date_to)
    totals = {
        "tokens": Coalesce(Sum("quantity", filter=~Q(token_type="other") & Q(unit="tokens")), Value(0)),
        "cost": Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
        "records": Count("id"),
    }
    rows: Any
    if not by:
        rows = [entries.aggregate(**totals)]
    else:
        grouped = entries.annotate(**{f"g_{field}": SUMMARY_FIELDS[field] for field in by}).values(
            *[f"g_{field}" for field in by]
        )
        rows = grouped.annotate(**totals).order_by(*[f"g_{field}" for field in by])
    result = []
    for row in rows:
        item: dict[str, Any] = {field: row[f"g_{field}"] for field in by}
        if "day" in item:
            item["day"] = item["day"].isoformat()
        if "month" in item:
            item["month"] = item["month"].isoformat()[:7]
        item["tokens"] = int(row["tokens"])
        item["cost"] = row["cost"] if row["cost"] is not None else Decimal(0)
        item["records"] = row["records"]
        result.append(item)
    return result


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
    rule assigned; empty ``provider``/``model`` and a None ``team`` mean every one."""
    entries = ledger_for(organization=organization, date_from=date_from, date_to=date_to)
    if team == "unallocated":
        entries = entries.filter(team__isnull=True)
    elif team is not None:
        entries = entries.filter(team__name=team)
    if provider:
        entries = entries.filter(provider=provider)
    if model:
        entries = entries.filter(model=model)
    fields: list[str] = ["date"]
    if by_team_model:
        entries = entries.annotate(team_name=Coalesce(F("team__name"), Value("unallocated")))
        fields += ["team_name", "model"]
    rows = (
        entries.values(*fields)
        .annotate(
            tokens=Coalesce(Sum("quantity", filter=~Q(token_type="other") & Q(unit="tokens")), Value(0)),
            cost=Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
        )
        .order_by(*fields)
    )
    result = []
    for row in rows:
        item: dict[str, Any] = {"day": row["date"], "tokens": int(row["tokens"]), "cost": row["cost"] or Decimal(0)}
        if by_team_model:
            item["team"], item["model"] = row["team_name"], row["model"]
        result.append(item)
    return result


def usage_last_day(*, organization: Organization) -> date | None:
    """The latest day with any ledger row of the organization (how far its actuals reach)."""
    return ledger_for(organization=organization).aggregate(last=Max("date"))["last"]  # type: ignore[no-any-return]
