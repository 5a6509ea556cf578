"""`manage.py prices_import` and `manage.py fx_import`: exit status, messages, nothing written on bad input."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.models import FxRate, ModelPrice, PriceChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LONG_HEADER = "provider,model,token_type,usd_per_million,effective_from,currency,source\n"


def test_prices_import_reports_what_it_did_and_logs_the_user(tmp_path: Path) -> None:
    UserFactory(username="ops")
    path = tmp_path / "prices.csv"
    path.write_text(LONG_HEADER + "xai,grok-x,input,3,2026-10-01,USD,x.ai\nxai,grok-x,output,15,2026-10-01,USD,x.ai\n")
    out = StringIO()

    call_command("prices_import", str(path), "--user", "ops", stdout=out)

    assert out.getvalue() == "prices.csv: 2 created, 0 updated, 0 unchanged\n"
    assert set(PriceChange.objects.filter(model="grok-x").values_list("changed_by__username", flat=True)) == {"ops"}


def test_prices_import_rejects_a_bad_file_with_every_row_message(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(LONG_HEADER + "xai,grok-x,input,3,2026-10-01,USD,x.ai\nxai,grok-x,audio,1,2026-10-01,GBP,x\n")
    before = ModelPrice.objects.count()

    with pytest.raises(CommandError) as caught:
        call_command("prices_import", str(path))

    assert str(caught.value) == (
        "prices.csv rejected, the catalog is unchanged:\n"
        "row 3, column 'token_type': unknown token type 'audio'; expected one of input, output, cached_input, "
        "cache_write"
    )
    assert ModelPrice.objects.count() == before


def test_fx_import(tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text("date,from_currency,to_currency,rate\n2025-03-01,EUR,USD,1.08\n")
    out = StringIO()

    call_command("fx_import", str(path), stdout=out)

    assert out.getvalue() == "fx.csv: 1 created, 0 updated, 0 unchanged\n"
    assert FxRate.objects.get().rate == Decimal("1.08")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("fx_import", str(tmp_path / "missing.csv"))
