"""Provisioned throughput against pay-as-you-go: units, committed cost and break-even by hand (pure), the shipped
offers file, and the commitment recommendation recomputed from its evidence."""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from planning import commitment
from planning.commitment import Offer, month_commitment, offers_read
from planning.models import Recommendation
from planning.recommendations import recommendations_generate
from tests.planning.test_recommendations import ON, ROUTE, catalog, make_run  # noqa: F401 (catalog is a fixture)

HEADER = (
    "provider,model_id,plan,unit_name,usd_per_unit_hour,term,input_tokens_per_minute_per_unit,"
    "output_tokens_per_minute_per_unit,output_token_weight,minimum_units,source\n"
)


def _offer(price: str, *, tpm: int | None = 1000, out_tpm: int | None = None, weight: str | None = "4", minimum=1):
    return Offer(
        provider=ROUTE,
        model_id="tc-large",
        plan="TC",
        unit_name="unit",
        usd_per_unit_hour=Decimal(price),
        term="1_month",
        input_tokens_per_minute=tpm,
        output_tokens_per_minute=out_tpm,
        output_token_weight=Decimal(weight) if weight else None,
        minimum_units=minimum,
        source="test",
    )


# A day: 1M input, 10k cached input, 200k output; January, 31 days; prices 10 / 1 / 30 USD per million.
TOKENS = {"input": 31_000_000, "cached_input": 310_000, "output": 6_200_000}
PRICES = {"input": Decimal("10"), "cached_input": Decimal("1"), "output": Decimal("30")}


def test_a_weighted_unit_is_sized_for_the_peak_and_compared_with_pay_as_you_go() -> None:
    # Load a minute: (1,000,000 + 10,000 + 4 x 200,000) / 1,440 = 1,256.94; x 3 at the peak = 3,770.83: 4 units of
    # 1,000. Committed 4 x 0.1 x 24 x 31 = 297.60; pay-as-you-go 31 x (10 + 0.01 + 6) = 496.31.
    month = month_commitment(plan=[_offer("0.1")], tokens=TOKENS, days=31, usd_per_million=PRICES)
    assert month.units == (4,)
    assert month.committed == Decimal("297.600")
    assert month.pay_as_you_go == Decimal("496.31")
    assert month.saving == Decimal("198.710")
    # Exact capacity 3.7708 units x 74.40 = 280.55 per 496.31 of tokens: 0.565 a dollar; the one-unit minimum
    # (74.40) is above 0.565 x 74.40, so the plan pays from 74.40 of spend a month.
    assert month.cost_per_pay_as_you_go_dollar.quantize(Decimal("0.001")) == Decimal("0.565")
    assert month.break_even == Decimal("74.400")


def test_a_unit_dearer_than_the_tokens_it_carries_never_breaks_even() -> None:
    # 3.7708 units x 0.5 x 744 = 1,402.75 for 496.31 of tokens: 2.83 a dollar
    month = month_commitment(plan=[_offer("0.5")], tokens=TOKENS, days=31, usd_per_million=PRICES)
    assert (month.units, month.committed) == ((4,), Decimal("1488.000"))
    assert month.cost_per_pay_as_you_go_dollar.quantize(Decimal("0.01")) == Decimal("2.83")
    assert month.break_even is None


def test_separate_input_and_output_units_with_minimums() -> None:
    # Input units carry 1,000 input tokens a minute (cached counted): 1,010,000 / 1,440 x 3 = 2,104.2 -> 3, but at
    # least 100; output units 1,000 output tokens: 200,000 / 1,440 x 3 = 416.7 -> 1, but at least 10.
    plan = [
        _offer("0.18", weight=None, minimum=100),
        _offer("0.90", tpm=None, out_tpm=1000, weight=None, minimum=10),
    ]
    month = month_commitment(plan=plan, tokens=TOKENS, days=31, usd_per_million=PRICES)
    assert month.units == (100, 10)
    # 100 x 0.18 x 744 + 10 x 0.90 x 744 = 13,392 + 6,696
    assert month.committed == Decimal("20088.000")
    # exact: 2.1042 x 0.18 x 744 + 0.41667 x 0.9 x 744 = 281.80 + 279.00 = 560.80 > 496.31: never
    assert month.break_even is None


def test_the_shipped_offers_name_catalog_routes_and_carry_capacity() -> None:
    offers = offers_read()
    assert len(offers) == 71
    assert {offer.provider for offer in offers} == {"azure_openai", "aws_bedrock", "gcp_vertex"}
    assert all(offer.capacity_per_minute > 0 and offer.usd_per_unit_hour > 0 and offer.source for offer in offers)
    gpt_4o = [offer for offer in offers if offer.model_id == "gpt-4o" and offer.plan == "Azure Global Provisioned"]
    assert [(offer.input_tokens_per_minute, offer.output_token_weight, offer.minimum_units) for offer in gpt_4o] == [
        (2500, Decimal("4"), 15)
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("catalog")
def test_the_recommendation_takes_the_plan_that_saves_most_and_recomputes_from_its_evidence(
    organization, tmp_path: Path, monkeypatch
) -> None:
    offers = tmp_path / "offers.csv"
    offers.write_text(
        HEADER
        + f"{ROUTE},tc-large,TC Hourly,unit,0.5,none (hourly),1000,,4,1,test price\n"
        + f"{ROUTE},tc-large,TC Reserved,unit,0.1,1_year,1000,,4,1,test reservation\n"
    )
    monkeypatch.setattr(commitment, "PROVISIONED_FILE", offers)
    make_run(organization)
    # When
    recommendations_generate(organization=organization, on=ON)
    # Then one commitment for tc-large (the route is covered, so no "prices missing" note), on the reservation:
    # each day 16.01 of tokens against 4 units x 0.1 x 24 = 9.60: 6.41 a day, 198.71 in January, 2,339.65 a year
    row = Recommendation.objects.get(organization=organization, kind=Recommendation.Kind.COMMITMENT)
    assert (row.provider, row.model, row.team) == (ROUTE, "tc-large", "")
    assert (row.monthly_savings, row.twelve_month_savings) == (Decimal("198.71"), Decimal("2339.65"))
    assert row.title == "tc-large on testcloud: TC Reserved (1_year) instead of pay-as-you-go: save $198.71 a month"
    evidence = json.loads(json.dumps(row.evidence))
    assert (evidence["plan"], evidence["term"]) == ("TC Reserved", "1_year")
    # A reader redoes every month: units from tokens, days and the offer; costs from the prices
    per_month = []
    for month, units in zip(evidence["months"], evidence["units_by_month"], strict=True):
        (offer,) = evidence["offers"]
        tokens, days = month["tokens"], month["days"]
        load = Decimal(sum(tokens.get(kind, 0) for kind in ("input", "cached_input", "cache_write")))
        load += Decimal(offer["output_token_weight"]) * tokens.get("output", 0)
        peak = Decimal(evidence["assumptions"]["peak_to_average_load"])
        expected_units = max(offer["minimum_units"], math.ceil(load / (days * 1440) * peak / 1000))
        assert units == [expected_units]
        committed = expected_units * Decimal(offer["usd_per_unit_hour"]) * 24 * days
        pay = sum(
            Decimal(tokens.get(kind, 0)) * Decimal(price["usd_per_million"])
            for kind, price in evidence["prices_from"].items()
        ) / Decimal(1_000_000)
        per_month.append(pay - committed)
    cent = Decimal("0.01")
    assert per_month[0].quantize(cent, ROUND_HALF_UP) == row.monthly_savings
    assert sum(per_month, Decimal(0)).quantize(cent, ROUND_HALF_UP) == row.twelve_month_savings
