"""Forecast runs and their daily points (tokens and cost, with an interval)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.models import Organization


class ForecastRun(models.Model):
    """One forecast of an organization's daily token volume and cost over a horizon."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="forecast_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    scope = models.CharField(max_length=64, default="organization")
    horizon_days = models.PositiveIntegerField(default=180)
    interval_width = models.FloatField(default=0.8)
    model_name = models.CharField(max_length=40, blank=True)
    model_reason = models.TextField(blank=True)
    history_start = models.DateField(null=True, blank=True)
    history_end = models.DateField(null=True, blank=True)
    history_days = models.PositiveIntegerField(default=0)
    cost_per_million_tokens = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"forecast #{self.pk} {self.organization} ({self.status})"


class ForecastPoint(models.Model):
    """A forecast day: tokens (integers) and cost (Decimal USD), each with its interval."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="points")
    date = models.DateField()
    tokens = models.BigIntegerField()
    tokens_lower = models.BigIntegerField()
    tokens_upper = models.BigIntegerField()
    cost = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    cost_lower = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    cost_upper = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["run", "date"]
        constraints = [models.UniqueConstraint(fields=["run", "date"], name="uniq_point_per_day")]

    def __str__(self) -> str:
        return f"{self.date}: {self.tokens}"
