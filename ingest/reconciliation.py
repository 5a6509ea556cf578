"""Reconciliation: billed cost against tokens x list price, per provider, model and month, with drift flags.

For each provider, model and month of an organization's ledger:

- billed cost: the cost of billed or amortized token rows (``other`` rows such as credits, tools and
  provisioned throughput are left out: they have no token price), converted to USD at the rate of
  each row's day;
- tokens per token type, from every token row (usage files and cost files with quantities);
- list cost: the sum over days and token types of tokens x the list price in force that day;
- expected cost: the same with the organization's negotiated prices and the service-tier
  multipliers (batch, flex) applied;
- drift = billed / list - 1, flagged when its size exceeds the threshold (default 10%), or when the
  negotiated prices expect something else than billed by more than the threshold, or when billed
  tokens have no list price. Each line says why in ``reasons``.

A token row whose model has no list price under its normalized id is looked up under its exported
name, as the ingest's cost estimate does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, QuerySet, Sum

from finops.models import Organization
from finops.selectors import FxRateMissing, PriceBook, PriceQuote, fx_table, price_book
from ingest.models import BILLED_COST_BASES, LedgerEntry
from ingest.selectors import TOKEN_TYPES, ledger_for

DEFAULT_THRESHOLD = Decimal("0.10")
DRIFT_QUANTUM = Decimal("0.0001")
LineFor = Callable[[str, str, date], "ReconciliationLine"]
MILLION = Decimal(1_000_000)


@dataclass
class ReconciliationLine:
    """One provider, model and month: what was billed against what the tokens cost at list price."""

    provider: str
    model: str
    month: date
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_TYPES, 0))
    billed: dict[str, Decimal] = field(default_factory=dict)
    billed_usd: Decimal | None = None
    list_cost: Decimal = Decimal(0)
    expected_cost: Decimal = Decimal(0)
    unpriced_tokens: dict[str, int] = field(default_factory=dict)
    drift: Decimal | None = None
    expected_drift: Decimal | None = None
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)
    # Internal: why billed cost could not be put in USD, and when the catalog first prices an unpriced type.
    fx_problem: str = ""
    first_listed: dict[str, date] = field(default_factory=dict)

    @property
    def has_tokens(self) -> bool:
        return any(self.tokens.values())


def ledger_reconciliation(
    *,
    organization: Organization,
    threshold: Decimal = DEFAULT_THRESHOLD,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[ReconciliationLine]:
    """Billed vs list cost per provider, model and month of the organization's ledger, oldest month first."""
    if threshold < 0:
        raise ValueError(f"the threshold must be zero or more, not {threshold}")
    entries = ledger_for(organization=organization, date_from=date_from, date_to=date_to)
    lines: dict[tuple[str, str, date], ReconciliationLine] = {}

    def line_for(provider: str, model: str, day: date) -> ReconciliationLine:
        month = day.replace(day=1)
        key = (provider, model, month)
        if key not in lines:
            lines[key] = ReconciliationLine(provider=provider, model=model, month=month)
        return lines[key]

    _add_billed(entries, line_for)
    _add_tokens(entries, line_for, list_prices=price_book(), own_prices=price_book(organization=organization))
    result = [lines[key] for key in sorted(lines, key=lambda key: (key[2], key[0], key[1]))]
    for line in result:
        _judge(line, threshold)
    return result


def _add_billed(entries: QuerySet[LedgerEntry], line_for: LineFor) -> None:
    billed_rows = (
        entries.filter(cost_basis__in=BILLED_COST_BASES, cost__isnull=False)
        .exclude(token_type="other")
        .values("provider", "model", "date", "currency")
        .annotate(cost=Sum("cost"))
        .order_by()
    )
    rows = list(billed_rows)
    table = fx_table(currencies={row["currency"] for row in rows})
    for row in rows:
        line = line_for(row["provider"], row["model"], row["date"])
        line.billed[row["currency"]] = line.billed.get(row["currency"], Decimal(0)) + row["cost"]
        try:
            conversion = table.convert(
                amount=row["cost"], from_currency=row["currency"], to_currency="USD", on=row["date"]
            )
        except FxRateMissing as error:
            line.fx_problem = str(error)
            continue
        line.billed_usd = (line.billed_usd or Decimal(0)) + conversion.amount


