"""The daily rollup (``ingest.rollup``) equals the ledger added up by day, provider, model, team, token type and
currency after every kind of ledger change: ingest, a later export replacing days, billed cost superseding
estimates, re-allocation, re-normalization, re-pricing, upload deletion; and migration 0005 builds it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce

from finops.models import AllocationRule, ModelAlias, ModelPrice
from ingest.models import COUNTED_COST_BASES, LedgerEntry, LedgerLine, Upload, UsageDaily, UsageRollupState
from ingest.rollup import usage_rollup_refresh
from ingest.selectors import usage_summary
from ingest.services import (
    ledger_reallocate,
    ledger_reestimate_costs,
    ledger_renormalize_models,
    upload_create,
    upload_delete,
    upload_ingest,
)
from tests.factories import OrganizationFactory, TeamFactory
from tests.ingest.test_services import ANTHROPIC_COST_HEADER, ANTHROPIC_TOKENS_HEADER, HEADER, usage_row

pytestmark = pytest.mark.django_db

FIRST_DAY = date(2025, 1, 1)
KEY = ("date", "provider", "model", "team_id", "token_type", "currency")


def row_on(day: date, project: str, model: str = "gpt-4o-mini-2024-07-18", input_tokens: int = 1000) -> str:
    """An OpenAI usage export row (``usage_row``) moved to ``day``."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return (
        usage_row(project, model=model, input_tokens=input_tokens)
        .replace("1735689600,1735776000", f"{int(start.timestamp())},{int(end.timestamp())}")
        .replace("2025-01-01T00:00:00+00:00,2025-01-02T00:00:00+00:00", f"{start.isoformat()},{end.isoformat()}")
    )


def ingest(organization, *rows: str, name: str = "completions_usage.csv", header: str = HEADER) -> Upload:
    content = (header + "\n" + "\n".join(rows) + "\n").encode()
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename=name)
    upload = upload_ingest(upload_id=upload.pk)
    assert upload.status == Upload.Status.SUCCEEDED, upload.errors
    return upload


def ledger_totals(organization) -> dict[tuple, tuple[int, Decimal, int]]:
    """The ledger added up by the rollup's key, straight from the LedgerEntry view."""
    rows = (
        LedgerEntry.objects.filter(organization=organization)
        .values(*KEY)
        .annotate(
            tokens=Coalesce(Sum("quantity", filter=~Q(token_type="other") & Q(unit="tokens")), Value(0)),
            cost=Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
            records=Count("id"),
        )
        .order_by()
    )
    return {
        tuple(row[field] for field in KEY): (row["tokens"], row["cost"] or Decimal(0), row["records"]) for row in rows
    }


def rollup_totals(organization) -> dict[tuple, tuple[int, Decimal, int]]:
    rows = (
        UsageDaily.objects.filter(organization=organization)
        .values(*KEY)
        .annotate(tokens=Sum("tokens"), cost=Sum("cost"), records=Sum("records"))
        .order_by()
    )
    return {tuple(row[field] for field in KEY): (row["tokens"], row["cost"], row["records"]) for row in rows}


def assert_rollup_matches_ledger(organization) -> dict[tuple, tuple[int, Decimal, int]]:
    expected = ledger_totals(organization)
    assert rollup_totals(organization) == expected
    return expected


def test_an_ingested_export_lands_in_the_rollup_as_the_ledger_adds_it_up(organization, openai_sample) -> None:
    search = TeamFactory(organization=organization, name="Search")
    AllocationRule.objects.create(organization=organization, team=search, dimension="project", value="proj_search")
    other = OrganizationFactory(slug="other")
    ingest(other, row_on(FIRST_DAY, "proj_other"))

    ingest(organization, *(row_on(FIRST_DAY + timedelta(days=d), p) for d in range(3) for p in ("proj_search", "x")))
    upload = upload_create(
        organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename=openai_sample.name
    )
    upload_ingest(upload_id=upload.pk)

    totals = assert_rollup_matches_ledger(organization)
    search_input = (FIRST_DAY, "openai", "gpt-4o-mini", search.pk, "input", "USD")
    assert totals[search_input][0] == 1000 and totals[search_input][2] == 1
    # Each day has one row per team and token type: Search, unallocated (proj x), input and output.
    assert UsageDaily.objects.filter(organization=organization, date=FIRST_DAY).count() == 4
    assert_rollup_matches_ledger(other)
    assert len(rollup_totals(other)) == 2


def test_a_later_export_of_the_same_days_replaces_them_in_the_rollup(organization) -> None:
    days = [FIRST_DAY + timedelta(days=offset) for offset in range(3)]
    ingest(organization, *(row_on(day, "proj_a", input_tokens=1000) for day in days), name="usage-1.csv")

    ingest(organization, *(row_on(day, "proj_a", input_tokens=5000) for day in days[1:]), name="usage-2.csv")

    totals = assert_rollup_matches_ledger(organization)
    inputs = {key[0]: value[0] for key, value in totals.items() if key[4] == "input"}
    assert inputs == {days[0]: 1000, days[1]: 5000, days[2]: 5000}


