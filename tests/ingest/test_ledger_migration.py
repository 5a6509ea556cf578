"""Migration 0004 moves the one-row-per-token-type ledger into lines without changing what readers see."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("ingest", "0003_ledger_lean_keys")]
AFTER = [("ingest", "0004_ledger_lines")]
OLD_COLUMNS = (
    "organization_id, upload_id, source_row, date, period_start, period_end, provider, model, model_raw, token_type, "
    "quantity, unit, requests, cost, currency, cost_basis, project, workspace, api_key, account, region, "
    "service_tier, tags, team_id"
)


@pytest.mark.django_db(transaction=True)
def test_old_ledger_rows_read_the_same_through_the_view_after_the_migration() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO finops_organization (slug, name, reporting_currency, holiday_country, created_at) "
                "VALUES ('m', 'M', 'USD', '', now())"
            )
            cursor.execute("SELECT id FROM finops_organization WHERE slug = 'm'")
            (organization_id,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO ingest_upload (organization_id, file, original_name, sha256, size_bytes, format, status, "
                "summary, errors, created_at) VALUES (%s, 'f.csv', 'f.csv', 'x', 1, 'openai_usage', 'succeeded', "
                "'{}', '[]', now())",
                [organization_id],
            )
            cursor.execute("SELECT id FROM ingest_upload")
            (upload_id,) = cursor.fetchone()
            rows = [
                (2, "input", 1000, 7, Decimal("0.0001500000"), "estimated"),
                (2, "output", 200, None, Decimal("0.0001200000"), "estimated"),
                (2, "cache_write", 50, None, None, "unknown"),
                (3, "other", 0, None, Decimal("1.2500000000"), "billed"),
            ]
            for source_row, token_type, quantity, requests, cost, basis in rows:
                cursor.execute(
                    f"INSERT INTO ingest_ledgerentry ({OLD_COLUMNS}) VALUES (%s, %s, %s, '2026-01-01', "
                    "'2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'openai', 'gpt-4o', 'gpt-4o-2024-08-06', %s, %s, "
                    "'tokens', %s, %s, 'USD', %s, 'proj', '', 'key', '', '', 'default', '{}', NULL)",
                    [organization_id, upload_id, source_row, token_type, quantity, requests, cost, basis],
                )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(AFTER)

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT source_row, token_type, quantity, requests, cost, cost_basis FROM ingest_ledgerentry "
                "ORDER BY source_row, token_type"
            )
            seen = cursor.fetchall()
            cursor.execute("SELECT count(*) FROM ingest_ledgerline")
            (lines,) = cursor.fetchone()
        assert sorted(seen) == sorted(rows)
        assert lines == 4  # one line per old row
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
