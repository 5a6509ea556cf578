"""Recommendations against PostgreSQL: each kind on a small hand-built organization (figures worked out by hand),
regeneration without duplicates, the lifecycle (accept, dismiss, snooze), savings recomputed from the evidence alone,
a real forecast accepted into a what-if run, and the ``recommend`` command."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from finops.catalog import canonical_model_id
from finops.models import CatalogModel, ModelQualityScore, PriceMultiplier
from forecasting.models import ForecastMonth, ForecastRun, ForecastSeries
from forecasting.selectors import forecast_levels
from planning import savings
from planning.models import Recommendation
from planning.recommendations import (
    recommendation_accept,
    recommendation_dismiss,
    recommendation_snooze,
    recommendations_generate,
)
from tests.factories import LedgerEntryFactory, ModelPriceFactory, TeamFactory, UploadFactory, create_ledger_entries

pytestmark = pytest.mark.django_db

ROUTE = "testcloud"
HISTORY_END = date(2026, 12, 31)
ON = date(2027, 1, 1)
SNAPSHOT = date(2026, 6, 1)
# model: (input, output, cached input, cache write) USD per million, lmarena score
MODELS = {
    "tc-large": (("10", "30", "1", "12.5"), "1300"),
    "tc-mid": (("2", "8", "0.5", None), "1299"),
    "tc-plus": (("5", "15", None, None), "1310"),
    "tc-small": (("0.5", "1.5", None, None), "1250"),
}
# (team, model, token type, tokens a day, weekend factor of the history)
LEAVES = [
    ("search", "tc-large", "input", 1_000_000, 1.0),
    ("search", "tc-large", "output", 200_000, 1.0),
    ("search", "tc-large", "cached_input", 10_000, 1.0),
    ("support", "tc-mid", "input", 100_000, 0.2),
    ("support", "tc-mid", "output", 300_000, 0.2),
]
Kind = Recommendation.Kind


@pytest.fixture
def catalog() -> None:
    """Four models on a route of their own (so the shipped catalog does not compete), scored in one snapshot, with a
    50% batch tier."""
    for model, (prices, score) in MODELS.items():
        for token_type, usd in zip(("input", "output", "cached_input", "cache_write"), prices, strict=True):
            if usd is not None:
                ModelPriceFactory(provider=ROUTE, model=model, token_type=token_type, usd_per_million=Decimal(usd))
        CatalogModel.objects.create(provider=ROUTE, model_id=model, canonical_id=canonical_model_id(model))
        ModelQualityScore.objects.create(
            provider="testvendor",
            model=model,
            canonical_id=canonical_model_id(model),
            score_name="lmarena_text_elo",
            score=Decimal(score),
            as_of=SNAPSHOT,
            source="test leaderboard",
        )
    PriceMultiplier.objects.create(
        provider=ROUTE, kind="batch", multiplier=Decimal("0.5"), token_types=["input", "output"], source="test batch"
    )


def make_run(organization, leaves=LEAVES, *, scale: float = 1.0, horizon: int = 365) -> ForecastRun:
    """A succeeded run built by hand: constant daily forecasts, 8 weeks of history, $100 a month of provider cost."""
    history_start = HISTORY_END - timedelta(days=55)
    run = ForecastRun.objects.create(
        organization=organization,
        status=ForecastRun.Status.SUCCEEDED,
        horizon_days=horizon,
        history_start=history_start,
        history_end=HISTORY_END,
        history_days=56,
        finished_at=timezone.now(),
    )
    for team, model, token_type, per_day, weekend in leaves:
        history = [
            round(per_day * (weekend if (history_start + timedelta(days=day)).weekday() >= 5 else 1.0))
            for day in range(56)
        ]
        ForecastSeries.objects.create(
            run=run,
            kind=ForecastSeries.Kind.LEAF,
            status=ForecastSeries.Status.SUCCEEDED,
            provider=ROUTE,
            team=team,
            model=model,
            token_type=token_type,
            history={"start": history_start.isoformat(), "values": history},
            forecast={"yhat": [per_day * scale] * horizon},
        )
    for month, days in savings.full_months(start=ON, days=horizon):
        ForecastMonth.objects.create(
            run=run, level="provider", key=ROUTE, month=month, days=days, tokens=1, cost=Decimal("100.00")
        )
    return run


def by_kind(result) -> dict[tuple[str, str], Recommendation]:
    return {(row.kind, row.team): row for row in result.recommendations}


# --- each kind ------------------------------------------------------------------------------------------------------


def test_each_kind_is_proposed_with_hand_computed_savings(organization, catalog) -> None:
    run = make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    found = by_kind(result)
    assert sorted(found) == [
        (Kind.BATCH, "search"),
        (Kind.COMMITMENT, ""),
        (Kind.MODEL_SWITCH, "search"),
        (Kind.PROMPT_CACHING, "search"),
    ]
    assert (result.run, result.created, result.updated, result.unchanged) == (run, 4, 0, 0)
    # Switch: per day 1M x (10 - 2) + 0.2M x (30 - 8) + 0.01M x (1 - 0.5) = $12.405; January 31 days, the year 365.
    switch = found[(Kind.MODEL_SWITCH, "search")]
    assert (switch.provider, switch.model, switch.to_model) == (ROUTE, "tc-large", "tc-mid")
    assert (switch.monthly_savings, switch.twelve_month_savings) == (Decimal("384.56"), Decimal("4527.83"))
    assert (switch.confidence, switch.lower_quality, switch.quality_gap) == ("medium", True, 1.0)
    assert "lower quality by 1.0 points on lmarena_text_elo" in switch.title
    assert switch.evidence["candidates"] == {
        "considered": 3,
        "unscored": 0,
        "not_cheaper": 0,
        "below_quality_bar": 1,
        "eligible": 2,
    }
    # Caching: 10 - (0.5 x 1 + 0.5 x 12.5) = $3.25 per million uncached input, 1M a day.
    caching = found[(Kind.PROMPT_CACHING, "search")]
    assert (caching.monthly_savings, caching.twelve_month_savings) == (Decimal("100.75"), Decimal("1186.25"))
    assert caching.confidence == "medium" and caching.to_model == ""
    # Batch: 0.3 x 0.5 x (1M x 10 + 0.2M x 30) = $2.40 a day.
    batch = found[(Kind.BATCH, "search")]
    assert (batch.monthly_savings, batch.twelve_month_savings) == (Decimal("74.40"), Decimal("876.00"))
    assert batch.evidence["shape"]["weekend_to_weekday_ratio"] == 1.0
    commitment = found[(Kind.COMMITMENT, "")]
    assert (commitment.provider, commitment.monthly_savings, commitment.twelve_month_savings) == (ROUTE, None, None)
    assert commitment.confidence == "low"
    assert set(commitment.evidence["needed"]) == {"hourly_usd_per_unit", "tokens_per_minute_per_unit"}
    assert commitment.evidence["pay_as_you_go_cost_by_month"]["2027-01"] == "100.00"
    assert all(row.forecast_run == run and row.currency == "USD" for row in result.recommendations)


def test_support_gets_nothing_office_hours_output_heavy_and_no_cheaper_model_at_the_bar(organization, catalog) -> None:
    make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    # Its only cheaper model (tc-small) scores 49 points lower; input is a quarter of its tokens; weekends are quiet.
    assert not [row for row in result.recommendations if row.team == "support"]


def test_no_switch_is_proposed_for_a_model_without_a_score(organization, catalog) -> None:
    ModelQualityScore.objects.filter(canonical_id="tc-large").delete()
    make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    assert Kind.MODEL_SWITCH not in {row.kind for row in result.recommendations}


def test_a_negotiated_price_counts(organization, catalog) -> None:
    from tests.factories import PriceOverrideFactory

    PriceOverrideFactory(organization=organization, provider=ROUTE, model="tc-large", discount_percent=Decimal("50"))
    make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    # tc-large at half price: input 5, output 15, cached 0.5, cache write 6.25; caching saves 5 - (0.25 + 3.125).
    caching = by_kind(result)[(Kind.PROMPT_CACHING, "search")]
    assert caching.monthly_savings == Decimal("50.38")  # 31 x 1.625 = 50.375
    assert Decimal(caching.evidence["prices_from"]["input"]["usd_per_million"]) == Decimal(5)
    assert caching.evidence["prices_from"]["input"]["override"]


def test_a_deprecated_model_is_priced_on_its_successor_from_the_deprecation_month(organization, catalog) -> None:
    CatalogModel.objects.filter(provider=ROUTE, model_id="tc-large").update(
        deprecation_date=date(2027, 4, 15), successor=CatalogModel.objects.get(provider=ROUTE, model_id="tc-mid")
    )
    make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    deprecation = by_kind(result)[(Kind.DEPRECATION, "")]
    assert (deprecation.model, deprecation.to_model) == ("tc-large", "tc-mid")
    # $12.405 a day from April: April 30 days, April-December 275 days.
    assert (deprecation.monthly_savings, deprecation.twelve_month_savings) == (Decimal("372.15"), Decimal("3411.38"))
    assert deprecation.evidence["monthly_month"] == "2027-04-01"
    assert deprecation.evidence["monthly_savings_by_month"][:3] == ["0", "0", "0"]
    assert (deprecation.confidence, deprecation.lower_quality, deprecation.quality_gap) == ("high", True, 1.0)
    assert "is deprecated on 2027-04-15: moving to tc-mid: save $372.15 a month" in deprecation.title


def test_a_deprecation_without_successor_says_so_without_a_figure(organization, catalog) -> None:
    CatalogModel.objects.filter(provider=ROUTE, model_id="tc-mid").update(deprecation_date=date(2027, 6, 30))
    make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    found = by_kind(result)
    deprecation = found[(Kind.DEPRECATION, "")]
    assert (deprecation.model, deprecation.to_model, deprecation.monthly_savings) == ("tc-mid", "", None)
    assert deprecation.confidence == "low" and deprecation.evidence["successor"] is None
    assert "no successor is known" in deprecation.title
    # A model retiring within the year is no switch target: search moves to tc-plus (scores higher) instead.
    switch = found[(Kind.MODEL_SWITCH, "search")]
    assert (switch.to_model, switch.confidence, switch.lower_quality) == ("tc-plus", "high", False)


def test_a_switch_to_a_dearer_successor_is_a_cost_increase(organization, catalog) -> None:
    CatalogModel.objects.filter(provider=ROUTE, model_id="tc-mid").update(
        deprecation_date=date(2027, 1, 31), successor=CatalogModel.objects.get(provider=ROUTE, model_id="tc-plus")
    )
    make_run(organization)

    result = recommendations_generate(organization=organization, on=ON)

    deprecation = by_kind(result)[(Kind.DEPRECATION, "")]
    # support: 0.1M x (2 - 5) + 0.3M x (8 - 15) = -$2.40 a day; January is the deprecation month.
    assert (deprecation.monthly_savings, deprecation.twelve_month_savings) == (Decimal("-74.40"), Decimal("-876.00"))
    assert "costs $74.40 more a month" in deprecation.title


# --- regeneration ---------------------------------------------------------------------------------------------------


def test_regenerating_twice_changes_nothing_and_never_duplicates(organization, catalog) -> None:
    make_run(organization)
    first = recommendations_generate(organization=organization, on=ON)

    second = recommendations_generate(organization=organization, on=ON)

    assert (second.created, second.updated, second.unchanged, second.withdrawn) == (0, 0, 4, 0)
    assert {row.pk for row in second.recommendations} == {row.pk for row in first.recommendations}
    assert Recommendation.objects.filter(organization=organization).count() == 4


def test_a_newer_forecast_updates_open_recommendations_in_place(organization, catalog) -> None:
    make_run(organization)
    first = by_kind(recommendations_generate(organization=organization, on=ON))
    newer = make_run(organization, scale=2.0)

    result = recommendations_generate(organization=organization, on=ON)

    assert (result.created, result.updated, result.unchanged) == (0, 4, 0)
    again = by_kind(result)
    assert {key: row.pk for key, row in again.items()} == {key: row.pk for key, row in first.items()}
    switch = Recommendation.objects.get(pk=again[(Kind.MODEL_SWITCH, "search")].pk)
    assert (switch.monthly_savings, switch.twelve_month_savings) == (Decimal("769.11"), Decimal("9055.65"))
    assert switch.forecast_run == newer and switch.evidence["forecast_run"] == newer.pk


def test_dismissed_stays_dismissed_and_open_ones_no_longer_proposed_are_withdrawn(
    organization, catalog, analyst
) -> None:
    make_run(organization)
    found = by_kind(recommendations_generate(organization=organization, on=ON))
    dismissed = recommendation_dismiss(
        recommendation=found[(Kind.MODEL_SWITCH, "search")], reason="tc-mid fails our evals", user=analyst
    )
    make_run(organization, leaves=[leaf for leaf in LEAVES if leaf[0] == "support"])

    result = recommendations_generate(organization=organization, on=ON)

    # search is gone from the forecast: its open caching and batch rows are withdrawn, the dismissed switch stays.
    assert (result.created, result.updated, result.unchanged, result.withdrawn) == (0, 1, 0, 2)
    dismissed.refresh_from_db()
    assert (dismissed.status, dismissed.dismiss_reason, dismissed.acted_by) == (
        "dismissed",
        "tc-mid fails our evals",
        analyst,
    )
    assert dismissed.monthly_savings == Decimal("384.56")
    assert set(Recommendation.objects.values_list("kind", "status")) == {
        (Kind.MODEL_SWITCH, "dismissed"),
        (Kind.COMMITMENT, "open"),
    }


def test_a_dismissed_recommendation_is_left_alone_by_a_newer_forecast(organization, catalog, analyst) -> None:
    make_run(organization)
    found = by_kind(recommendations_generate(organization=organization, on=ON))
    recommendation_dismiss(recommendation=found[(Kind.BATCH, "search")], reason="latency matters", user=analyst)
    make_run(organization, scale=2.0)

    result = recommendations_generate(organization=organization, on=ON)

    assert (result.updated, result.left_alone) == (3, 1)
    batch = Recommendation.objects.get(kind=Kind.BATCH)
    assert (batch.status, batch.monthly_savings) == ("dismissed", Decimal("74.40"))


def test_a_snoozed_recommendation_reopens_and_is_updated_once_its_date_comes(organization, catalog, analyst) -> None:
    make_run(organization)
    found = by_kind(recommendations_generate(organization=organization, on=ON))
    until = timezone.localdate() + timedelta(days=10)
    recommendation_snooze(recommendation=found[(Kind.PROMPT_CACHING, "search")], until=until, user=analyst)
    make_run(organization, scale=2.0)

    before = recommendations_generate(organization=organization, on=until - timedelta(days=1))
    caching = Recommendation.objects.get(kind=Kind.PROMPT_CACHING)
    assert (before.left_alone, caching.status, caching.monthly_savings) == (1, "snoozed", Decimal("100.75"))

    recommendations_generate(organization=organization, on=until)

    caching.refresh_from_db()
    assert (caching.status, caching.snoozed_until, caching.monthly_savings) == ("open", None, Decimal("201.50"))


# --- recomputing from the evidence alone ----------------------------------------------------------------------------


def _prices(prices: dict[str, dict[str, Any]]) -> dict[str, Decimal]:
    return {token_type: Decimal(price["usd_per_million"]) for token_type, price in prices.items()}


def _unit_savings(evidence: dict[str, Any]) -> dict[str, Decimal]:
    """Each kind's unit savings redone from its prices and named assumptions."""
    before, after, assumed = _prices(evidence["prices_from"]), _prices(evidence["prices_to"]), evidence["assumptions"]
    if evidence["kind"] in (Kind.MODEL_SWITCH, Kind.DEPRECATION):
        return {token_type: before[token_type] - after[token_type] for token_type in before if token_type in after}
    if evidence["kind"] == Kind.PROMPT_CACHING:
        hit = Decimal(str(assumed["cache_hit_rate"]))
        return {"input": before["input"] - (hit * after["cached_input"] + (1 - hit) * after["cache_write"])}
    share = Decimal(str(assumed["batch_eligible_share"]))
    return {
        token_type: share * (1 - Decimal(found["multiplier"])) * before[token_type]
        for token_type, found in evidence["batch_multipliers"].items()
    }


