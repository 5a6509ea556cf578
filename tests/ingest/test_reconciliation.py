"""Reconciliation of the public samples: billed vs tokens x list price per provider, model and month.

Every figure is computed by hand from the sample files (tests/fixtures/PROVENANCE.md) and the shipped
list prices (finops/data/price_history.csv; Claude cache writes at 1.25x input):

- AWS CUR 2.0 Bedrock sample, 2026-03: Claude Sonnet 4.6 on Bedrock is priced through the catalog's
  ``global.anthropic.claude-sonnet-4-6-v1:0`` at $3 / $15 / $0.30 cached / $3.75 cache write.
  Tokens 1,750,000 input (500,000 of them batch), 80,500 output, 2,400,000 cached, 300,000 cache write:
  list 5.25 + 1.2075 + 0.72 + 1.125 = 8.3025; billed 3.375 + 0.75 + 1.08675 + 0.72 + 1.125 = 7.05675;
  drift 7.05675 / 8.3025 - 1 = -15.00%. With the batch tier at 0.5x, expected 8.3025 - 0.75 = 7.5525,
  billed / expected - 1 = -6.56%. Sonnet 4.5: 40,000 x $3 + 100,000 x $0.30 = 0.15 = billed.
  Nova Lite's 200,000 cache-write tokens have no list price.
- Anthropic Admin API cost and usage reports, 2025-08: Claude Sonnet 4 tokens 262,000 / 8,500 /
  40,000 / 7,000 cost 0.786 + 0.1275 + 0.012 + 0.02625 = 0.95175 at list; billed 1.2345 + 3.755 + 0.09
  + 1.50 = 6.5795 (+591.31%). Claude Opus 4.1 was used on 2025-08-01, before its first listed price
  (2025-08-06).
- Azure EA (USD) and MCA (EUR) samples, 2025-03: gpt-4o at Azure's list $5 / $15 / $1.25 (until
  2025-03-19): 2,250,500 / 460,250 / 480,000 tokens = 11.2525 + 6.90375 + 0.6 = 18.75625; billed
  6.88875 USD + 3.68 EUR x 1.08 = 10.86315 USD; drift -42.08%. Llama 3.3 70B on Azure AI Foundry at
  Azure's $0.71: 2,000,000 tokens = 1.42 = billed.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.reconciliation import ReconciliationLine, ledger_reconciliation
from ingest.services import upload_create, upload_ingest
from tests.conftest import FIXTURES
from tests.factories import FxRateFactory, PriceOverrideFactory, UserFactory

pytestmark = pytest.mark.django_db


def ingest(organization, *paths: Path) -> None:
    for path in paths:
        upload = upload_create(organization=organization, source=io.BytesIO(path.read_bytes()), filename=path.name)
        assert upload_ingest(upload_id=upload.pk).status == "succeeded"


def by_model(lines: list[ReconciliationLine]) -> dict[str, ReconciliationLine]:
    return {line.model: line for line in lines}


def tokens(input_: int, output: int, cached_input: int, cache_write: int) -> dict[str, int]:
    return {"input": input_, "output": output, "cached_input": cached_input, "cache_write": cache_write}


def test_bedrock_cur_sample(organization) -> None:
    ingest(organization, FIXTURES / "aws" / "cur2_bedrock_daily.csv")

    lines = by_model(ledger_reconciliation(organization=organization))

    assert sorted(lines) == ["claude-sonnet-4-5", "claude-sonnet-4-6", "nova-lite"]
    sonnet_46 = lines["claude-sonnet-4-6"]
    assert (sonnet_46.provider, sonnet_46.month) == ("aws_bedrock", date(2026, 3, 1))
    assert sonnet_46.tokens == tokens(1_750_000, 80_500, 2_400_000, 300_000)
    assert sonnet_46.billed == {"USD": Decimal("7.05675")}
    assert (sonnet_46.list_cost, sonnet_46.expected_cost) == (Decimal("8.3025"), Decimal("7.5525"))
    assert (sonnet_46.drift, sonnet_46.expected_drift, sonnet_46.flagged) == (
        Decimal("-0.1500"),
        Decimal("-0.0656"),
        True,
    )
    assert sonnet_46.reasons == [
        "billed 15.0% below list: a negotiated discount, the batch or flex tier, or credits",
        "your negotiated prices and service tiers explain it: expected 7.552500 USD",
    ]
    sonnet_45 = lines["claude-sonnet-4-5"]
    assert (sonnet_45.billed_usd, sonnet_45.list_cost, sonnet_45.drift, sonnet_45.flagged) == (
        Decimal("0.15"),
        Decimal("0.15"),
        Decimal("0"),
        False,
    )
    assert sonnet_45.reasons == ["within 10.0% of list"]
    nova = lines["nova-lite"]
    assert (nova.list_cost, nova.billed_usd, nova.unpriced_tokens, nova.drift, nova.flagged) == (
        Decimal("0.375000015"),
        Decimal("0.3750000075"),
        {"cache_write": 200_000},
        None,
        True,
    )
    assert nova.reasons == [
        "no list price for 200,000 cache_write tokens of nova-lite on aws_bedrock: unknown model, tier or mapping: "
        "add a price, or a catalog alias for this name"
    ]


def test_anthropic_admin_api_cost_and_usage_reports(organization) -> None:
    ingest(
        organization,
        FIXTURES / "anthropic" / "admin_api_usage_report_2025-08.json",
        FIXTURES / "anthropic" / "admin_api_cost_report_2025-08.json",
    )

    lines = by_model(ledger_reconciliation(organization=organization))

    sonnet = lines["claude-sonnet-4"]
    assert sonnet.tokens == tokens(262_000, 8_500, 40_000, 7_000)
    assert (sonnet.billed_usd, sonnet.list_cost, sonnet.drift, sonnet.flagged) == (
        Decimal("6.5795"),
        Decimal("0.95175"),
        Decimal("5.9131"),
        True,
    )
    assert sonnet.reasons == [
        "billed 591.3% above list: a long-context or priority tier, a regional surcharge, or a wrong model mapping"
    ]
    opus = lines["claude-opus-4-1"]
    assert (opus.billed_usd, opus.list_cost, opus.unpriced_tokens, opus.flagged) == (
        Decimal("12.80125"),
        Decimal("0"),
        {"input": 5_000, "output": 800, "cache_write": 1_500},
        True,
    )
    assert opus.reasons[0] == (
        "no list price for 1,500 cache_write tokens of claude-opus-4-1 on anthropic: the catalog prices it only "
        "from 2025-08-06 (a price listed late?)"
    )
    haiku = lines["claude-3-5-haiku"]
    assert (haiku.billed, haiku.list_cost, haiku.flagged) == ({}, Decimal("0.00112"), False)
    assert haiku.reasons == ["no billed cost for these tokens (only list-price estimates): nothing to reconcile"]


def test_azure_samples_in_two_currencies_with_an_fx_rate(organization) -> None:
    FxRateFactory(from_currency="EUR", to_currency="USD", rate=Decimal("1.08"), rate_date=date(2025, 3, 1))
    ingest(
        organization,
        FIXTURES / "azure" / "ea_2024-08-01_openai.csv",
        FIXTURES / "azure" / "mca_2023-12-01-preview_openai.csv",
    )

    lines = by_model(ledger_reconciliation(organization=organization))

    gpt_4o = lines["gpt-4o"]
    assert gpt_4o.tokens == tokens(2_250_500, 460_250, 480_000, 0)
    assert gpt_4o.billed == {"USD": Decimal("6.88875"), "EUR": Decimal("3.68")}
    assert (gpt_4o.billed_usd, gpt_4o.list_cost, gpt_4o.drift, gpt_4o.flagged) == (
        Decimal("10.86315"),
        Decimal("18.75625"),
        Decimal("-0.4208"),
        True,
    )
    llama = lines["llama-3.3-70b"]
    assert (llama.provider, llama.billed_usd, llama.list_cost, llama.drift) == (
        "azure_foundry",
        Decimal("1.42"),
        Decimal("1.42"),
        Decimal("0"),
    )


def test_billed_cost_in_a_currency_without_rate_is_flagged(organization) -> None:
    ingest(organization, FIXTURES / "azure" / "mca_2023-12-01-preview_openai.csv")

    gpt_4o = by_model(ledger_reconciliation(organization=organization))["gpt-4o"]

    assert (gpt_4o.billed_usd, gpt_4o.drift, gpt_4o.flagged) == (None, None, True)
    assert gpt_4o.reasons == [
        "billed cost cannot be compared: no EUR->USD exchange rate on or before 2025-03-10; add one in the admin "
        "(FX rates) or with manage.py fx_import"
    ]


def test_threshold_and_a_missing_negotiated_discount(organization) -> None:
    PriceOverrideFactory(
        organization=organization, provider="aws_bedrock", model="claude-sonnet-4-5", discount_percent=Decimal("30")
    )
    ingest(organization, FIXTURES / "aws" / "cur2_bedrock_daily.csv")

    lines = by_model(ledger_reconciliation(organization=organization, threshold=Decimal("0.2")))

    assert lines["claude-sonnet-4-6"].flagged is False
    sonnet_45 = lines["claude-sonnet-4-5"]
    assert (sonnet_45.drift, sonnet_45.expected_cost, sonnet_45.expected_drift, sonnet_45.flagged) == (
        Decimal("0"),
        Decimal("0.105"),
        Decimal("0.4286"),
        True,
    )
    assert sonnet_45.reasons == [
        "billed 42.9% above what your negotiated prices and service tiers expect (0.105000 USD): a negotiated "
        "discount may be missing from the bill"
    ]


def test_api_returns_the_lines_of_your_organization_only(organization, viewer, outsider, api_client_for) -> None:
    ingest(organization, FIXTURES / "aws" / "cur2_bedrock_daily.csv")

    response = api_client_for(viewer).get("/api/v1/reconciliation/", {"organization": "acme", "threshold": "0.1"})
    flagged = api_client_for(viewer).get("/api/v1/reconciliation/", {"organization": "acme", "flagged": "true"})
    foreign = api_client_for(outsider).get("/api/v1/reconciliation/", {"organization": "acme"})

    assert response.status_code == 200
    body = response.json()
    assert (body["organization"], body["threshold"]) == ("acme", "0.1000")
    assert body["results"][1] == {
        "provider": "aws_bedrock",
        "model": "claude-sonnet-4-6",
        "month": "2026-03",
        "tokens": {"input": 1750000, "output": 80500, "cached_input": 2400000, "cache_write": 300000},
        "billed": {"USD": "7.0567500000"},
        "billed_usd": "7.056750",
        "list_cost": "8.302500",
        "expected_cost": "7.552500",
        "unpriced_tokens": {},
        "drift": "-0.1500",
        "expected_drift": "-0.0656",
        "flagged": True,
        "reasons": [
            "billed 15.0% below list: a negotiated discount, the batch or flex tier, or credits",
            "your negotiated prices and service tiers explain it: expected 7.552500 USD",
        ],
    }
    assert [line["model"] for line in flagged.json()["results"]] == ["claude-sonnet-4-6", "nova-lite"]
    assert foreign.status_code == 404


def test_admin_page_shows_flagged_lines_first(client, organization) -> None:
    ingest(organization, FIXTURES / "aws" / "cur2_bedrock_daily.csv")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/ingest/ledgerentry/reconciliation/", {"organization": "acme"}).content.decode()

    assert '<table id="reconciliation"' in page
    assert page.index("claude-sonnet-4-6") < page.index("claude-sonnet-4-5</td>")
    assert "<td>-15.00%</td><td>yes</td>" in page
