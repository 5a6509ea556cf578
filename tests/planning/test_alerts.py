"""Alert evaluation: one alert per budget, kind and period across repeated evaluations, resolved when the condition
clears and reopened (not duplicated) when it returns; threshold escalation; anomalies found and attributed."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command

from planning.models import Alert, AlertDelivery, Budget
from planning.services import alerts_evaluate, budget_save
from tests.factories import TeamFactory
from tests.planning.helpers import banded_scope, forecast_run, ledger_days

pytestmark = pytest.mark.django_db

ON = date(2026, 3, 15)


def _budget(organization, amount: str) -> Budget:
    return budget_save(
        organization=organization,
        data={"name": "Search", "team": "search", "starts_on": "2026-01-01", "amount": amount, "owners": "lead@x.io"},
    )


def _set_amount(budget: Budget, amount: str) -> None:
    Budget.objects.filter(pk=budget.pk).update(amount=amount)


def test_repeated_evaluations_keep_one_alert_that_resolves_and_reopens(organization, known_run) -> None:
    budget = _budget(organization, "300")
    # When evaluated three times: the overrun probability is 0.9 (paths above 100 of 10)
    results = [alerts_evaluate(organization=organization, on=ON) for _ in range(3)]
    # Then one forecast-overrun alert, opened once, unchanged after
    alerts = list(Alert.objects.filter(budget=budget))
    assert [(alert.kind, alert.status, alert.generation) for alert in alerts] == [("forecast_overrun", "open", 1)]
    assert alerts[0].level == 0.9
    assert [len(result.opened) for result in results] == [1, 0, 0]
    assert "90% likely" in alerts[0].message and "breaking on 2026-03-21" in alerts[0].message
    # When the amount rises (probability 0) and the alert is evaluated: it resolves in place
    _set_amount(budget, "5000")
    resolved = alerts_evaluate(organization=organization, on=ON)
    alert = Alert.objects.get(budget=budget)
    assert (alert.status, resolved.resolved) == ("resolved", [alert.pk])
    # When it breaks again: the same alert reopens, generation 2, not a second one
    _set_amount(budget, "300")
    reopened = alerts_evaluate(organization=organization, on=ON)
    assert reopened.reopened == [alert.pk]
    assert list(Alert.objects.filter(budget=budget).values_list("pk", "status", "generation")) == [
        (alert.pk, "open", 2)
    ]
    # And the owner got one delivery per event: opened#1 and reopened#2
    assert sorted(AlertDelivery.objects.filter(alert=alert).values_list("event", "target")) == [
        ("opened#1", "lead@x.io"),
        ("reopened#2", "lead@x.io"),
    ]


def test_threshold_alert_escalates_from_80_to_100_percent(organization, known_run) -> None:
    budget = _budget(organization, "240")
    # When actual 200 >= 0.8 x 240 = 192 (but < 240)
    alerts_evaluate(organization=organization, on=ON)
    threshold = Alert.objects.get(budget=budget, kind="threshold")
    assert (threshold.level, threshold.status) == (0.8, "open")
    # When the amount falls to 190: 200 >= 190, the same alert escalates to 1.0 and says so once
    _set_amount(budget, "190")
    result = alerts_evaluate(organization=organization, on=ON)
    alerts_evaluate(organization=organization, on=ON)
    threshold.refresh_from_db()
    assert (threshold.level, result.escalated) == (1.0, [threshold.pk])
    assert Alert.objects.filter(budget=budget, kind="threshold").count() == 1
    assert sorted(AlertDelivery.objects.filter(alert=threshold).values_list("event", flat=True)) == [
        "opened#1",
        "threshold 1#1",
    ]


def test_an_anomaly_is_found_and_attributed_to_its_team_and_model(organization, search) -> None:
    ads = TeamFactory(organization=organization, name="Ads", slug="ads")
    run = forecast_run(organization, date(2026, 3, 10), 30)
    # Given the forecast for March 11: organization 20 USD (99%: 15-25) and 1,000 tokens (800-1,200);
    # Search / gpt-4o 15 USD (10-20), 750 tokens; Ads / gpt-4o-mini 5 USD (2-8), 250 tokens
    banded_scope(run, tokens=[1000], cost=[20], token_band=[(800, 1200)], cost_band=[(15, 25)])
    banded_scope(
        run, team="Search", model="gpt-4o", tokens=[750], cost=[15], token_band=[(500, 1000)], cost_band=[(10, 20)]
    )
    banded_scope(
        run, team="Ads", model="gpt-4o-mini", tokens=[250], cost=[5], token_band=[(100, 400)], cost_band=[(2, 8)]
    )
    # And the day's actuals: Search spent 60 USD on gpt-4o (3,000 tokens), Ads 5 USD as expected
    ledger_days(organization, search, date(2026, 3, 11), [60.0], tokens=3000)
    ledger_days(organization, ads, date(2026, 3, 11), [5.0], model="gpt-4o-mini", tokens=250)
    # When evaluated twice
    alerts_evaluate(organization=organization, on=ON)
    alerts_evaluate(organization=organization, on=ON)
    # Then one alert for the organization's day and one for Search | gpt-4o; none for Ads
    anomalies = {alert.scope: alert for alert in Alert.objects.filter(kind="anomaly")}
    assert sorted(anomalies) == ["Search | gpt-4o", "organization"]
    organization_alert = anomalies["organization"]
    assert organization_alert.period_start == date(2026, 3, 11)
    # 65 USD against the band's 25: 40 above; the delta of Search / gpt-4o is 60 - 15 = 45, all of the total (45)
    assert organization_alert.details["excess"] == 40.0
    assert organization_alert.details["drivers"] == [
        {"team": "Search", "model": "gpt-4o", "actual": 60.0, "expected": 15.0, "delta": 45.0, "share": 1.0}
    ]
    assert organization_alert.message == (
        "2026-03-11: organization cost 65.00 USD is 3.2x the expected 20.00 USD (99% band 15.00-25.00 USD); "
        "driven by Search / gpt-4o (+45.00 USD, 100% of the excess)"
    )
    assert anomalies["Search | gpt-4o"].details["excess"] == 40.0


def test_evaluate_alerts_command_prints_what_changed(organization, known_run, capsys) -> None:
    _budget(organization, "300")
    # When
    call_command("evaluate_alerts", "--org", "acme", "--on", "2026-03-15")
    # Then
    out = capsys.readouterr().out
    assert "acme: 1 opened, 0 reopened, 0 escalated, 0 resolved" in out
    assert "[forecast_overrun] Budget 'Search'" in out
