"""Price-book admin (Django test client): history chart, import forms, price in force, logged edits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from finops.models import CatalogModel, FxRate, ModelPrice, PriceChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WIDE_HEADER = b"provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,currency,source\n"


@pytest.fixture
def staff_client(client):
    user = UserFactory(is_staff=True, is_superuser=True, username="priceadmin")
    client.force_login(user)
    client.user = user
    return client


def test_catalog_model_page_shows_price_history_table_and_svg_chart(staff_client) -> None:
    model = CatalogModel.objects.get(provider="anthropic", model_id="claude-sonnet-5")

    page = staff_client.get(f"/admin/finops/catalogmodel/{model.pk}/change/").content.decode()

    assert '<div id="price-history-chart"' in page
    assert "<svg" in page
    assert '<table id="price-history">' in page
    assert "<td>input</td><td></td><td>2026-09-01</td><td></td><td>3.000000</td>" in page


def test_import_form_rejects_a_bad_file_with_row_messages_and_changes_nothing(staff_client) -> None:
    before = ModelPrice.objects.count(), PriceChange.objects.count()
    content = WIDE_HEADER + b"openai,gpt-x,2026-01-01,-1,2,,USD,s\nopenai,gpt-x,2026-02-01,1,2,,USD,s\n"

    response = staff_client.post(
        "/admin/finops/modelprice/import/", {"file": SimpleUploadedFile("prices.csv", content)}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was changed." in page
    assert "row 2, column &#x27;input_per_mtok&#x27;: -1 is negative; a price must be zero or more" in page
    assert (ModelPrice.objects.count(), PriceChange.objects.count()) == before


def test_import_form_imports_and_logs_the_user(staff_client) -> None:
    content = WIDE_HEADER + b"openai,gpt-x,2026-01-01,1,2,,USD,s\n"

    response = staff_client.post(
        "/admin/finops/modelprice/import/", {"file": SimpleUploadedFile("prices.csv", content)}
    )

    assert response.status_code == 302
    assert set(PriceChange.objects.filter(model="gpt-x").values_list("changed_by__username", "via")) == {
        ("priceadmin", "import")
    }


def test_price_in_force_page_and_filter(staff_client) -> None:
    page = staff_client.get(
        "/admin/finops/modelprice/in-force/", {"model": "claude-sonnet-5", "provider": "anthropic", "on": "2026-08-31"}
    ).content.decode()
    listing = staff_client.get(
        "/admin/finops/modelprice/", {"in_force_on": "2026-08-31", "model": "claude-sonnet-5", "token_type": "input"}
    ).content.decode()

    assert '<table id="prices-in-force"' in page
    assert "<td>anthropic</td><td>input</td><td></td><td>2.000000</td><td>2026-06-30</td>" in page
    assert "2.000000" in listing
    assert "3.000000" not in listing


def test_editing_a_price_in_the_admin_is_logged(staff_client) -> None:
    price = ModelPrice.objects.get(provider="openai", model="gpt-4o", token_type="input", effective_from="2024-10-16")

    response = staff_client.post(
        f"/admin/finops/modelprice/{price.pk}/change/",
        {
            "provider": "openai",
            "model": "gpt-4o",
            "token_type": "input",
            "cache_ttl": "",
            "usd_per_million": "2.4",
            "effective_from": "2024-10-16",
            "effective_to": "",
            "source": price.source,
        },
    )

    assert response.status_code == 302
    change = PriceChange.objects.get(price=price, action="updated")
    assert (change.old_usd_per_million, change.new_usd_per_million, change.changed_by.username) == (
        Decimal("2.500000"),
        Decimal("2.400000"),
        "priceadmin",
    )


def test_fx_import_form(staff_client) -> None:
    content = b"date,from_currency,to_currency,rate,source\n2025-03-01,EUR,USD,1.08,ECB\n"

    response = staff_client.post("/admin/finops/fxrate/import/", {"file": SimpleUploadedFile("fx.csv", content)})

    assert response.status_code == 302
    assert FxRate.objects.get().rate == Decimal("1.08")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/finops/modelprice/",
        "/admin/finops/modelprice/?in_force_on=today",
        "/admin/finops/modelprice/import/",
        "/admin/finops/pricechange/",
        "/admin/finops/catalogmodel/?tier=small",
        "/admin/finops/modelqualityscore/",
        "/admin/finops/pricemultiplier/",
        "/admin/finops/priceoverride/add/",
        "/admin/finops/fxrate/",
        "/admin/finops/fxrate/import/",
        "/admin/finops/organization/add/",
    ],
)
def test_price_book_admin_pages_render(staff_client, url: str) -> None:
    assert staff_client.get(url).status_code == 200


def test_an_override_needs_a_discount_or_a_price(staff_client, organization) -> None:
    response = staff_client.post(
        "/admin/finops/priceoverride/add/",
        {"organization": organization.pk, "provider": "openai", "effective_from": "2026-01-01"},
    )

    assert "Give either a discount percent or a custom price, not both." in response.content.decode()