def recompute(evidence: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """Monthly and twelve-month savings from nothing but the evidence."""
    unit = _unit_savings(evidence)
    applies_from = evidence.get("applies_from") or "0000"
    months = [month for month in evidence["months"] if month["month"] >= applies_from]
    per_month = [
        sum((Decimal(month["tokens"].get(token_type, 0)) * usd for token_type, usd in unit.items()), Decimal(0))
        / Decimal(1_000_000)
        for month in months
    ]
    assert months[0]["month"] == evidence["monthly_month"]
    cent = Decimal("0.01")
    return per_month[0].quantize(cent, ROUND_HALF_UP), sum(per_month, Decimal(0)).quantize(cent, ROUND_HALF_UP)


def test_every_figure_is_recomputed_exactly_from_its_evidence(organization, catalog) -> None:
    CatalogModel.objects.filter(provider=ROUTE, model_id="tc-large").update(
        deprecation_date=date(2027, 4, 15), successor=CatalogModel.objects.get(provider=ROUTE, model_id="tc-mid")
    )
    make_run(organization, scale=1.37)
    recommendations_generate(organization=organization, on=ON)

    stored = Recommendation.objects.filter(organization=organization).exclude(monthly_savings=None)

    assert sorted(stored.values_list("kind", flat=True)) == sorted(
        [Kind.BATCH, Kind.DEPRECATION, Kind.MODEL_SWITCH, Kind.PROMPT_CACHING]
    )
    for row in stored:
        evidence = json.loads(json.dumps(row.evidence))  # as an API client would read it
        assert recompute(evidence) == (row.monthly_savings, row.twelve_month_savings), row.kind
        assert evidence["monthly_savings"] == str(row.monthly_savings)
        assert evidence["twelve_month_savings"] == str(row.twelve_month_savings)
        stated = {key: Decimal(value) for key, value in evidence["unit_savings_usd_per_million"].items()}
        assert stated == _unit_savings(evidence)
        assert len(evidence["months"]) == 12 and evidence["prices_held_flat"]
        for price in [*evidence["prices_from"].values(), *evidence["prices_to"].values()]:
            assert price["effective_from"] == "2025-01-01" and price["source"] == "factory"


def test_a_short_horizon_counts_the_months_it_covers_and_says_so(organization, catalog) -> None:
    make_run(organization, horizon=90)  # January to March 2027

    switch = by_kind(recommendations_generate(organization=organization, on=ON))[(Kind.MODEL_SWITCH, "search")]

    assert switch.twelve_month_savings == Decimal("1116.45")  # 90 days x $12.405
    assert switch.evidence["months_counted"] == 3
    assert "covers only 3" in switch.evidence["window"]


# --- lifecycle ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "team", "what_if"),
    [
        (Kind.MODEL_SWITCH, "search", {"switch": {"from_model": "tc-large", "to_model": "tc-mid"}}),
        (Kind.PROMPT_CACHING, "search", {"cached_input_share": 0.5}),
        (Kind.BATCH, "search", {"batch_share": 0.3}),
    ],
)
def test_accepting_starts_a_what_if_of_the_run_it_was_computed_from(
    organization, catalog, analyst, kind, team, what_if
) -> None:
    run = make_run(organization)
    recommendation = by_kind(recommendations_generate(organization=organization, on=ON))[(kind, team)]

    what_if_run = recommendation_accept(recommendation=recommendation, user=analyst)

    assert (what_if_run.baseline, what_if_run.what_if, what_if_run.trigger) == (run, what_if, "what_if")
    assert what_if_run.created_by == analyst
    recommendation.refresh_from_db()
    assert (recommendation.status, recommendation.what_if_run, recommendation.acted_by) == (
        "accepted",
        what_if_run,
        analyst,
    )
    with pytest.raises(ValueError, match="already accepted"):
        recommendation_accept(recommendation=recommendation, user=analyst)


