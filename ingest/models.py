"""Uploads and the usage ledger: one row per period x model x token type x dimension set."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.models import Organization, Team, TokenType


class Upload(models.Model):
    """One export file as received: kept with its hash, status and what its ingest did."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        DUPLICATE = "duplicate", "Duplicate (same bytes already loaded)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to="uploads/%Y/%m/")
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


class LedgerEntry(models.Model):
    """One canonical usage line. Every number traces back to its upload and source row.

    The ledger is the one table that grows by millions of rows per upload, so its foreign keys have no
    database-level constraint (``db_constraint=False``): PostgreSQL would otherwise run a trigger per row
    and key at COMMIT (45 s for 3.3 M rows in ``benchmarks/ingest.py``). Integrity holds because rows are
    only written by ``ingest.services`` with keys it has just read, and deletes go through Django, which
    applies ``on_delete`` (CASCADE, SET_NULL) itself. Indexes are the few the reads need: per upload (replace
    and delete) and per organization and date (every read); ``organization`` and ``team`` need no index
    of their own.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="entries", db_constraint=False)
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
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["organization", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.provider}/{self.model} {self.token_type} {self.quantity}"