@pytest.mark.parametrize("cost_file_first", [False, True])
def test_billed_cost_superseding_estimates_leaves_the_estimates_out_of_the_rollup(
    organization, cost_file_first: bool
) -> None:
    tokens = "2026-02-10,claude-sonnet-4-5-20250929,prod,Default,standard,≤ 200k,1000000,0,0,0,100000,0,global,"
    costs = [
        "2026-02-10,Claude Sonnet 4.5,Default,prod,message,≤ 200k,input_no_cache,2.50,token,global,",
        "2026-02-10,Claude Sonnet 4.5,Default,prod,message,≤ 200k,output,1.25,token,global,",
    ]
    files = [
        (ANTHROPIC_TOKENS_HEADER, [tokens], "tokens.csv"),
        (ANTHROPIC_COST_HEADER, costs, "cost.csv"),
    ]
    if cost_file_first:
        files.reverse()

    for header, rows, name in files:
        ingest(organization, *rows, header=header, name=name)

    totals = assert_rollup_matches_ledger(organization)
    assert sum(cost for _, cost, _ in totals.values()) == Decimal("3.75")
    assert sum(tokens for tokens, _, _ in totals.values()) == 1_100_000


def test_reallocation_moves_the_rollup_to_the_new_teams(organization) -> None:
    search = TeamFactory(organization=organization, name="Search")
    ingest(organization, row_on(FIRST_DAY, "proj_search"), row_on(FIRST_DAY, "proj_other"))
    assert {key[3] for key in assert_rollup_matches_ledger(organization)} == {None}

    AllocationRule.objects.create(organization=organization, team=search, dimension="project", value="proj_search")
    ledger_reallocate(organization=organization)

    totals = assert_rollup_matches_ledger(organization)
    assert {key[3] for key in totals} == {None, search.pk}


def test_renormalizing_models_moves_the_rollup_to_the_new_model(organization) -> None:
    ingest(organization, row_on(FIRST_DAY, "proj_a", model="acme-finetune-7"))

    ModelAlias.objects.create(organization=organization, provider="openai", model_raw="acme-finetune-7", model="gpt-4o")
    ledger_renormalize_models(organization=organization)

    totals = assert_rollup_matches_ledger(organization)
    assert {key[2] for key in totals} == {"gpt-4o"}


def test_repricing_estimates_updates_the_rollup_cost(organization) -> None:
    model = "acme-private-model-1"
    ingest(organization, *(row_on(FIRST_DAY + timedelta(days=d), "proj_a", model, 3_000_000) for d in range(2)))
    assert sum(cost for _, cost, _ in assert_rollup_matches_ledger(organization).values()) == 0

    ModelPrice.objects.create(
        provider="openai",
        model=model,
        token_type="input",
        usd_per_million=Decimal("0.333333"),
        effective_from="2024-12-01",
        source="test",
    )
    ledger_reestimate_costs(organization=organization)

    totals = assert_rollup_matches_ledger(organization)
    assert sum(cost for _, cost, _ in totals.values()) == Decimal("1.999998")  # 2 days x 3M x 0.333333 / 1e6


def test_deleting_an_upload_takes_its_days_out_of_the_rollup(organization) -> None:
    kept = ingest(organization, row_on(FIRST_DAY + timedelta(days=2), "proj_a"), name="usage-a.csv")
    deleted = ingest(
        organization, row_on(FIRST_DAY, "proj_b"), row_on(FIRST_DAY + timedelta(days=5), "proj_b"), name="b.csv"
    )

    upload_delete(upload=deleted, user=None)

    totals = assert_rollup_matches_ledger(organization)
    assert {key[0] for key in totals} == {FIRST_DAY + timedelta(days=2)}
    assert sum(records for _, _, records in totals.values()) == LedgerEntry.objects.filter(upload=kept).count() == 2


def test_a_refresh_rewrites_only_its_days_and_gives_the_rollup_a_new_version(organization) -> None:
    days = [FIRST_DAY, FIRST_DAY + timedelta(days=1)]
    ingest(organization, *(row_on(day, "proj_a") for day in days))
    before = UsageRollupState.objects.get(organization=organization)
    # The ledger changes behind the services' back: only a refresh of the day brings the rollup along.
    LedgerLine.objects.filter(organization=organization).update(input_quantity=7)

    written = usage_rollup_refresh(organization=organization, date_from=days[1], date_to=days[1])

    inputs = dict(
        UsageDaily.objects.filter(organization=organization, token_type="input").values_list("date", "tokens")
    )
    assert (written, inputs) == (2, {days[0]: 1000, days[1]: 7})
    after = UsageRollupState.objects.get(organization=organization)
    assert after.version != before.version
    assert after.currencies == ["USD"]


