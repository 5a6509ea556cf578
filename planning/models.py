"""What finance decides with the forecasts: budgets and their owners, alerts and their deliveries, webhooks,
recommendations with their savings and evidence, and the monthly forecast e-mails' deliveries and opt-outs.

Budgets repeat every period (month, quarter, year) from ``starts_on``; their status is computed on demand from the
ledger and the latest forecast run (``planning.selectors.budget_status``), never stored, so it is always current.
Alerts are stored, one per budget, kind and period (anomalies: one per day and scope), and re-used when the same
condition is evaluated again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from finops.models import CURRENCY_CHOICES, Organization, Team

DEFAULT_THRESHOLDS = (0.8, 1.0)
DEFAULT_OVERRUN_ALERT_PROBABILITY = 0.5


def default_thresholds() -> list[float]:
    return list(DEFAULT_THRESHOLDS)


class Budget(models.Model):
    """An amount for a scope (the organization, or any combination of team, provider and model) per period."""

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"
        YEAR = "year", "Year"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="budgets")
    name = models.CharField(max_length=200)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="budgets", help_text="Empty: every team."
    )
    provider = models.CharField(max_length=60, blank=True, help_text="Empty: every provider.")
    model = models.CharField(max_length=160, blank=True, help_text="Empty: every model.")
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    starts_on = models.DateField(help_text="The first day of the first period (the first day of a month).")
    ends_on = models.DateField(null=True, blank=True, help_text="Last day of the last period; empty: open-ended.")
    amount = models.DecimalField(max_digits=18, decimal_places=2, help_text="Per period, in the budget's currency.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    thresholds = models.JSONField(
        default=default_thresholds, help_text="Fractions of the amount that raise a threshold alert, e.g. [0.8, 1.0]."
    )
    overrun_alert_probability = models.FloatField(
        default=DEFAULT_OVERRUN_ALERT_PROBABILITY,
        help_text="A forecast-overrun alert opens when the overrun probability is above this.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_budget_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_organization_wide(self) -> bool:
        return self.team_id is None and not self.provider and not self.model

    def scope_label(self) -> str:
        parts = [
            f"team {self.team.name}" if self.team_id and self.team else "",
            f"provider {self.provider}" if self.provider else "",
            f"model {self.model}" if self.model else "",
        ]
        return ", ".join(part for part in parts if part) or "whole organization"


class BudgetOwner(models.Model):
    """Who gets a budget's alerts and monthly e-mail: a user, or a plain e-mail address."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="owners")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="owned_budgets"
    )
    email = models.EmailField(blank=True, help_text="Used when no user is set (or the user has no address).")

    class Meta:
        ordering = ["budget", "email"]
        constraints = [
            models.CheckConstraint(condition=Q(user__isnull=False) | ~Q(email=""), name="budget_owner_user_or_email")
        ]

    def __str__(self) -> str:
        return self.address or (self.user.get_username() if self.user else "")

    @property
    def address(self) -> str:
        if self.user is not None and self.user.email:
            return self.user.email
        return self.email


class Alert(models.Model):
    """One alert per budget, kind and period, or per day and scope for anomalies; resolved and reopened in place."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold crossed"
        FORECAST_OVERRUN = "forecast_overrun", "Forecast overrun"
        ANOMALY = "anomaly", "Anomaly"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alerts")
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    period_start = models.DateField(help_text="The budget period's first day; for an anomaly, its day.")
    scope = models.CharField(
        max_length=300, blank=True, help_text='Anomalies: "organization" or "team | model"; empty for budget alerts.'
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    level = models.FloatField(
        null=True, blank=True, help_text="Threshold alerts: the highest threshold crossed; overruns: the probability."
    )
    generation = models.PositiveIntegerField(default=1, help_text="1 when first opened, +1 each time it reopens.")
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "kind", "period_start"],
                condition=Q(budget__isnull=False),
                name="uniq_alert_per_budget_kind_period",
            ),
            models.UniqueConstraint(
                fields=["organization", "kind", "period_start", "scope"],
                condition=Q(budget__isnull=True),
                name="uniq_alert_per_day_scope",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start} ({self.status})"


class Webhook(models.Model):
    """Where an organization wants alerts POSTed: JSON signed with HMAC-SHA256, Slack-compatible (``text``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500, help_text="http(s) URL, e.g. a Slack incoming webhook.")
    secret = models.CharField(max_length=200, blank=True, help_text="Signs each POST (X-Tokencast-Signature).")
    kinds = models.JSONField(default=list, blank=True, help_text="Alert kinds it wants; empty: every kind.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_webhook_name")]

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return self.active and (not self.kinds or kind in self.kinds)


