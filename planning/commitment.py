"""Provisioned (committed) throughput against pay-as-you-go, pure: the offers a route sells for a model
(``finops/data/provisioned_throughput.csv``), the units a month's forecast tokens need, what they cost, and the
monthly pay-as-you-go spend at which the smallest commitment breaks even.

A unit carries a number of tokens per minute: input tokens (cached input and cache writes counted as input, which is
conservative: some routes deduct cached tokens), plus output tokens weighted by ``output_token_weight`` where one unit
serves both, or output tokens only for a route that sells output capacity as a unit of its own. Capacity is bought for
the busiest minutes, not the average: a month needs ``ceil(average tokens per minute x PEAK_TO_AVERAGE_LOAD /
capacity)`` units, at least the plan's minimum, for 24 hours a day of the month.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from finops.catalog import DATA_DIR

PROVISIONED_FILE = DATA_DIR / "provisioned_throughput.csv"
PEAK_TO_AVERAGE_LOAD = Decimal(3)
"""Capacity is sized for minutes carrying three times the month's average load (an assumption, stated in the
evidence: measure your own busiest minutes before buying)."""
MINUTES_PER_DAY = 1440
HOURS_PER_DAY = 24
INPUT_LIKE = ("input", "cached_input", "cache_write")
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Offer:
    """One unit a route sells for a model: its hourly price, term and what it carries per minute."""

    provider: str
    model_id: str
    plan: str
    unit_name: str
    usd_per_unit_hour: Decimal
    term: str
    input_tokens_per_minute: int | None
    output_tokens_per_minute: int | None
    output_token_weight: Decimal | None
    minimum_units: int
    source: str

    def load_per_minute(self, tokens: Mapping[str, int], days: int) -> Decimal:
        """The month's average tokens per minute that count against this unit."""
        input_tokens = sum(tokens.get(token_type, 0) for token_type in INPUT_LIKE)
        output_tokens = tokens.get("output", 0)
        if self.input_tokens_per_minute is None:
            counted = Decimal(output_tokens)
        elif self.output_token_weight is None:
            counted = Decimal(input_tokens)
        else:
            counted = input_tokens + self.output_token_weight * output_tokens
        return counted / (days * MINUTES_PER_DAY)

    @property
    def capacity_per_minute(self) -> int:
        capacity = self.input_tokens_per_minute or self.output_tokens_per_minute
        assert capacity, f"{self.unit_name}: no capacity"
        return capacity

    def units(self, tokens: Mapping[str, int], days: int, peak: Decimal = PEAK_TO_AVERAGE_LOAD) -> int:
        """Units needed for a month: the peak load over one unit's capacity, rounded up, at least the minimum."""
        needed = self.load_per_minute(tokens, days) * peak / self.capacity_per_minute
        return max(self.minimum_units, math.ceil(needed))

    def as_evidence(self) -> dict[str, str | int | None]:
        return {
            "unit_name": self.unit_name,
            "usd_per_unit_hour": str(self.usd_per_unit_hour),
            "term": self.term,
            "input_tokens_per_minute_per_unit": self.input_tokens_per_minute,
            "output_tokens_per_minute_per_unit": self.output_tokens_per_minute,
            "output_token_weight": str(self.output_token_weight) if self.output_token_weight is not None else None,
            "minimum_units": self.minimum_units,
            "source": self.source,
        }


def _optional_int(value: str) -> int | None:
    return int(value) if value.strip() else None


def offers_read(path: Path | None = None) -> list[Offer]:
    """Every offer of ``path`` (default: the shipped file)."""
    with (path or PROVISIONED_FILE).open(newline="", encoding="utf-8") as handle:
        return [
            Offer(
                provider=row["provider"],
                model_id=row["model_id"],
                plan=row["plan"],
                unit_name=row["unit_name"],
                usd_per_unit_hour=Decimal(row["usd_per_unit_hour"]),
                term=row["term"],
                input_tokens_per_minute=_optional_int(row["input_tokens_per_minute_per_unit"]),
                output_tokens_per_minute=_optional_int(row["output_tokens_per_minute_per_unit"]),
                output_token_weight=Decimal(row["output_token_weight"]) if row["output_token_weight"] else None,
                minimum_units=int(row["minimum_units"]),
                source=row["source"],
            )
            for row in csv.DictReader(handle)
        ]