def test_a_cached_summary_is_not_read_after_the_ledger_changed(organization) -> None:
    search = TeamFactory(organization=organization, name="Search")
    ingest(organization, row_on(FIRST_DAY, "proj_search"))
    assert [row["team"] for row in usage_summary(organization=organization, by=["team"])] == ["unallocated"]

    AllocationRule.objects.create(organization=organization, team=search, dimension="project", value="proj_search")
    ledger_reallocate(organization=organization)

    assert [row["team"] for row in usage_summary(organization=organization, by=["team"])] == ["Search"]


def test_a_refresh_refuses_a_range_that_ends_before_it_starts(organization) -> None:
    with pytest.raises(ValueError, match="after date_to"):
        usage_rollup_refresh(organization=organization, date_from=FIRST_DAY, date_to=FIRST_DAY - timedelta(days=1))


LINE_COLUMNS = (
    "organization_id, upload_id, source_row, date, period_start, period_end, provider, model, model_raw, unit, "
    "currency, project, workspace, api_key, account, region, service_tier, tags, team_id, "
    "input_quantity, input_cost, input_basis, output_quantity, output_cost, output_basis, "
    "cached_input_basis, cache_write_basis, other_quantity, other_cost, other_basis"
)


@pytest.mark.django_db(transaction=True)
def test_the_migration_builds_the_rollup_of_the_ledger_already_there() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([("ingest", "0004_ledger_lines")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO finops_organization (slug, name, reporting_currency, holiday_country, created_at) "
                "VALUES ('m', 'M', 'USD', '', now()) RETURNING id"
            )
            (organization_id,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO ingest_upload (organization_id, file, original_name, sha256, size_bytes, format, status, "
                "summary, errors, created_at) VALUES (%s, 'f.csv', 'f.csv', 'x', 1, 'openai_usage', 'succeeded', "
                "'{}', '[]', now()) RETURNING id",
                [organization_id],
            )
            (upload_id,) = cursor.fetchone()
            # (day, unit, currency, input, input cost, input basis, output, output cost, output basis, other, cost)
            lines = [
                ("2026-01-01", "tokens", "USD", 1000, "0.15", "estimated", 200, "0.12", "estimated", None, None),
                ("2026-01-01", "tokens", "USD", 500, "0.05", "superseded", None, None, "", None, None),
                ("2026-01-01", "usd", "USD", None, None, "", None, None, "", 0, "1.25"),
                ("2026-01-02", "tokens", "EUR", 300, "0.30", "billed", 100, None, "unknown", None, None),
            ]
            for row, line in enumerate(lines):
                day, unit, currency, *slots = line
                cursor.execute(
                    f"INSERT INTO ingest_ledgerline ({LINE_COLUMNS}) VALUES (%s, %s, %s, %s, '2026-01-01T00:00:00Z', "
                    "'2026-01-02T00:00:00Z', 'openai', 'gpt-4o', 'gpt-4o-2024-08-06', %s, %s, 'p', '', 'k', '', '', "
                    "'default', '{}', NULL, %s, %s, %s, %s, %s, %s, '', '', %s, %s, %s)",
                    [organization_id, upload_id, row + 2, day, unit, currency, *slots[:6], *slots[6:], "billed"],
                )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

        from finops.models import Organization

        organization = Organization.objects.get(pk=organization_id)
        totals = assert_rollup_matches_ledger(organization)
        assert totals[(date(2026, 1, 1), "openai", "gpt-4o", None, "input", "USD")] == (1500, Decimal("0.15"), 2)
        assert totals[(date(2026, 1, 1), "openai", "gpt-4o", None, "other", "USD")] == (0, Decimal("1.25"), 1)
        assert UsageRollupState.objects.get(organization=organization).currencies == ["EUR", "USD"]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_day_total_past_the_ledger_columns_fails_the_upload_whole(organization) -> None:
    """Each row fits the ledger, but two of them on one day add up past a bigint: refused, nothing kept."""
    from ingest.services import upload_create, upload_ingest
    from tests.ingest.test_services import HEADER, usage_row

    half = 5 * 10**18
    content = HEADER + "\n" + usage_row("proj_a", input_tokens=half) + "\n" + usage_row("proj_b", input_tokens=half)
    upload = upload_create(organization=organization, source=io.BytesIO((content + "\n").encode()), filename="u.csv")

    result = upload_ingest(upload_id=upload.pk)

    assert result.status == Upload.Status.FAILED
    assert "larger than the ledger holds" in result.errors[0]["message"]
    assert not LedgerLine.objects.filter(upload=upload).exists()
    assert not UsageDaily.objects.filter(organization=organization).exists()