class AlertDelivery(models.Model):
    """One message of one alert event to one recipient on one channel: claimed before sending, so a retried task
    never sends twice, and kept with its attempts and last error, so a failed one is never lost."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed (gave up)"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=500, help_text="The e-mail address, or the webhook's id.")
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    event = models.CharField(max_length=40, help_text='What it announces, e.g. "opened#1" or "threshold 1.0#1".')
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "alert deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "channel", "target", "event"], name="uniq_alert_delivery")
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.target}: {self.status}"


class Recommendation(models.Model):
    """A change that makes the same work cheaper, with its savings and the evidence to recompute them."""

    class Kind(models.TextChoices):
        MODEL_SWITCH = "model_switch", "Model switch"
        PROMPT_CACHING = "prompt_caching", "Prompt caching"
        BATCH = "batch", "Batch tier"
        DEPRECATION = "deprecation", "Deprecation"
        COMMITMENT = "commitment", "Commitment"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        SNOOZED = "snoozed", "Snoozed"

    class Confidence(models.TextChoices):
        HIGH = "high", "High"
        MEDIUM = "medium", "Medium"
        LOW = "low", "Low"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="recommendations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    team = models.CharField(max_length=120, blank=True, help_text='Team name, "unallocated", or empty.')
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=160, blank=True)
    to_model = models.CharField(max_length=160, blank=True)
    title = models.CharField(max_length=300)
    monthly_savings = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    twelve_month_savings = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    confidence = models.CharField(max_length=8, choices=Confidence.choices, default=Confidence.MEDIUM)
    lower_quality = models.BooleanField(default=False, help_text="The target scores below the current model.")
    quality_gap = models.FloatField(null=True, blank=True, help_text="Current score minus the target's.")
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    dismiss_reason = models.TextField(blank=True)
    snoozed_until = models.DateField(null=True, blank=True)
    forecast_run = models.ForeignKey(
        "forecasting.ForecastRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    what_if_run = models.ForeignKey(
        "forecasting.ForecastRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "-twelve_month_savings", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "team", "provider", "model", "to_model"], name="uniq_recommendation"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ForecastEmailDelivery(models.Model):
    """The monthly forecast e-mail of one owner (an address) of an organization for one month: claimed by inserting
    it (or by taking over a stale or retryable claim) before anything is sent, so it goes out once.

    Each claim writes a new ``claim_token``: a sender learns it holds the claim by reading its own token back, and
    only finishes (sent, retrying, failed) the claim it still holds. ``attempts`` counts the claims; ``message_id``
    is the same for every attempt (``planning.monthly_delivery``)."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying (temporary failure)"
        FAILED = "failed", "Failed (gave up)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="forecast_email_deliveries")
    month = models.DateField(help_text="The month the e-mail is for (its first day).")
    address = models.CharField(max_length=254, help_text="The owner's e-mail address, lower-case.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    attempts = models.PositiveIntegerField(default=1)
    claim_token = models.UUIDField(editable=False, help_text="Which sender holds (or last held) the claim.")
    claimed_at = models.DateTimeField(help_text="When the current (or last) attempt began.")
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200)
    budgets = models.PositiveIntegerField(default=0, help_text="How many budgets the e-mail covered.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "forecast e-mail delivery"
        verbose_name_plural = "forecast e-mail deliveries"
        ordering = ["-month", "organization", "address"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "address", "month"], name="uniq_forecast_email_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} to {self.address}: {self.status}"


class ForecastEmailOptOut(models.Model):
    """An owner (an address) of an organization who does not want the monthly forecast e-mail; deleting the row
    subscribes them again. Set in the admin or by the e-mail's unsubscribe link."""

    class Source(models.TextChoices):
        LINK = "link", "Unsubscribe link"
        ADMIN = "admin", "Admin"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="forecast_email_opt_outs")
    address = models.CharField(max_length=254, help_text="The owner's e-mail address (stored lower-case).")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ADMIN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "forecast e-mail opt-out"
        ordering = ["organization", "address"]
        constraints = [models.UniqueConstraint(fields=["organization", "address"], name="uniq_forecast_email_opt_out")]

    def __str__(self) -> str:
        return self.address
