"""Core domain: organizations (tenants), memberships with roles, teams, allocation rules, and the price book:
the model catalog, effective-dated list prices with their change log, multipliers, organization overrides, FX rates.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from finops.catalog import CURRENCIES, range_conflict

CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]


def validate_holiday_country(value: str) -> None:
    """A country code the ``holidays`` package knows (its public holidays go into the forecasts)."""
    import holidays  # lazy: a large registry, needed only when a country is set

    if value and value not in holidays.list_supported_countries():
        raise ValidationError(
            f"{value!r} is not a country code of the holidays package; use an ISO code such as US, DE or GB."
        )


def validate_time_zone(value: str) -> None:
    """An IANA time zone name (e.g. Europe/Berlin, Pacific/Auckland) that ``zoneinfo`` knows."""
    import zoneinfo

    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name; use one such as UTC, Europe/Berlin.")


class Organization(models.Model):
    """A tenant. Every ledger row, upload and forecast belongs to exactly one."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    reporting_currency = models.CharField(
        max_length=3, default="USD", choices=CURRENCY_CHOICES, help_text="Currency that totals are converted to."
    )
    holiday_country = models.CharField(
        max_length=3,
        blank=True,
        validators=[validate_holiday_country],
        help_text="ISO country code (e.g. US, DE) whose public holidays the forecasts model; blank for none.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        # Also in the database: rows inserted by code that predates the column (older migrations' models) get UTC.
        db_default="UTC",
        validators=[validate_time_zone],
        help_text="IANA time zone (e.g. Europe/Berlin): the monthly forecast e-mails go out on the 1st there.",
    )
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
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.provider or '*'}:{self.model_raw} -> {self.model}"


class TokenType(models.TextChoices):
    INPUT = "input", "Input (uncached)"
    OUTPUT = "output", "Output"
    CACHED_INPUT = "cached_input", "Cached input"
    CACHE_WRITE = "cache_write", "Cache write"
    OTHER = "other", "Other"


class CacheTtl(models.TextChoices):
    NONE = "", "Not stated"
    FIVE_MINUTES = "5m", "5 minutes"
    ONE_HOUR = "1h", "1 hour"


class ModelPrice(models.Model):
    """A list price per million tokens for one model and token type, in force from a date.

    The price in force on a day is the one with the latest ``effective_from`` on or before it
    (future-dated rows are scheduled changes), unless that row's ``effective_to`` has passed.
    """

    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    cache_ttl = models.CharField(
        max_length=2, choices=CacheTtl.choices, blank=True, default="", help_text="Cache writes only."
    )
    usd_per_million = models.DecimalField(max_digits=14, decimal_places=6)
    effective_from = models.DateField()
    effective_to = models.DateField(
        null=True, blank=True, help_text="Last day in force; empty when the next price (or nothing) ends it."
    )
    source = models.TextField()

    class Meta:
        ordering = ["provider", "model", "token_type", "cache_ttl", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "token_type", "cache_ttl", "effective_from"], name="uniq_model_price_ttl"
            ),
            models.CheckConstraint(condition=Q(usd_per_million__gte=0), name="model_price_not_negative"),
        ]
        indexes = [models.Index(fields=["model"])]

    def __str__(self) -> str:
        ttl = f" ({self.cache_ttl})" if self.cache_ttl else ""
        return (
            f"{self.provider}/{self.model} {self.token_type}{ttl} ${self.usd_per_million}/M from {self.effective_from}"
        )

    def clean(self) -> None:
        if self.effective_from is None:
            return
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValidationError({"effective_to": "The last day comes before the first."})
        siblings = ModelPrice.objects.filter(
            provider=self.provider, model=self.model, token_type=self.token_type, cache_ttl=self.cache_ttl
        ).exclude(pk=self.pk)
        conflict = range_conflict(
            effective_from=self.effective_from,
            effective_to=self.effective_to,
            steps=siblings.values_list("effective_from", "effective_to"),
        )
        if conflict is not None:
            until = f" to {conflict[1]}" if conflict[1] else ""
            raise ValidationError(f"This range overlaps the price in force from {conflict[0]}{until}.")


