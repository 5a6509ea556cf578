"""Uploads and the usage ledger: stored one line per source row (``LedgerLine``), read one record per
period x model x token type x dimension set (``LedgerEntry``, a view), and added up per day (``UsageDaily``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from finops.models import Organization, Team, TokenType
from ingest.storage import upload_storage


class Upload(models.Model):
    """One export file as received: kept with its hash, status and what its ingest did."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        DUPLICATE = "duplicate", "Duplicate (same bytes already loaded)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to="uploads/%Y/%m/", storage=upload_storage)
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField()
    format = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    summary = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "sha256"])]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"


class CostBasis(models.TextChoices):
    BILLED = "billed", "Billed"
    AMORTIZED = "amortized", "Amortized"
    LIST = "list", "List"
    ESTIMATED = "estimated", "Estimated from list price"
    SUPERSEDED = "superseded", "Estimate superseded by billed cost"
    UNKNOWN = "unknown", "Unknown"


# Cost bases whose amounts count in totals: a superseded estimate is kept for reference only.
COUNTED_COST_BASES = (CostBasis.BILLED, CostBasis.AMORTIZED, CostBasis.LIST, CostBasis.ESTIMATED, CostBasis.UNKNOWN)
BILLED_COST_BASES = (CostBasis.BILLED, CostBasis.AMORTIZED)


# The token types a ledger line holds side by side, in slot order (a slot's number is part of the
# LedgerEntry id, so the order is fixed).
LEDGER_SLOTS: tuple[str, ...] = (
    TokenType.INPUT,
    TokenType.OUTPUT,
    TokenType.CACHED_INPUT,
    TokenType.CACHE_WRITE,
    TokenType.OTHER,
)
# LedgerEntry ids are line id x SLOT_ID_FACTOR + slot number.
SLOT_ID_FACTOR = 8


def slot_field(token_type: str, part: str) -> str:
    """The LedgerLine column of one token type's ``quantity``, ``cost`` or ``basis``."""
    return f"{token_type}_{part}"


