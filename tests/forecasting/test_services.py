"""Forecast runs in-process against PostgreSQL: leaves, levels, coherence, cost, what-ifs, failures, re-runs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from forecasting import fitting
from forecasting.models import ForecastMonth, ForecastPoint, ForecastRun, ForecastSeries
from forecasting.selectors import forecast_compare, forecast_levels, forecast_monthly
from forecasting.services import (
    forecast_refresh_after_ingest,
    forecast_run_create,
    forecast_run_execute,
    forecast_run_rerun,
)
from tests.factories import LedgerEntryFactory, TeamFactory, UploadFactory, create_ledger_entries

pytestmark = pytest.mark.django_db

START = date(2026, 1, 1)
# (team, model, token type, tokens on day 0, USD per token)
LEAVES = [
    ("search", "gpt-4o-mini", "input", 1_000_000, Decimal("0.00000015")),
    ("search", "gpt-4o-mini", "output", 200_000, Decimal("0.0000006")),
    ("support", "gpt-4o-mini", "input", 400_000, Decimal("0.00000015")),
    ("support", "gpt-4.1", "input", 100_000, Decimal("0.000002")),
]


def make_history(organization, days: int, leaves=LEAVES) -> None:
    upload = UploadFactory(organization=organization)
    teams = {name: TeamFactory(organization=organization, name=name) for name in {leaf[0] for leaf in leaves}}
    entries = []
    for team, model, token_type, base, unit_cost in leaves:
        for offset in range(days):
            day = START + timedelta(days=offset)
            quantity = base + base // 100 * offset - (base // 2 if day.weekday() >= 5 else 0)
            entries.append(
                LedgerEntryFactory.build(
                    organization=organization,
                    upload=upload,
                    team=teams[team],
                    date=day,
                    model=model,
                    model_raw=model,
                    token_type=token_type,
                    quantity=quantity,
                    cost=Decimal(quantity) * unit_cost,
                    cost_basis="billed",
                )
            )
    create_ledger_entries(entries)


def run_forecast(django_capture_on_commit_callbacks, organization, **kwargs) -> ForecastRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = forecast_run_create(organization=organization, **kwargs)
    run.refresh_from_db()
    return run


def test_a_run_forecasts_every_leaf_and_adds_them_up_to_every_level(
    organization, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 42)

    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=60)

    assert run.status == ForecastRun.Status.SUCCEEDED, run.error
    # Two workloads (openai x search, openai x support) are fitted; the four leaves are their volume split by mix.
    assert (run.series_total, run.series_done, run.series_failed) == (2, 2, 0)
    assert run.history_start == START and run.history_end == START + timedelta(days=41)
    workloads = ForecastSeries.objects.filter(run=run, kind=ForecastSeries.Kind.WORKLOAD)
    leaves = ForecastSeries.objects.filter(run=run, kind=ForecastSeries.Kind.LEAF)
    assert sorted(workloads.values_list("team", "model", "token_type")) == [("search", "", ""), ("support", "", "")]
    assert sorted(leaves.values_list("team", "model", "token_type")) == sorted(leaf[:3] for leaf in LEAVES)
    assert all(item.model_name and "mix:" in item.model_reason for item in workloads)
    assert all(item.model_name == "mix" and "of workload openai/" in item.model_reason for item in leaves)
    served = sorted(workloads.values_list("model_name", flat=True))
    assert set(run.model_name.split(", ")) == {f"{name} x{served.count(name)}" for name in set(served)}
    levels = forecast_levels(run=run)
    assert set(levels) == {"organization", "provider", "team", "model", "team_model"}
    assert set(levels["team"]) == {"search", "support"}
    assert set(levels["team_model"]) == {"search | gpt-4o-mini", "support | gpt-4o-mini", "support | gpt-4.1"}
    # Bottom-up: every level's months add up to the organization's (each stored value is rounded once).
    organization_months = levels["organization"][""]
    assert [m["month"] for m in organization_months] == ["2026-02", "2026-03", "2026-04"]
    for level in ("provider", "team", "model", "team_model"):
        for index, month in enumerate(organization_months):
            total = sum(months[index]["tokens"] for months in levels[level].values())
            assert abs(total - month["tokens"]) <= len(levels[level]), (level, month["month"])
    for month in organization_months:
        for width in ("50", "80", "95"):
            low, high = month["tokens_intervals"][width]
            assert low <= month["tokens"] <= high
        assert month["tokens_intervals"]["95"][0] <= month["tokens_intervals"]["50"][0]
        assert month["tokens_intervals"]["95"][1] >= month["tokens_intervals"]["50"][1]
        assert sum(month["tokens_by_type"].values()) == pytest.approx(month["tokens"], abs=3)
    assert ForecastPoint.objects.filter(run=run).count() == 60


def test_cost_is_tokens_times_the_price_paid_projected_under_the_scenario(
    organization, django_capture_on_commit_callbacks
) -> None:
    leaf = [("search", "acme-private-model", "input", 1_000_000, Decimal("0.000002"))]
    make_history(organization, 42, leaves=leaf)

    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=31, policy="stay")

    # No list price for this model: the price paid ($2 per million) is carried forward flat.
    assert run.cost_per_million_tokens == Decimal("2.000000")
    for month in forecast_monthly(run=run):
        assert month["cost"] == (Decimal(month["tokens"]) * Decimal("0.000002")).quantize(Decimal("0.01"))
        assert month["cost_lower"] <= month["cost"] <= month["cost_upper"]
        assert month["unpriced_tokens"] == 0


def test_unpriced_tokens_are_reported_not_costed(organization, django_capture_on_commit_callbacks) -> None:
    make_history(organization, 20, leaves=[("search", "acme-private-model", "input", 5000, Decimal(0))])
    from ingest.models import LedgerLine

    LedgerLine.objects.filter(organization=organization).update(input_cost=None, input_basis="unknown")

    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=10)

    month = forecast_monthly(run=run)[0]
    assert month["cost"] is None
    assert month["unpriced_tokens"] == month["tokens"] > 0


def test_a_failing_series_is_reported_and_the_run_goes_on(
    organization, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    make_history(organization, 30)
    real_fit = fitting.fit_series

    def fit_failing_on_search(history, **kwargs):
        if history["y"].iloc[0] == 1_200_000:  # the search workload: 1,000,000 input + 200,000 output tokens
            raise RuntimeError("stan crashed")
        return real_fit(history, **kwargs)

    monkeypatch.setattr(fitting, "fit_series", fit_failing_on_search)

    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=14)

    assert run.status == ForecastRun.Status.SUCCEEDED
    assert (run.series_done, run.series_failed) == (2, 1)
    failed = ForecastSeries.objects.filter(run=run, status="failed")
    assert sorted(failed.values_list("kind", "model", "error")) == [
        ("leaf", "gpt-4o-mini", "its workload openai/search could not be forecast"),
        ("leaf", "gpt-4o-mini", "its workload openai/search could not be forecast"),
        ("workload", "", "RuntimeError: stan crashed"),
    ]
    assert "1 failed" in run.model_reason
    assert set(forecast_levels(run=run)["team"]) == {"support"}


def test_rerunning_a_run_replaces_its_results(organization, django_capture_on_commit_callbacks) -> None:
    make_history(organization, 30)
    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=14)
    first_ids = set(ForecastMonth.objects.filter(run=run).values_list("id", flat=True))
    first_tokens = list(ForecastMonth.objects.filter(run=run).order_by("id").values_list("level", "key", "tokens"))

    with django_capture_on_commit_callbacks(execute=True):
        forecast_run_rerun(run=run)
    run.refresh_from_db()

    assert run.status == ForecastRun.Status.SUCCEEDED
    assert not first_ids & set(ForecastMonth.objects.filter(run=run).values_list("id", flat=True))
    assert list(ForecastMonth.objects.filter(run=run).order_by("id").values_list("level", "key", "tokens")) == (
        first_tokens
    )
    assert ForecastSeries.objects.filter(run=run).count() == 6  # 2 workloads and their 4 leaves


def test_a_what_if_reprices_the_baseline_and_compares_side_by_side(
    organization, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 30)
    baseline = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=31)

    what_if = run_forecast(
        django_capture_on_commit_callbacks, organization, baseline=baseline, what_if={"batch_share": 1.0}
    )

    assert what_if.status == ForecastRun.Status.SUCCEEDED, what_if.error
    assert what_if.trigger == ForecastRun.Trigger.WHAT_IF
    rows = forecast_compare(run=baseline, other=what_if)
    assert rows and all(row["tokens_a"] == row["tokens_b"] for row in rows)
    for row in rows:
        # All batch: input and output at half price (a cent of rounding per month at most).
        assert abs(row["cost_b"] - row["cost_a"] / 2) <= Decimal("0.01")


def test_a_model_switch_what_if_books_the_tokens_under_the_target_model(
    organization, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 30)
    baseline = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=31)

    what_if = run_forecast(
        django_capture_on_commit_callbacks,
        organization,
        baseline=baseline,
        what_if={"switch": {"from_model": "gpt-4.1", "to_model": "gpt-4o-mini"}},
    )

    levels = forecast_levels(run=what_if)
    assert set(levels["model"]) == {"gpt-4o-mini"}
    baseline_cost = forecast_monthly(run=baseline)[0]["cost"]
    assert forecast_monthly(run=what_if)[0]["cost"] < baseline_cost
    # Each leaf series keeps its own derived forecast (the switched one's tokens, booked under the target).
    switched = what_if.series.get(kind="leaf", team="support", model="gpt-4.1")
    original = baseline.series.get(kind="leaf", team="support", model="gpt-4.1")
    target = what_if.series.get(kind="leaf", team="support", model="gpt-4o-mini")
    assert switched.forecast["yhat"] == pytest.approx(original.forecast["yhat"], rel=1e-9)
    assert sum(target.forecast["yhat"]) > 3 * sum(switched.forecast["yhat"])
    assert switched.model_reason == original.model_reason  # its own share of its workload, not the target's
    # The what-if copied its baseline's reasons: each workload's mix is said once.
    for workload in what_if.series.filter(kind="workload"):
        assert workload.model_reason.count("; mix: ") == 1


def test_an_empty_ledger_fails_the_run_with_a_reason(organization, django_capture_on_commit_callbacks) -> None:
    run = run_forecast(django_capture_on_commit_callbacks, organization)

    assert run.status == ForecastRun.Status.FAILED
    assert run.error == "no token usage in the ledger yet: upload an export first"
    assert ForecastPoint.objects.count() == 0


def test_executing_a_finished_run_again_changes_nothing(organization, django_capture_on_commit_callbacks) -> None:
    make_history(organization, 30)
    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=7)
    before = list(run.points.values_list("id", "tokens"))

    forecast_run_execute(run_id=run.pk)

    assert list(run.points.values_list("id", "tokens")) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 731}, "horizon_days"),
        ({"interval_width": 1.0}, "interval_width"),
        ({"scenario": "rosy"}, "rosy"),
        ({"policy": "hope"}, "hope"),
        ({"what_if": {"batch_share": 0.5}}, "baseline"),
    ],
)
def test_bad_parameters_are_refused(organization, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        forecast_run_create(organization=organization, **kwargs)


def test_uploads_in_a_row_give_one_debounced_refresh(organization, settings, django_capture_on_commit_callbacks):
    settings.FORECAST_REFRESH_DEBOUNCE_SECONDS = 3600
    make_history(organization, 20)

    first = forecast_refresh_after_ingest(organization_id=organization.pk)
    first_due = first.not_before
    second = forecast_refresh_after_ingest(organization_id=organization.pk)

    assert second.pk == first.pk
    assert second.not_before > first_due
    # The task that wakes before the run is due leaves it queued.
    assert forecast_run_execute(run_id=first.pk).status == ForecastRun.Status.QUEUED
    assert ForecastRun.objects.filter(organization=organization).count() == 1


@pytest.mark.parametrize(("age_days", "reused"), [(0, "seasonal_naive"), (60, None)])
def test_a_series_reuses_its_last_model_choice_while_it_is_recent(
    organization, django_capture_on_commit_callbacks, monkeypatch, age_days, reused
) -> None:
    make_history(organization, 30)
    first = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=7)
    selected_on = (date.today() - timedelta(days=age_days)).isoformat()
    ForecastSeries.objects.filter(run=first).update(backtest={"selected": "seasonal_naive", "selected_on": selected_on})
    seen: list[str | None] = []
    real_fit = fitting.fit_series

    def recording_fit(history, **kwargs):
        seen.append(kwargs.get("reuse_model"))
        return real_fit(history, **kwargs)

    monkeypatch.setattr(fitting, "fit_series", recording_fit)
    run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=7)

    # A choice younger than 35 days is reused (no backtest); an older one is backtested again.
    assert seen == [reused] * 2  # one per workload


def test_latest_api_is_scoped_and_shows_levels_series_and_comparison(
    organization, analyst, outsider, api_client_for, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 30)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(analyst).post(
            "/api/v1/forecasts/", {"organization": "acme", "horizon_days": 10, "scenario": "aggressive"}
        )
    assert response.status_code == 202
    run_id = response.json()["id"]

    mine = api_client_for(analyst).get("/api/v1/forecasts/latest/", {"organization": "acme"})
    theirs = api_client_for(outsider).get("/api/v1/forecasts/latest/", {"organization": "acme"})
    series = api_client_for(analyst).get(f"/api/v1/forecasts/{run_id}/series/")
    compare = api_client_for(analyst).get(f"/api/v1/forecasts/{run_id}/compare/", {"with": run_id})

    assert mine.status_code == 200
    body = mine.json()
    assert (body["id"], body["scenario"], len(body["points"])) == (run_id, "aggressive", 10)
    assert set(body["levels"]) == {"provider", "team", "model", "team_model"}
    assert theirs.status_code == 404
    assert series.status_code == 200 and series.json()["count"] == 6
    assert sorted(item["kind"] for item in series.json()["results"]) == ["leaf"] * 4 + ["workload"] * 2
    assert compare.status_code == 200
    assert all(row["tokens_change"] == 0 for row in compare.json()["months"])


def test_backtests_are_stored_per_series_and_summed_up_per_run(
    organization, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 200, leaves=LEAVES[:2])

    run = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)

    assert run.status == ForecastRun.Status.SUCCEEDED, run.error
    for series in ForecastSeries.objects.filter(run=run, kind=ForecastSeries.Kind.WORKLOAD):
        backtest = series.backtest
        assert backtest["selected"] == series.model_name
        assert set(backtest["metrics"]) == set(fitting.SELECTION_POLICIES["workload"].candidates)
        assert set(backtest["selected_metrics"]) == {"30", "90"}
        assert backtest["selected_metrics"]["30"]["mase"] > 0
        assert 0 <= backtest["selected_metrics"]["90"]["coverage"] <= 1
        assert backtest["selected_on"] == date.today().isoformat()
    assert run.backtest["series_with_backtest"] == 1  # both leaves are one workload
    assert set(run.backtest["median"]) == {"30", "90"}
    assert sum(run.backtest["selected"].values()) == 1


def test_a_refresh_reuses_each_series_prophet_fit_until_the_past_changes(
    organization, django_capture_on_commit_callbacks
) -> None:
    make_history(organization, 70, leaves=LEAVES[:2])
    first = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)
    ForecastSeries.objects.filter(run=first).update(
        backtest={"selected": "prophet", "selected_on": date.today().isoformat()}
    )

    second = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)
    # The first run fitted Prophet (or not, by its backtest's choice); the second fits it now that the choice
    # is prophet, and stores the fit with each series.
    fits = dict(second.series.filter(kind="workload").values_list("team", "prophet_fit"))
    assert set(fits) == {"search"}
    assert all(fit and fit["last_day"] == (START + timedelta(days=69)).isoformat() for fit in fits.values())

    third = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)
    reasons = list(third.series.filter(kind="workload").values_list("model_reason", flat=True))
    assert reasons and all("prophet fit through 2026-03-11 reused (0 days added since" in reason for reason in reasons)
    assert dict(third.series.filter(kind="workload").values_list("team", "prophet_fit")) == fits
    # The same forecast (the stored components are rounded to 6 decimals in log space: a token or two a month).
    assert list(ForecastMonth.objects.filter(run=third).values_list("tokens", flat=True)) == pytest.approx(
        list(ForecastMonth.objects.filter(run=second).values_list("tokens", flat=True)), rel=1e-6
    )

    # Usage restated for a day the fits saw: the next run fits again.
    from ingest.models import LEDGER_SLOTS, LedgerLine, slot_field

    restated = LedgerLine.objects.filter(organization=organization, date=START + timedelta(days=10))
    for token_type in LEDGER_SLOTS:
        quantity = slot_field(token_type, "quantity")
        restated.filter(**{f"{quantity}__isnull": False}).update(**{quantity: 1})
    fourth = run_forecast(django_capture_on_commit_callbacks, organization, horizon_days=30)
    reasons = list(fourth.series.filter(kind="workload").values_list("model_reason", flat=True))
    assert reasons and all(
        "prophet refitted: usage up to 2026-03-11 changed since the fit" in reason for reason in reasons
    )