class PriceChange(models.Model):
    """One change to the list-price catalog, kept forever: who, when, through what, old and new value."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"

    class Via(models.TextChoices):
        SEED = "seed", "Shipped catalog"
        IMPORT = "import", "Price file import"
        ADMIN = "admin", "Admin"

    price = models.ForeignKey(ModelPrice, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes")
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120)
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    cache_ttl = models.CharField(max_length=2, choices=CacheTtl.choices, blank=True, default="")
    effective_from = models.DateField()
    action = models.CharField(max_length=8, choices=Action.choices)
    old_usd_per_million = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    new_usd_per_million = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    old_effective_to = models.DateField(null=True, blank=True)
    new_effective_to = models.DateField(null=True, blank=True)
    via = models.CharField(max_length=8, choices=Via.choices)
    source = models.TextField(blank=True, help_text="The file imported, or the price's stated source.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["provider", "model"])]

    def __str__(self) -> str:
        return f"{self.action} {self.provider}/{self.model} {self.token_type} from {self.effective_from}"


class ModelTier(models.TextChoices):
    UNKNOWN = "", "Unknown"
    LARGE = "large", "Large"
    MID = "mid", "Mid"
    SMALL = "small", "Small"


class CatalogModel(models.Model):
    """A model as one buying route sells it: the identity behind a series of list prices.

    ``model_id`` is spelled as the price source spells it; ``canonical_id`` strips what the route
    adds (rules in ``finops/catalog.py``), so one model on several routes shares it. Family and tier
    come from documented naming rules; release date is the first listed price unless set by hand.
    """

    provider = models.CharField(max_length=40, help_text="Where the price is charged (ledger route name).")
    model_id = models.CharField(max_length=120)
    canonical_id = models.CharField(max_length=120, db_index=True)
    family = models.CharField(max_length=40, blank=True)
    tier = models.CharField(max_length=8, choices=ModelTier.choices, blank=True)
    release_date = models.DateField(null=True, blank=True)
    deprecation_date = models.DateField(null=True, blank=True)
    successor = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="predecessors")
    context_window = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens.")
    long_context_base = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="long_context_tiers",
        help_text="Set when this id is the long-context price tier of another model.",
    )
    long_context_above_tokens = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["provider", "model_id"]
        constraints = [models.UniqueConstraint(fields=["provider", "model_id"], name="uniq_catalog_model")]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model_id}"


class CatalogModelAlias(models.Model):
    """Another name a buying route books a catalog model under; list prices are looked up through it.

    ``derived`` aliases come from the naming rules and are recomputed when the catalog changes;
    aliases added by hand are kept. Lower ``priority`` is tried first when several models share an alias.
    """

    catalog_model = models.ForeignKey(CatalogModel, on_delete=models.CASCADE, related_name="aliases")
    provider = models.CharField(max_length=40, help_text="The buying route that uses this name.")
    alias = models.CharField(max_length=160)
    priority = models.PositiveIntegerField(default=10, help_text="Lower is tried first; derived aliases use 100+.")
    derived = models.BooleanField(default=False)

    class Meta:
        ordering = ["provider", "alias", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "alias", "catalog_model"], name="uniq_catalog_model_alias")
        ]
        verbose_name_plural = "catalog model aliases"

    def __str__(self) -> str:
        return f"{self.provider}:{self.alias} -> {self.catalog_model}"


class ModelQualityScore(models.Model):
    """A published quality score of a model in one snapshot (Arena Elo compares only within one ``as_of``)."""

    catalog_model = models.ForeignKey(
        CatalogModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="quality_scores"
    )
    provider = models.CharField(max_length=40, help_text="The model's vendor, as the score source names it.")
    model = models.CharField(max_length=160, help_text="The id as the leaderboard spells it.")
    canonical_id = models.CharField(max_length=160, db_index=True)
    score_name = models.CharField(max_length=60)
    score = models.DecimalField(max_digits=10, decimal_places=3)
    as_of = models.DateField()
    source = models.TextField()

    class Meta:
        ordering = ["provider", "model", "score_name", "as_of"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "score_name", "as_of"], name="uniq_quality_score")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.score_name}={self.score} ({self.as_of})"


class PriceMultiplier(models.Model):
    """A multiplier on a provider's list prices: a service tier (batch, flex) or an endpoint surcharge."""

    class Kind(models.TextChoices):
        BATCH = "batch", "Batch tier"
        FLEX = "flex", "Flex tier"
        PRIORITY = "priority", "Priority tier"
        REGIONAL = "regional", "Regional endpoint"

    provider = models.CharField(max_length=40)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    multiplier = models.DecimalField(max_digits=8, decimal_places=4)
    token_types = models.JSONField(default=list, blank=True, help_text="Token types it applies to; empty: all.")
    source = models.TextField()

    class Meta:
        ordering = ["provider", "kind"]
        constraints = [models.UniqueConstraint(fields=["provider", "kind"], name="uniq_price_multiplier")]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} x{self.multiplier}"