def test_accepting_a_deprecation_switches_to_the_successor(organization, catalog, analyst) -> None:
    CatalogModel.objects.filter(provider=ROUTE, model_id="tc-large").update(
        deprecation_date=date(2027, 4, 15), successor=CatalogModel.objects.get(provider=ROUTE, model_id="tc-mid")
    )
    make_run(organization)
    deprecation = by_kind(recommendations_generate(organization=organization, on=ON))[(Kind.DEPRECATION, "")]

    what_if_run = recommendation_accept(recommendation=deprecation, user=analyst)

    assert what_if_run.what_if == {"switch": {"from_model": "tc-large", "to_model": "tc-mid"}}


def test_a_commitment_or_an_unknown_successor_cannot_be_accepted(organization, catalog, analyst) -> None:
    CatalogModel.objects.filter(provider=ROUTE, model_id="tc-mid").update(deprecation_date=date(2027, 6, 30))
    make_run(organization)
    found = by_kind(recommendations_generate(organization=organization, on=ON))

    with pytest.raises(ValueError, match="provisioned-throughput prices"):
        recommendation_accept(recommendation=found[(Kind.COMMITMENT, "")], user=analyst)
    with pytest.raises(ValueError, match="no known successor"):
        recommendation_accept(recommendation=found[(Kind.DEPRECATION, "")], user=analyst)

    assert set(Recommendation.objects.values_list("status", flat=True)) == {"open"}
    assert not ForecastRun.objects.filter(trigger=ForecastRun.Trigger.WHAT_IF).exists()