def _add_tokens(
    entries: QuerySet[LedgerEntry], line_for: LineFor, *, list_prices: PriceBook, own_prices: PriceBook
) -> None:
    token_rows = (
        entries.filter(Q(unit="tokens") & Q(token_type__in=TOKEN_TYPES))
        .values("provider", "model", "model_raw", "date", "token_type", "service_tier")
        .annotate(quantity=Sum("quantity"))
        .order_by()
    )
    for row in token_rows:
        line = line_for(row["provider"], row["model"], row["date"])
        quantity, token_type, day = int(row["quantity"]), row["token_type"], row["date"]
        line.tokens[token_type] += quantity
        names = list(dict.fromkeys((row["model"], row["model_raw"])))
        listed = _first_quote(list_prices, provider=row["provider"], names=names, token_type=token_type, on=day)
        own = _first_quote(
            own_prices,
            provider=row["provider"],
            names=names,
            token_type=token_type,
            on=day,
            service_tier=row["service_tier"],
        )
        if listed is None:
            line.unpriced_tokens[token_type] = line.unpriced_tokens.get(token_type, 0) + quantity
            first = list_prices.first_listed(provider=row["provider"], model=row["model"], token_type=token_type)
            if first is not None:
                line.first_listed[token_type] = first
        else:
            line.list_cost += quantity * listed.usd_per_million / MILLION
        if own is not None:
            line.expected_cost += quantity * own.usd_per_million / MILLION


def _first_quote(
    book: PriceBook, *, provider: str, names: list[str], token_type: str, on: date, service_tier: str = ""
) -> PriceQuote | None:
    """The first name (normalized id, then exported name) the book prices, as the ingest estimate does."""
    for name in names:
        quote = book.quote(provider=provider, model=name, token_type=token_type, on=on, service_tier=service_tier)
        if quote is not None:
            return quote
    return None


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return (numerator / denominator - 1).quantize(DRIFT_QUANTUM, ROUND_HALF_UP)


def _percent(value: Decimal) -> str:
    return f"{abs(value) * 100:.1f}%"


def _judge(line: ReconciliationLine, threshold: Decimal) -> None:
    """Compute the drifts, set the flag and say why."""
    reasons = line.reasons
    has_billed = bool(line.billed)
    if line.fx_problem:
        line.billed_usd = None
        line.flagged = True
        reasons.append(f"billed cost cannot be compared: {line.fx_problem}")
    if line.unpriced_tokens:
        line.flagged = line.flagged or has_billed
        for token_type, quantity in sorted(line.unpriced_tokens.items()):
            first = line.first_listed.get(token_type)
            hint = (
                f"the catalog prices it only from {first.isoformat()} (a price listed late?)"
                if first is not None and first > line.month
                else "unknown model, tier or mapping: add a price, or a catalog alias for this name"
            )
            reasons.append(
                f"no list price for {quantity:,} {token_type} tokens of {line.model} on {line.provider}: {hint}"
            )
    if not has_billed:
        if line.has_tokens:
            reasons.append("no billed cost for these tokens (only list-price estimates): nothing to reconcile")
        return
    if not line.has_tokens:
        reasons.append("billed cost without token counts: load the usage export for this month to compare")
        return
    if line.billed_usd is None or line.unpriced_tokens or line.list_cost == 0:
        return
    line.drift = _ratio(line.billed_usd, line.list_cost)
    if line.expected_cost and line.expected_cost != line.list_cost:
        line.expected_drift = _ratio(line.billed_usd, line.expected_cost)
    explained = line.expected_drift is not None and abs(line.expected_drift) <= threshold
    if abs(line.drift) > threshold:
        line.flagged = True
        if line.drift < 0:
            reasons.append(
                f"billed {_percent(line.drift)} below list: a negotiated discount, the batch or flex tier, or credits"
            )
        else:
            reasons.append(
                f"billed {_percent(line.drift)} above list: a long-context or priority tier, a regional surcharge, "
                "or a wrong model mapping"
            )
        if explained:
            reasons.append(
                f"your negotiated prices and service tiers explain it: expected {line.expected_cost:.6f} USD"
            )
    if line.expected_drift is not None and abs(line.expected_drift) > threshold:
        line.flagged = True
        direction = "above" if line.expected_drift > 0 else "below"
        reasons.append(
            f"billed {_percent(line.expected_drift)} {direction} what your negotiated prices and service tiers "
            f"expect ({line.expected_cost:.6f} USD)"
            + (": a negotiated discount may be missing from the bill" if line.expected_drift > 0 else "")
        )
    if not line.flagged:
        reasons.append(f"within {_percent(threshold)} of list")
