"""Upload and ingest services against PostgreSQL: landing whole, duplicates, bad input, allocation, cost."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum

from finops.models import AllocationRule
from ingest.models import LedgerEntry, Upload
from ingest.parsers import IngestError
from ingest.selectors import usage_summary
from ingest.services import upload_create, upload_ingest
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,"
    "service_tier,compute_units,input_tokens,output_tokens,input_cached_tokens,input_cache_write_tokens,"
    "input_uncached_tokens,input_text_tokens,output_text_tokens,input_cached_text_tokens,input_audio_tokens,"
    "input_cached_audio_tokens,output_audio_tokens,input_image_tokens,input_cached_image_tokens,output_image_tokens"
)


def usage_row(project: str, model: str = "gpt-4o-mini-2024-07-18", input_tokens: int = 1000) -> str:
    return (
        f"1735689600,1735776000,2025-01-01T00:00:00+00:00,2025-01-02T00:00:00+00:00,{project},2.0,user-a,key_a,"
        f"{model},False,default,,{input_tokens}.0,100.0,0.0,0.0,{input_tokens}.0,{input_tokens}.0,100.0,"
        "0.0,0.0,0.0,0.0,0.0,0.0,0.0"
    )


def ingest_bytes(organization, content: bytes, name: str = "completions_usage.csv", capture=None) -> Upload:
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename=name)
    return upload_ingest(upload_id=upload.pk)


def ledger_snapshot(organization) -> list[tuple]:
    return list(
        LedgerEntry.objects.filter(organization=organization)
        .order_by("id")
        .values_list("id", "token_type", "quantity", "cost")
    )


def test_sample_lands_with_summary_and_lineage(organization, openai_sample: Path) -> None:
    upload = ingest_bytes(organization, openai_sample.read_bytes(), openai_sample.name)

    assert upload.status == Upload.Status.SUCCEEDED
    assert upload.summary["tokens"] == {"input": 31422, "output": 29, "cached_input": 0, "cache_write": 0}
    assert upload.summary["records"] == 2
    assert upload.summary["rows_read"] == 31
    entries = LedgerEntry.objects.filter(upload=upload).order_by("token_type")
    assert [(e.token_type, e.quantity, e.source_row, e.model) for e in entries] == [
        ("input", 31422, 32, "gpt-4o-mini"),
        ("output", 29, 32, "gpt-4o-mini"),
    ]


def test_cost_is_estimated_from_the_list_price_in_force(organization, openai_sample: Path) -> None:
    ingest_bytes(organization, openai_sample.read_bytes())

    entries = {e.token_type: e for e in LedgerEntry.objects.filter(organization=organization)}
    # gpt-4o-mini list price: $0.15 / M input, $0.60 / M output (finops/data/price_history.csv)
    assert entries["input"].cost == Decimal("31422") * Decimal("0.15") / 1_000_000
    assert entries["output"].cost == Decimal("29") * Decimal("0.60") / 1_000_000
    assert entries["input"].cost_basis == "estimated"


def test_same_bytes_twice_change_nothing(organization, openai_sample: Path) -> None:
    first = ingest_bytes(organization, openai_sample.read_bytes())
    before = ledger_snapshot(organization)

    second = upload_create(
        organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename="again.csv"
    )

    assert second.status == Upload.Status.DUPLICATE
    assert second.duplicate_of_id == first.pk
    assert ledger_snapshot(organization) == before


def test_rows_with_the_same_key_are_added_not_deduplicated(organization) -> None:
    content = f"{HEADER}\n{usage_row('proj_a')}\n{usage_row('proj_a')}\n".encode()

    upload = ingest_bytes(organization, content)

    assert upload.summary["tokens"]["input"] == 2000
    assert LedgerEntry.objects.filter(organization=organization).aggregate(t=Sum("quantity"))["t"] == 2200


def test_allocation_rules_assign_teams_and_leave_the_rest_unallocated(organization) -> None:
    search = TeamFactory(organization=organization, name="Search")
    AllocationRule.objects.create(organization=organization, team=search, dimension="project", value="proj_search")
    content = f"{HEADER}\n{usage_row('proj_search')}\n{usage_row('proj_other')}\n".encode()

    ingest_bytes(organization, content)

    by_project = {
        e.project: e.team_id for e in LedgerEntry.objects.filter(organization=organization, token_type="input")
    }
    assert by_project == {"proj_search": search.pk, "proj_other": None}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty; expected a CSV export with a header row"),
        (b"\x00\x01\x02binary\xff", "the file is binary, not text; expected a CSV export (UTF-8 text)"),
        (b"date,amount\n2025-01-01,3\n", "the header matches no known export format."),
    ],
)
def test_bad_files_are_rejected_at_upload_and_keep_the_ledger(organization, openai_sample, content, message) -> None:
    ingest_bytes(organization, openai_sample.read_bytes())
    before = ledger_snapshot(organization)

    with pytest.raises(IngestError) as caught:
        upload_create(organization=organization, source=io.BytesIO(content), filename="bad.csv")

    assert caught.value.errors[0].message.startswith(message)
    assert ledger_snapshot(organization) == before
    assert Upload.objects.filter(organization=organization).count() == 1


def test_truncated_file_fails_whole_with_row_number_and_keeps_the_ledger(organization, openai_sample) -> None:
    ingest_bytes(organization, openai_sample.read_bytes())
    before = ledger_snapshot(organization)
    good = usage_row("proj_a")
    content = f"{HEADER}\n{good}\n{good}\n{good[:60]}".encode()

    upload = ingest_bytes(organization, content)

    assert upload.status == Upload.Status.FAILED
    assert upload.errors == [
        {
            "row": 4,
            "column": None,
            "message": "has 4 fields, expected 26 as in the header (the file seems cut off in the middle of a row)",
        }
    ]
    assert ledger_snapshot(organization) == before


def test_upload_over_the_size_limit_is_refused(organization, settings) -> None:
    settings.UPLOAD_MAX_BYTES = 100
    content = f"{HEADER}\n{usage_row('proj_a')}\n".encode()

    with pytest.raises(IngestError) as caught:
        upload_create(organization=organization, source=io.BytesIO(content), filename="big.csv")

    assert caught.value.errors[0].message == "the file is over the size limit of 100 bytes"


def test_ingest_run_twice_writes_once(organization, openai_sample) -> None:
    upload = upload_create(organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename="a.csv")
    upload_ingest(upload_id=upload.pk)
    upload_ingest(upload_id=upload.pk)

    assert LedgerEntry.objects.filter(upload=upload).count() == 2


def test_an_interrupted_ingest_is_finished_by_the_retry(organization, openai_sample) -> None:
    upload = upload_create(organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename="a.csv")
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.RUNNING)  # a worker died mid-ingest

    finished = upload_ingest(upload_id=upload.pk)

    assert finished.status == Upload.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(upload=upload).count() == 2


def test_a_later_export_of_the_same_days_replaces_the_earlier_rows(organization) -> None:
    first = ingest_bytes(organization, f"{HEADER}\n{usage_row('proj_a', input_tokens=1000)}\n".encode())
    second = ingest_bytes(
        organization,
        f"{HEADER}\n{usage_row('proj_a', input_tokens=1500)}\n{usage_row('proj_b', input_tokens=10)}\n".encode(),
    )

    inputs = LedgerEntry.objects.filter(organization=organization, token_type="input")
    assert sorted(inputs.values_list("upload_id", "quantity")) == [(second.pk, 10), (second.pk, 1500)]
    assert second.summary["replaced"] == {
        "records": 2,
        "uploads": [first.pk],
        "date_from": "2025-01-01",
        "date_to": "2025-01-01",
    }
    assert first.summary.get("replaced") is None


ANTHROPIC_COST_HEADER = (
    "usage_date_utc,model,workspace,api_key,usage_type,context_window,token_type,cost_usd,cost_type,inference_geo,speed"
)
ANTHROPIC_TOKENS_HEADER = (
    "usage_date_utc,model_version,api_key,workspace,usage_type,context_window,usage_input_tokens_no_cache,"
    "usage_input_tokens_cache_write_5m,usage_input_tokens_cache_write_1h,usage_input_tokens_cache_read,"
    "usage_output_tokens,web_search_count,inference_geo,speed"
)


@pytest.mark.parametrize("cost_file_first", [False, True])
def test_billed_cost_supersedes_list_price_estimates_for_the_same_provider_and_day(
    organization, cost_file_first: bool
) -> None:
    tokens_file = (
        f"{ANTHROPIC_TOKENS_HEADER}\n"
        "2026-02-10,claude-sonnet-4-5-20250929,prod,Default,standard,≤ 200k,1000000,0,0,0,100000,0,global,\n"
    ).encode()
    cost_file = (
        f"{ANTHROPIC_COST_HEADER}\n"
        "2026-02-10,Claude Sonnet 4.5,Default,prod,message,≤ 200k,input_no_cache,2.50,token,global,\n"
        "2026-02-10,Claude Sonnet 4.5,Default,prod,message,≤ 200k,output,1.25,token,global,\n"
    ).encode()
    files = [cost_file, tokens_file] if cost_file_first else [tokens_file, cost_file]

    for index, content in enumerate(files):
        ingest_bytes(organization, content, name=f"export-{index}.csv")

    rows = LedgerEntry.objects.filter(organization=organization)
    assert sorted(rows.values_list("cost_basis", flat=True)) == ["billed", "billed", "superseded", "superseded"]
    summary = usage_summary(organization=organization, by=["provider"])
    assert summary == [{"provider": "anthropic", "tokens": 1_100_000, "cost": Decimal("3.75"), "records": 4}]


def test_a_cost_file_does_not_replace_the_usage_rows_of_the_same_days(organization) -> None:
    usage = (
        f"{ANTHROPIC_TOKENS_HEADER}\n"
        "2026-02-10,claude-sonnet-4-5-20250929,prod,Default,standard,≤ 200k,1000,0,0,0,100,0,global,\n"
    ).encode()
    cost_v1 = f"{ANTHROPIC_COST_HEADER}\n2026-02-10,Claude Sonnet 4.5,Default,prod,message,,output,1.00,token,,\n"
    cost_v2 = f"{ANTHROPIC_COST_HEADER}\n2026-02-10,Claude Sonnet 4.5,Default,prod,message,,output,1.50,token,,\n"

    usage_upload = ingest_bytes(organization, usage, name="tokens.csv")
    ingest_bytes(organization, cost_v1.encode(), name="cost-1.csv")
    ingest_bytes(organization, cost_v2.encode(), name="cost-2.csv")

    assert LedgerEntry.objects.filter(upload=usage_upload).count() == 2
    assert usage_summary(organization=organization) == [{"tokens": 1100, "cost": Decimal("1.50"), "records": 3}]


def test_usage_api_files_of_different_endpoints_do_not_replace_each_other(organization) -> None:
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "openai"
    completions_bytes = (fixtures / "usage_api_completions_grouped_2026-01.json").read_bytes()
    completions = ingest_bytes(organization, completions_bytes, name="completions.json")
    others = ingest_bytes(
        organization, (fixtures / "usage_api_other_endpoints_2026-01.json").read_bytes(), name="others.json"
    )
    assert completions.status == others.status == Upload.Status.SUCCEEDED
    assert completions.summary["source_parts"] and others.summary["source_parts"]
    assert not set(completions.summary["source_parts"]) & set(others.summary["source_parts"])
    # Both files cover 2026-01-01, yet neither replaced the other: they are different endpoints.
    assert others.summary["replaced"] is None
    completions_records = LedgerEntry.objects.filter(upload=completions).count()
    assert completions_records == completions.summary["records"] > 0

    # A later download of the completions endpoint (different bytes, same days) replaces only the first one.
    again = ingest_bytes(organization, completions_bytes + b"\n", name="completions-again.json")

    assert again.summary["replaced"]["uploads"] == [completions.pk]
    assert LedgerEntry.objects.filter(upload=completions).count() == 0
    assert LedgerEntry.objects.filter(upload=others).count() == others.summary["records"] > 0


def test_upload_summary_names_the_format_version(organization, openai_sample: Path) -> None:
    upload = ingest_bytes(organization, openai_sample.read_bytes(), openai_sample.name)

    assert upload.summary["format_version"]


def test_reestimating_prices_rows_loaded_before_their_model_had_a_price(organization) -> None:
    from finops.models import ModelPrice
    from ingest.services import ledger_reestimate_costs

    unknown = "acme-private-model-1"
    content = f"{HEADER}\n{usage_row('proj_a', model=unknown, input_tokens=3_000_000)}\n"
    upload = ingest_bytes(organization, content.encode())
    assert upload.summary["records_unpriced"] == 2
    assert set(LedgerEntry.objects.filter(upload=upload).values_list("cost_basis", "cost")) == {("unknown", None)}

    ModelPrice.objects.create(
        provider="openai",
        model=unknown,
        token_type="input",
        usd_per_million=Decimal("0.333333"),
        effective_from="2024-12-01",
        source="test",
    )
    counts = ledger_reestimate_costs(organization=organization)

    assert counts == {"estimated": 1, "unpriced": 1, "superseded": 0}
    entry = LedgerEntry.objects.get(upload=upload, token_type="input")
    # 3,000,000 x 0.333333 / 1e6 = 0.999999 exactly.
    assert (entry.cost, entry.cost_basis) == (Decimal("0.9999990000"), "estimated")
    output = LedgerEntry.objects.get(upload=upload, token_type="output")
    assert (output.cost, output.cost_basis) == (None, "unknown")


def test_reestimating_follows_a_corrected_price_and_leaves_billed_rows_alone(organization) -> None:
    from finops.models import ModelPrice
    from ingest.services import ledger_reestimate_costs

    usage = ingest_bytes(organization, f"{HEADER}\n{usage_row('proj_a', input_tokens=2_000_000)}\n".encode())
    estimated = LedgerEntry.objects.get(upload=usage, token_type="input")
    assert estimated.cost_basis == "estimated"
    anthropic_cost = (
        f"{ANTHROPIC_COST_HEADER}\n2026-02-10,Claude Sonnet 4.5,Default,prod,message,,output,1.25,token,,\n"
    )
    ingest_bytes(organization, anthropic_cost.encode(), name="cost.csv")
    billed_before = list(
        LedgerEntry.objects.filter(organization=organization, cost_basis="billed").values_list("id", "cost")
    )
    assert billed_before == [(billed_before[0][0], Decimal("1.2500000000"))]

    ModelPrice.objects.create(
        provider="openai",
        model=estimated.model,
        token_type="input",
        usd_per_million=Decimal("0.5"),
        effective_from="2025-01-01",
        source="test: corrected price",
    )
    ledger_reestimate_costs(organization=organization)

    estimated.refresh_from_db()
    assert estimated.cost == Decimal("1.0000000000")  # 2,000,000 x $0.50 / 1e6
    assert billed_before == list(
        LedgerEntry.objects.filter(organization=organization, cost_basis="billed").values_list("id", "cost")
    )


def test_a_price_import_reprices_rows_that_had_no_price(organization, django_capture_on_commit_callbacks) -> None:
    from finops.services import prices_import

    model = "acme-private-model-2"
    upload = ingest_bytes(
        organization, f"{HEADER}\n{usage_row('proj_a', model=model, input_tokens=2_000_000)}\n".encode()
    )
    assert set(LedgerEntry.objects.filter(upload=upload).values_list("cost_basis", flat=True)) == {"unknown"}

    price_file = [
        "provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,currency,source\n",
        f"openai,{model},2024-12-01,0.25,1.00,,USD,contract 2024-12\n",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        prices_import(lines=price_file, filename="prices.csv")

    costs = dict(LedgerEntry.objects.filter(upload=upload).values_list("token_type", "cost"))
    # 2,000,000 input x $0.25/M and 100 output x $1.00/M
    assert costs == {"input": Decimal("0.5000000000"), "output": Decimal("0.0001000000")}