def test_dismissing_needs_a_reason_and_snoozing_a_future_date(organization, catalog, analyst) -> None:
    make_run(organization)
    recommendation = recommendations_generate(organization=organization, on=ON).recommendations[0]

    with pytest.raises(ValueError, match="reason is required"):
        recommendation_dismiss(recommendation=recommendation, reason="  ", user=analyst)
    with pytest.raises(ValueError, match="future date"):
        recommendation_snooze(recommendation=recommendation, until=timezone.localdate(), user=analyst)

    recommendation.refresh_from_db()
    assert recommendation.status == "open"


def test_nothing_happens_without_a_succeeded_run(organization, catalog) -> None:
    result = recommendations_generate(organization=organization, on=ON)

    assert (result.run, result.created, result.recommendations) == (None, 0, [])


# --- from a real forecast to a what-if ------------------------------------------------------------------------------


def test_a_real_forecast_gives_a_switch_whose_what_if_books_the_target(
    organization, catalog, analyst, django_capture_on_commit_callbacks
) -> None:
    from forecasting.services import forecast_run_create

    start = date(2026, 1, 1)
    upload, team = UploadFactory(organization=organization), TeamFactory(organization=organization, name="search")
    entries = [
        LedgerEntryFactory.build(
            organization=organization,
            upload=upload,
            team=team,
            provider=ROUTE,
            date=start + timedelta(days=offset),
            model="tc-large",
            model_raw="tc-large",
            token_type=token_type,
            quantity=quantity,
            cost=Decimal(quantity) * unit_cost,
            cost_basis="billed",
        )
        for offset in range(42)
        for token_type, quantity, unit_cost in (
            ("input", 1_000_000, Decimal("0.00001")),
            ("output", 200_000, Decimal("0.00003")),
        )
    ]
    create_ledger_entries(entries)
    with django_capture_on_commit_callbacks(execute=True):
        run = forecast_run_create(organization=organization, horizon_days=90)
    run.refresh_from_db()
    assert run.status == ForecastRun.Status.SUCCEEDED, run.error

    switch = by_kind(recommendations_generate(organization=organization, on=start + timedelta(days=42)))[
        (Kind.MODEL_SWITCH, "search")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        what_if = recommendation_accept(recommendation=switch, user=analyst)

    what_if.refresh_from_db()
    assert switch.to_model == "tc-mid" and switch.monthly_savings > 0
    assert what_if.status == ForecastRun.Status.SUCCEEDED, what_if.error
    assert set(forecast_levels(run=what_if)["model"]) == {"tc-mid"}
    # The what-if is now the latest succeeded run; recommendations still come from the forecast it re-priced.
    again = recommendations_generate(organization=organization, on=start + timedelta(days=42))
    assert again.run == run
    with pytest.raises(ValueError, match="is a what-if"):
        recommendations_generate(organization=organization, run=what_if)


# --- the command ----------------------------------------------------------------------------------------------------


def test_the_command_regenerates_and_prints_a_table_or_json(organization, catalog) -> None:
    make_run(organization)
    table, report = StringIO(), StringIO()

    call_command("recommend", "--org", "acme", stdout=table)
    call_command("recommend", "--org", "acme", "--json", stdout=report)

    lines = table.getvalue().splitlines()
    assert lines[0].endswith("4 created, 0 updated, 0 unchanged, 0 left alone, 0 withdrawn")
    switch_line = next(line for line in lines if line.startswith("model_switch"))
    assert "testcloud/tc-large -> tc-mid" in switch_line and "384.56" in switch_line and "4,527.83" in switch_line
    parsed = json.loads(report.getvalue())
    assert (parsed["organization"], parsed["unchanged"], len(parsed["recommendations"])) == ("acme", 4, 4)
    switch = next(row for row in parsed["recommendations"] if row["kind"] == "model_switch")
    assert (switch["monthly_savings"], switch["twelve_month_savings"]) == ("384.56", "4527.83")
    assert switch["evidence"]["prices_to"]["input"]["usd_per_million"] == "2.000000"


def test_the_command_names_an_unknown_organization() -> None:
    with pytest.raises(CommandError, match="no organization 'nope'"):
        call_command("recommend", "--org", "nope")