def plans(offers: Iterable[Offer]) -> dict[tuple[str, str], list[Offer]]:
    """Offers grouped into what is bought together: (plan, term) -> its units (Bedrock: an input and an output
    unit; Azure and Vertex: one unit)."""
    grouped: dict[tuple[str, str], list[Offer]] = {}
    for offer in offers:
        grouped.setdefault((offer.plan, offer.term), []).append(offer)
    return grouped


@dataclass(frozen=True)
class MonthCommitment:
    """One month under a plan: the units of each offer, the committed cost and the pay-as-you-go cost it replaces;
    ``cost_per_pay_as_you_go_dollar``, what capacity sized exactly to the month's peak (no rounding, no minimum) costs
    per dollar of the tokens it carries (at 1 or more the plan never pays at this mix), and ``break_even``, the monthly
    pay-as-you-go spend from which the plan costs less (None when it never does)."""

    units: tuple[int, ...]
    committed: Decimal
    pay_as_you_go: Decimal
    cost_per_pay_as_you_go_dollar: Decimal | None
    break_even: Decimal | None

    @property
    def saving(self) -> Decimal:
        return self.pay_as_you_go - self.committed


def _break_even(exact_costs: Sequence[Decimal], minimum_costs: Sequence[Decimal], pay_as_you_go: Decimal) -> Decimal:
    """The spend ``S`` with ``sum(max(minimum, S x exact / pay_as_you_go)) == S`` (the plan's cost at the volume
    that spends S at pay-as-you-go), found by iteration from the minimums' cost; it converges because the exact
    costs add up to less than the pay-as-you-go cost."""
    fractions = [cost / pay_as_you_go for cost in exact_costs]
    spend = sum(minimum_costs, Decimal(0))
    for _ in range(200):
        following = sum(
            (max(minimum, spend * fraction) for minimum, fraction in zip(minimum_costs, fractions, strict=True)),
            Decimal(0),
        )
        if abs(following - spend) < Decimal("0.000001"):
            return following
        spend = following
    return spend


def month_commitment(
    *,
    plan: Sequence[Offer],
    tokens: Mapping[str, int],
    days: int,
    usd_per_million: Mapping[str, Decimal],
    peak: Decimal = PEAK_TO_AVERAGE_LOAD,
) -> MonthCommitment:
    """A month's committed cost under ``plan`` against the pay-as-you-go cost of the same tokens."""
    hours = days * HOURS_PER_DAY
    units = tuple(offer.units(tokens, days, peak) for offer in plan)
    committed = sum(
        (count * offer.usd_per_unit_hour * hours for count, offer in zip(units, plan, strict=True)), Decimal(0)
    )
    pay_as_you_go = (
        sum((Decimal(tokens.get(token_type, 0)) * price for token_type, price in usd_per_million.items()), Decimal(0))
        / MILLION
    )
    if pay_as_you_go <= 0:
        return MonthCommitment(units, committed, pay_as_you_go, None, None)
    exact = [
        offer.load_per_minute(tokens, days) * peak / offer.capacity_per_minute * offer.usd_per_unit_hour * hours
        for offer in plan
    ]
    ratio = sum(exact, Decimal(0)) / pay_as_you_go
    minimums = [offer.minimum_units * offer.usd_per_unit_hour * hours for offer in plan]
    break_even = _break_even(exact, minimums, pay_as_you_go) if ratio < 1 else None
    return MonthCommitment(units, committed, pay_as_you_go, ratio, break_even)
