"""Core domain: organizations (tenants), memberships with roles, teams, allocation rules, list prices."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organization(models.Model):
    """A tenant. Every ledger row, upload and forecast belongs to exactly one."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    reporting_currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    ANALYST = "analyst", "Analyst"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


class Membership(models.Model):
    """A user's role in one organization: viewers read, analysts upload and forecast, admins manage."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class Team(models.Model):
    """A cost owner inside an organization; ledger rows are allocated to teams by rules."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    slug = models.SlugField()
    name = models.CharField(max_length=200)
    owner_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["organization", "slug"]
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="uniq_team_slug")]

    def __str__(self) -> str:
        return self.name


class AllocationRule(models.Model):
    """Assigns ledger rows whose dimension equals a value to a team. Lower priority wins."""

    class Dimension(models.TextChoices):
        PROJECT = "project", "Project"
        WORKSPACE = "workspace", "Workspace"
        API_KEY = "api_key", "API key"
        ACCOUNT = "account", "Account / subscription"
        MODEL = "model", "Model"
        TAG = "tag", "Tag (key=value)"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="allocation_rules")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="allocation_rules")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    value = models.CharField(max_length=255)
    priority = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["organization", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.dimension}={self.value} -> {self.team}"


class ModelAlias(models.Model):
    """An organization's own mapping of an exported model name to a model id (wins over the built-in rules)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="model_aliases")
    provider = models.CharField(max_length=60, blank=True, help_text="Leave empty to apply to every provider.")
    model_raw = models.CharField(max_length=255, help_text="The model name exactly as the export writes it.")
    model = models.CharField(max_length=160, help_text="The model id to book it under.")

    class Meta:
        ordering = ["organization", "provider", "model_raw"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "provider", "model_raw"], name="uniq_model_alias")
        ]

    def __str__(self) -> str:
        return f"{self.provider or '*'}:{self.model_raw} -> {self.model}"


class TokenType(models.TextChoices):
    INPUT = "input", "Input (uncached)"
    OUTPUT = "output", "Output"
    CACHED_INPUT = "cached_input", "Cached input"
    CACHE_WRITE = "cache_write", "Cache write"
    OTHER = "other", "Other"


class ModelPrice(models.Model):
    """A list price per million tokens for one model and token type, in force from a date."""

    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    usd_per_million = models.DecimalField(max_digits=14, decimal_places=6)
    effective_from = models.DateField()
    source = models.TextField()

    class Meta:
        ordering = ["provider", "model", "token_type", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "token_type", "effective_from"], name="uniq_model_price"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.token_type} ${self.usd_per_million}/M from {self.effective_from}"
