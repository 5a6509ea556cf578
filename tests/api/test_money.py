"""Money at the edge: amounts rounded half up to the currency's minor unit, one helper for every serializer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from finops.money import minor_units, money_round, money_str
from planning.services import budget_save

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("currency", "units"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("usd", 2)]
)
def test_minor_units_follow_iso_4217(currency, units) -> None:
    assert minor_units(currency) == units


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("1495.84415035000"), "USD", "1495.84"),
        (Decimal("0.005"), "USD", "0.01"),
        (Decimal("-0.005"), "EUR", "-0.01"),
        (Decimal("1495.5"), "JPY", "1496"),
        (Decimal("1.0005"), "KWD", "1.001"),
        (Decimal("300"), "USD", "300.00"),
        ("0.0047307000", "USD", "0.00"),
        (0.1, "USD", "0.10"),
    ],
)
def test_money_str_rounds_half_up_to_the_minor_unit(amount, currency, text) -> None:
    assert money_str(amount, currency) == text


def test_money_round_keeps_a_decimal() -> None:
    assert money_round(Decimal("2.675"), "USD") == Decimal("2.68")


def test_a_yen_budget_has_no_decimals_in_the_api(api_client_for, viewer, organization) -> None:
    budget = budget_save(organization=organization, data={"name": "Yen", "starts_on": "2026-01-01", "amount": "30000"})
    budget.currency = "JPY"
    budget.save(update_fields=["currency"])

    body = api_client_for(viewer).get(f"/api/v1/budgets/{budget.pk}/").json()

    assert (body["amount"], body["currency"]) == ("30000", "JPY")
