"""The daily rollup of the ledger (``UsageDaily``): recomputed for a range of days after every ledger change.

Usage totals read the rollup, not the ledger: an organization with 10 million ledger lines has about a
thousand rollup rows a day, so a total over two years adds up about 700,000 rows instead of 35 million ledger
records. Every service that changes ledger lines (``ingest.services``: ingest, replacing and superseding rows,
re-allocation, re-normalization, re-pricing, upload deletion) calls ``usage_rollup_refresh`` inside its own
transaction with the days it touched, so the rollup commits (or rolls back) with the change itself.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from django.db import DataError, OperationalError, connection, transaction

from finops.models import Organization, TokenType
from ingest.models import COUNTED_COST_BASES, LEDGER_SLOTS, LedgerLine, UsageDaily, UsageRollupState, slot_field
from ingest.parsers import IngestError, RowError

# The columns a rollup row shares with the ledger lines it adds up, in the order both statements name them.
KEY_COLUMNS = ("organization_id", "date", "provider", "model", "team_id", "currency")
INSERT_COLUMNS = (*KEY_COLUMNS, "token_type", "tokens", "cost", "records")


def _rollup_select_sql(*, date_from: date | None, date_to: date | None) -> tuple[str, list[Any]]:
    """One ``SELECT`` giving the rollup rows of an organization's lines between two days, in the columns of
    ``INSERT_COLUMNS``.

    Lines are grouped first with each token type's slot summed side by side (one pass over the lines, no row
    per slot), then each group is split into one row per token type that has records: the same figures as
    grouping the ``LedgerEntry`` view, several times faster. Portable SQL (PostgreSQL and SQLite).
    """
    counted = ", ".join(f"'{basis}'" for basis in COUNTED_COST_BASES)
    sums = []
    for number, token_type in enumerate(LEDGER_SLOTS):
        quantity, cost, basis = (slot_field(token_type, part) for part in ("quantity", "cost", "basis"))
        # What the ledger's totals count as tokens: token types other than ``other``, in unit ``tokens``.
        tokens = "0" if token_type == TokenType.OTHER else f"SUM(CASE WHEN unit = 'tokens' THEN {quantity} END)"
        sums.append(
            f"{tokens} AS tokens_{number}, "
            f"SUM(CASE WHEN {basis} IN ({counted}) THEN {cost} END) AS cost_{number}, "
            f"COUNT({quantity}) AS records_{number}"
        )

    def per_slot(measure: str) -> str:
        whens = " ".join(f"WHEN {number} THEN grouped.{measure}_{number}" for number in range(len(LEDGER_SLOTS)))
        return f"CASE slot.number {whens} END"

    slots = " UNION ALL ".join(
        f"SELECT {number} AS number, '{token_type}' AS token_type" for number, token_type in enumerate(LEDGER_SLOTS)
    )
    where = ["organization_id = %s"]
    params: list[Any] = []
    if date_from is not None:
        where.append("date >= %s")
        params.append(date_from)
    if date_to is not None:
        where.append("date <= %s")
        params.append(date_to)
    keys = ", ".join(KEY_COLUMNS)
    sql = (
        f"SELECT {', '.join(f'grouped.{column}' for column in KEY_COLUMNS)}, slot.token_type, "
        f"COALESCE({per_slot('tokens')}, 0), COALESCE({per_slot('cost')}, 0), {per_slot('records')} "
        f"FROM (SELECT {keys}, {', '.join(sums)} FROM {LedgerLine._meta.db_table} "
        f"WHERE {' AND '.join(where)} GROUP BY {keys}) grouped "
        f"CROSS JOIN ({slots}) slot WHERE {per_slot('records')} > 0"
    )
    return sql, params


DAY_TOTAL_TOO_LARGE = (
    "a day's total of one model, team and token type is larger than the ledger holds (at most "
    "9,223,372,036,854,775,807 tokens, or a cost of 14 digits before the decimal point); nothing was loaded"
)


def _is_overflow(error: Exception) -> bool:
    """A sum past the rollup's columns: PostgreSQL's "out of range" / "numeric field overflow", SQLite's
    "integer overflow"."""
    text = str(error).lower()
    return "out of range" in text or "overflow" in text


def usage_rollup_refresh(
    *, organization: Organization, date_from: date | None = None, date_to: date | None = None
) -> int:
    """Recompute the organization's daily rollup for the days from ``date_from`` to ``date_to`` (inclusive;
    None: from the first, or to the last day) from its ledger lines; returns the rollup rows written.

    One transaction: the range's rows are deleted and written again with one ``INSERT ... SELECT ... GROUP
    BY``, and the organization's rollup gets a new version (cached totals keyed by the old one are never read
    again). Two refreshes of one organization take turns on its ``UsageRollupState`` row, so one never adds up
    a range the other is rewriting.
    """
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValueError(f"date_from {date_from} is after date_to {date_to}")
    with transaction.atomic():
        UsageRollupState.objects.bulk_create([UsageRollupState(organization=organization)], ignore_conflicts=True)
        state = UsageRollupState.objects.select_for_update().get(organization=organization)
        stale = UsageDaily.objects.filter(organization=organization)
        if date_from is not None:
            stale = stale.filter(date__gte=date_from)
        if date_to is not None:
            stale = stale.filter(date__lte=date_to)
        stale.delete()
        select, params = _rollup_select_sql(date_from=date_from, date_to=date_to)
        with connection.cursor() as cursor:
            try:
                cursor.execute(
                    f"INSERT INTO {UsageDaily._meta.db_table} ({', '.join(INSERT_COLUMNS)}) {select}",
                    [organization.pk, *params],
                )
            except (DataError, OperationalError) as error:
                if not _is_overflow(error):
                    raise
                raise IngestError([RowError(row=None, message=DAY_TOTAL_TOO_LARGE)]) from error
            written = max(cursor.rowcount, 0)
        state.version = uuid.uuid4()
        state.currencies = sorted(
            UsageDaily.objects.filter(organization=organization).values_list("currency", flat=True).distinct()
        )
        state.save()
    return written


def usage_version_bump(*, organization_id: int | None = None) -> int:
    """Give the organization's usage answers (every organization's with None) a new version, so none cached under
    the old one is read again: what a team's rename (team names label the totals) or an exchange rate's change
    (totals are converted at them) needs, without refreshing the rollup. Returns the states changed."""
    states = UsageRollupState.objects.all()
    if organization_id is not None:
        states = states.filter(organization_id=organization_id)
    return states.update(version=uuid.uuid4())