class LedgerLine(models.Model):
    """How the ledger is stored: one row per source row of an export (and per period and dimension set),
    with the quantity, cost and cost basis of each token type side by side.

    A usage export's row carries input, output, cached and cache-write tokens at once; storing them as one
    row instead of one row per token type makes an ingest write 3.3x fewer, narrower rows (about 4x less
    COPY time in ``benchmarks/ingest.py``). Reads go through ``LedgerEntry``, the same data one row per
    token type. A slot whose quantity is NULL holds no record (a zero is a record of zero). ``requests``
    belong to the slot named by ``requests_slot``, the record that carried them.

    Like every ledger table it grows by millions of rows per upload, so its foreign keys have no
    database-level constraint (``db_constraint=False``): PostgreSQL would otherwise run a trigger per row
    and key at COMMIT (45 s for 3.3 M rows in ``benchmarks/ingest.py``). Integrity holds because rows are
    only written by ``ingest.services`` with keys it has just read, and deletes go through Django, which
    applies ``on_delete`` (CASCADE, SET_NULL) itself. Indexes are the few the reads need: per upload
    (replace and delete) and per organization and date (every read).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="lines", db_constraint=False)
    source_row = models.PositiveIntegerField()
    date = models.DateField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=160)
    model_raw = models.CharField(max_length=255)
    unit = models.CharField(max_length=32, default="tokens")
    currency = models.CharField(max_length=3, default="USD")
    project = models.CharField(max_length=255, blank=True)
    workspace = models.CharField(max_length=255, blank=True)
    api_key = models.CharField(max_length=255, blank=True)
    account = models.CharField(max_length=255, blank=True)
    region = models.CharField(max_length=64, blank=True)
    service_tier = models.CharField(max_length=32, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    requests = models.BigIntegerField(null=True, blank=True)
    requests_slot = models.PositiveSmallIntegerField(null=True, blank=True)
    input_quantity = models.BigIntegerField(null=True, blank=True)
    input_cost = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    input_basis = models.CharField(max_length=16, choices=CostBasis.choices, blank=True)
    output_quantity = models.BigIntegerField(null=True, blank=True)
    output_cost = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    output_basis = models.CharField(max_length=16, choices=CostBasis.choices, blank=True)
    cached_input_quantity = models.BigIntegerField(null=True, blank=True)
    cached_input_cost = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    cached_input_basis = models.CharField(max_length=16, choices=CostBasis.choices, blank=True)
    cache_write_quantity = models.BigIntegerField(null=True, blank=True)
    cache_write_cost = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    cache_write_basis = models.CharField(max_length=16, choices=CostBasis.choices, blank=True)
    other_quantity = models.BigIntegerField(null=True, blank=True)
    other_cost = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    other_basis = models.CharField(max_length=16, choices=CostBasis.choices, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.provider}/{self.model} row {self.source_row}"


class LedgerEntry(models.Model):
    """One canonical usage record: a period x model x token type x dimension set, read-only.

    A database view over ``LedgerLine`` (migration ``0004_ledger_lines``) that shows each filled slot of a
    line as a row of its own, so every reader (selectors, reconciliation, admin, API, forecasting) sees
    one row per token type. Every number traces back to its upload and source row. Writes go to
    ``LedgerLine`` (``ingest.services``); the id is the line's id x 8 + the slot's number.
    """

    id = models.BigIntegerField(primary_key=True)
    line = models.ForeignKey(LedgerLine, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    organization = models.ForeignKey(Organization, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    upload = models.ForeignKey(Upload, on_delete=models.DO_NOTHING, related_name="entries", db_constraint=False)
    source_row = models.PositiveIntegerField()
    date = models.DateField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=160)
    model_raw = models.CharField(max_length=255)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    quantity = models.BigIntegerField()
    unit = models.CharField(max_length=32, default="tokens")
    requests = models.BigIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    cost_basis = models.CharField(max_length=16, choices=CostBasis.choices, default=CostBasis.UNKNOWN)
    project = models.CharField(max_length=255, blank=True)
    workspace = models.CharField(max_length=255, blank=True)
    api_key = models.CharField(max_length=255, blank=True)
    account = models.CharField(max_length=255, blank=True)
    region = models.CharField(max_length=64, blank=True)
    service_tier = models.CharField(max_length=32, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )

    class Meta:
        managed = False
        db_table = "ingest_ledgerentry"
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.date} {self.provider}/{self.model} {self.token_type} {self.quantity}"


class UsageDaily(models.Model):
    """The ledger added up per organization, day, provider, model, team, token type and currency: the daily rollup
    every usage total reads (``ingest.selectors.usage_summary``), instead of the ledger's millions of lines.

    Kept equal to the ledger by ``ingest.rollup.usage_rollup_refresh``, which every service that changes ledger
    lines calls in the same transaction for the days it touched (ingest, replacing and superseding rows,
    re-allocation, re-normalization, re-pricing, upload deletion). ``tokens`` counts what the ledger's totals
    count as tokens (records of a token type other than ``other``, in unit ``tokens``); ``cost`` only the
    cost bases that count (``COUNTED_COST_BASES``: a superseded estimate is left out), in the records' own
    ``currency``; ``records`` the ledger entries added up. Rows are deleted and written again for a range of
    days, never updated, so there is no unique key: a team deleted later (SET_NULL, as on the ledger) may leave
    two rows for the same key, which add up the same.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    date = models.DateField()
    provider = models.CharField(max_length=60)
    model = models.CharField(max_length=160)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    currency = models.CharField(max_length=3, default="USD")
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=28, decimal_places=10, default=0)
    records = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "usage daily"
        indexes = [
            models.Index(fields=["organization", "date"]),
            models.Index(fields=["organization", "model", "date"]),
            models.Index(fields=["organization", "team", "date"]),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.provider}/{self.model} {self.token_type} {self.tokens}"


class UsageRollupState(models.Model):
    """Per organization: the version of its daily rollup, a new random one at every refresh, and the currencies
    its costs are in.

    Read on every usage request: the version keys cached totals (any ledger change makes a new one, so a cached
    answer is never stale, in any process), the currencies say whether totals need converting. Its row is also
    the lock that makes two refreshes of one organization take turns (``ingest.rollup``).
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.UUIDField(default=uuid.uuid4)
    currencies = models.JSONField(default=list, blank=True)
    refreshed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"usage rollup of organization {self.organization_id}: {self.version}"
