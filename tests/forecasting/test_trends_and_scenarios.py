"""Price trend fits from the shipped catalog, and organizations' own price scenarios in forecast runs."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from forecasting.models import PriceScenario, PriceTrendFit
from forecasting.pricing import resolve_scenario
from forecasting.selectors import forecast_monthly
from forecasting.services import forecast_run_create
from tests.factories import LedgerEntryFactory, UploadFactory, create_ledger_entries

pytestmark = pytest.mark.django_db


def test_fit_price_trends_refits_the_bars_and_shows_the_published_values(capsys) -> None:
    call_command("fit_price_trends", "--json")

    rows = json.loads(capsys.readouterr().out)
    assert [row["bar_model"] for row in rows][:2] == ["gpt-4-0314", "gpt-4-turbo-2024-04-09"]
    gpt4 = rows[0]
    # GPT-4-0314's bar (Elo 1206) was first met in 2023-03 and is now met for cents: a steep decline,
    # fitted over years of monthly points, with a 90% interval around it.
    assert gpt4["window"][0] == "2023-03-01"
    assert gpt4["points"] > 24
    assert gpt4["fitted_annual_factor"] > 3
    assert gpt4["ci90"][0] < gpt4["fitted_annual_factor"] < gpt4["ci90"][1]
    assert gpt4["published_base_factor"] == 10
    assert PriceTrendFit.objects.count() == len(rows)


def test_fit_price_trends_says_which_bar_it_cannot_fit() -> None:
    with pytest.raises(CommandError, match="no-such-model: no lmarena_text_elo score"):
        call_command("fit_price_trends", "--bar", "no-such-model")


def test_an_organizations_own_scenario_drives_the_price_path_and_elasticity(
    organization, django_capture_on_commit_callbacks
) -> None:
    upload = UploadFactory(organization=organization)
    start = date(2026, 1, 1)
    entries = [
        LedgerEntryFactory.build(
            organization=organization,
            upload=upload,
            date=start + timedelta(days=offset),
            model="acme-model",
            model_raw="acme-model",
            quantity=1_000_000,
            cost=Decimal("1.00"),
            cost_basis="billed",
        )
        for offset in range(30)
    ]
    create_ledger_entries(entries)
    PriceScenario.objects.create(organization=organization, name="halving", stay_annual_drift=-0.5)
    PriceScenario.objects.create(organization=organization, name="elastic", stay_annual_drift=-0.5, elasticity=0.5)

    with django_capture_on_commit_callbacks(execute=True):
        base = forecast_run_create(organization=organization, horizon_days=365, scenario="base")
        halving = forecast_run_create(organization=organization, horizon_days=365, scenario="halving")
        elastic = forecast_run_create(organization=organization, horizon_days=365, scenario="elastic")
    base.refresh_from_db()
    halving.refresh_from_db()

    assert base.status == halving.status == "succeeded"
    base_months, halving_months = forecast_monthly(run=base), forecast_monthly(run=halving)
    assert [m["tokens"] for m in base_months] == [m["tokens"] for m in halving_months]
    # $1 per million tokens paid; prices halve over a year under "halving" (continuous compounding).
    last_base, last_halving = base_months[-1], halving_months[-1]
    assert float(last_base["cost"]) == pytest.approx(float(last_base["tokens"]) / 1e6, rel=1e-3)
    assert 0.5 < float(last_halving["cost"]) / float(last_base["cost"]) < 0.6
    # Elasticity 0.5: a token at about half price brings about 0.5 ** -0.5 = 1.41x the tokens.
    last_elastic = forecast_monthly(run=elastic)[-1]
    assert 1.3 < last_elastic["tokens"] / last_base["tokens"] < 1.45


def test_unknown_scenario_names_list_the_organizations_own(organization) -> None:
    PriceScenario.objects.create(organization=organization, name="board-case")

    with pytest.raises(ValueError, match="expected one of conservative, base, aggressive, board-case"):
        resolve_scenario(name="rosy", organization=organization)
