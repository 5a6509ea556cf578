"""The ingest and usage_summary commands: JSON contract, exit status, duplicates, bad input."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ingest.models import LedgerEntry

pytestmark = pytest.mark.django_db(transaction=True)


def run_ingest(*args: str) -> list[dict]:
    out = StringIO()
    call_command("ingest", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def summary_by_token_type(org: str) -> dict[str, int]:
    out = StringIO()
    call_command("usage_summary", "--org", org, "--by", "token_type", "--json", stdout=out)
    return {row["token_type"]: row["tokens"] for row in json.loads(out.getvalue())}


def test_org_create_is_idempotent_and_prints_the_slug() -> None:
    first, second = StringIO(), StringIO()
    call_command("org_create", "acme", "--name", "Acme Inc", stdout=first)
    call_command("org_create", "acme", stdout=second)

    assert first.getvalue().strip() == second.getvalue().strip() == "acme"


def test_org_create_sets_the_holiday_country_and_refuses_an_unknown_one() -> None:
    from finops.models import Organization

    call_command("org_create", "acme", "--holidays", "DE", stdout=StringIO())
    assert Organization.objects.get(slug="acme").holiday_country == "DE"
    call_command("org_create", "acme", stdout=StringIO())  # without --holidays: left as it is
    assert Organization.objects.get(slug="acme").holiday_country == "DE"

    with pytest.raises(CommandError, match="'Narnia' is not a country code of the holidays package"):
        call_command("org_create", "acme", "--holidays", "Narnia", stdout=StringIO())
    assert Organization.objects.get(slug="acme").holiday_country == "DE"


def test_ingest_json_matches_the_hand_computation_and_a_second_run_changes_nothing(
    organization, openai_sample: Path, price_catalog
) -> None:
    [report] = run_ingest(str(openai_sample), "--org", "acme")

    # Hand computation (tests/fixtures/PROVENANCE.md): input = input_uncached_tokens = 31422,
    # output = 29, no cached or cache-write tokens; modality columns are not added.
    assert report["status"] == "succeeded"
    assert report["format"] == "openai_usage"
    assert report["rows_read"] == 31
    assert report["records"] == 2
    assert report["tokens"] == {"input": 31422, "output": 29, "cached_input": 0, "cache_write": 0}
    assert report["cost"] == {"USD": "0.0047307000"}
    assert report["errors"] == []
    totals = summary_by_token_type("acme")

    [again] = run_ingest(str(openai_sample), "--org", "acme")

    assert again["status"] == "duplicate"
    assert summary_by_token_type("acme") == totals == {"input": 31422, "output": 29}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x00\xff\x00binary", "the file is binary"),
        (b"a;b;c\n1;2;3\n", "another delimiter than a comma"),
    ],
)
def test_bad_files_exit_non_zero_with_the_message(organization, tmp_path, content, message) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    out = StringIO()

    with pytest.raises(CommandError, match="some files did not land"):
        call_command("ingest", str(path), "--org", "acme", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["status"] == "rejected"
    assert message in report["errors"][0]["message"]
    assert LedgerEntry.objects.count() == 0


def test_truncated_file_fails_with_its_row_and_leaves_the_ledger(organization, openai_sample, tmp_path) -> None:
    run_ingest(str(openai_sample), "--org", "acme")
    before = summary_by_token_type("acme")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(openai_sample.read_bytes()[:-40])
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("ingest", str(cut), "--org", "acme", "--json", stdout=out)

    report = json.loads(out.getvalue())
    assert report["status"] == "failed"
    assert report["errors"][0]["row"] == 32
    assert summary_by_token_type("acme") == before


def test_unknown_org_is_a_clear_error(openai_sample) -> None:
    with pytest.raises(CommandError, match=re.escape("no organization 'nope' (known: none yet); create one with")):
        call_command("ingest", str(openai_sample), "--org", "nope")