class PriceOverride(models.Model):
    """An organization's negotiated price, effective-dated: a discount on a provider's or a model's list
    prices, or a custom price for one model and token type.

    The most specific override in force wins: a custom price, then a model discount, then a provider
    discount; a token-type-specific one before one for every token type; then the latest start.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="price_overrides")
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=120, blank=True, help_text="Empty: every model of the provider.")
    token_type = models.CharField(
        max_length=16, choices=TokenType.choices, blank=True, help_text="Empty: every token type."
    )
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    usd_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, help_text="Custom price instead of a discount."
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Last day in force; empty: open-ended.")
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "provider", "model", "token_type", "effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(discount_percent__isnull=False) & Q(usd_per_million__isnull=True))
                | (Q(discount_percent__isnull=True) & Q(usd_per_million__isnull=False)),
                name="price_override_discount_xor_price",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__isnull=True) | Q(discount_percent__gte=0, discount_percent__lte=100),
                name="price_override_discount_range",
            ),
            models.CheckConstraint(
                condition=Q(usd_per_million__isnull=True) | Q(usd_per_million__gte=0),
                name="price_override_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.describe()}"

    def clean(self) -> None:
        if (self.discount_percent is None) == (self.usd_per_million is None):
            raise ValidationError("Give either a discount percent or a custom price, not both.")
        if self.usd_per_million is not None and not (self.model and self.token_type):
            raise ValidationError("A custom price needs a model and a token type.")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValidationError({"effective_to": "The last day comes before the first."})

    def describe(self) -> str:
        """What the override does, in words: ``10% off anthropic/claude-sonnet-4-5 input from 2026-01-01``."""
        target = "/".join(part for part in (self.provider, self.model) if part)
        if self.token_type:
            target += f" {self.token_type}"
        if self.discount_percent is not None:
            what = f"{self.discount_percent.normalize():f}% off {target}"
        else:
            price = self.usd_per_million if self.usd_per_million is not None else Decimal(0)
            what = f"custom ${price.normalize():f}/M for {target}"
        until = f" to {self.effective_to}" if self.effective_to else ""
        return f"{what} from {self.effective_from}{until}"


class FxRate(models.Model):
    """An exchange rate on a date: one ``from_currency`` buys ``rate`` of ``to_currency``."""

    from_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    to_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    rate_date = models.DateField()
    source = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["from_currency", "to_currency", "-rate_date"]
        constraints = [
            models.UniqueConstraint(fields=["from_currency", "to_currency", "rate_date"], name="uniq_fx_rate"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"),
        ]
        verbose_name = "FX rate"

    def __str__(self) -> str:
        return f"1 {self.from_currency} = {self.rate} {self.to_currency} on {self.rate_date}"
