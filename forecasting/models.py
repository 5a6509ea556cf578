"""Forecast runs, the series each run forecast, and their results.

A run forecasts every leaf series of the organization's ledger (provider x team x model x token type,
daily tokens) and adds the leaves up to the levels people budget at (organization, provider, team, model,
team x model), so every level is coherent with the total by construction (bottom-up). Results are kept
per run: old runs stay for comparison ("this month's forecast vs last month's").
"""

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

    class Trigger(models.TextChoices):
        ON_DEMAND = "on_demand", "On demand"
        AFTER_INGEST = "after_ingest", "After an upload"
        NIGHTLY = "nightly", "Nightly"
        WHAT_IF = "what_if", "What-if"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="forecast_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.ON_DEMAND)
    horizon_days = models.PositiveIntegerField(default=180)
    interval_width = models.FloatField(default=0.8)
    scenario = models.CharField(max_length=32, default="base")
    policy = models.CharField(max_length=32, default="stay")
    holiday_country = models.CharField(
        max_length=3, blank=True, help_text="The organization's holiday country when the run was created."
    )
    what_if = models.JSONField(
        default=dict, blank=True, help_text="Changes applied on top of the baseline: model switch, cache/batch share."
    )
    baseline = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="what_ifs",
        help_text="For a what-if run: the run whose token forecasts it re-prices.",
    )
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="A debounced refresh waits until then (further uploads push it back)."
    )
    series_total = models.PositiveIntegerField(default=0)
    series_done = models.PositiveIntegerField(default=0)
    series_failed = models.PositiveIntegerField(default=0)
    backtest = models.JSONField(default=dict, blank=True, help_text="Backtest metrics summed up over the series.")
    model_name = models.CharField(max_length=200, blank=True, help_text='Models that served, e.g. "blend x12, ets x3".')
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


class ForecastSeries(models.Model):
    """One series of a run. A **workload** (provider x team daily tokens; ``model`` and ``token_type`` empty) is
    fitted: its model, backtest and volume forecast. A **leaf** (provider x team x model x token type) is derived:
    its workload's volume times the leaf's share of the workload's mix (``forecasting.mix``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        WORKLOAD = "workload", "Workload (fitted volume)"
        LEAF = "leaf", "Leaf (share of its workload)"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="series")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LEAF)
    provider = models.CharField(max_length=60)
    team = models.CharField(max_length=120, help_text='Team name, or "unallocated".')
    model = models.CharField(max_length=160)
    token_type = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    model_name = models.CharField(max_length=40, blank=True, help_text="The forecasting model that served.")
    model_reason = models.TextField(blank=True)
    history_days = models.PositiveIntegerField(default=0)
    history_tokens = models.BigIntegerField(default=0)
    history = models.JSONField(default=dict, blank=True, help_text='Daily tokens: {"start": date, "values": [...]}.')
    backtest = models.JSONField(default=dict, blank=True, help_text="Rolling-origin metrics per candidate model.")
    forecast = models.JSONField(default=dict, blank=True, help_text="Daily yhat and bands, for the run's roll-up.")
    prophet_fit = models.JSONField(
        null=True,
        blank=True,
        help_text="The Prophet fit that served (log-space components ahead), reused by later runs while it holds.",
    )
    error = models.TextField(blank=True)

    PUBLIC_FIELDS = (
        "kind",
        "provider",
        "team",
        "model",
        "token_type",
        "status",
        "model_name",
        "model_reason",
        "history_days",
        "history_tokens",
        "backtest",
        "error",
    )
    """What the API and the admin show of a series (its stored history and daily forecast stay internal)."""

    class Meta:
        ordering = ["run", "provider", "team", "model", "token_type"]
        verbose_name_plural = "forecast series"
        constraints = [
            models.UniqueConstraint(
                fields=["run", "provider", "team", "model", "token_type"], name="uniq_series_per_run"
            )
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.WORKLOAD:
            return f"{self.provider}/{self.team} (workload)"
        return f"{self.provider}/{self.team}/{self.model}/{self.token_type}"


class ForecastMonth(models.Model):
    """A month of a run at one level: tokens and cost with 50%, 80% and 95% intervals (from sampled paths)."""

    class Level(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        PROVIDER = "provider", "Provider"
        TEAM = "team", "Team"
        MODEL = "model", "Model"
        TEAM_MODEL = "team_model", "Team x model"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="months")
    level = models.CharField(max_length=16, choices=Level.choices)
    key = models.CharField(max_length=300, blank=True, help_text='e.g. "Search" for a team, "Search | gpt-4o".')
    month = models.DateField(help_text="First day of the month.")
    days = models.PositiveSmallIntegerField()
    tokens = models.BigIntegerField()
    tokens_by_type = models.JSONField(default=dict)
    tokens_intervals = models.JSONField(default=dict, help_text='{"50": [lower, upper], "80": [...], "95": [...]}')
    cost = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    cost_intervals = models.JSONField(default=dict, help_text="Cost bounds (decimal strings) per interval width.")
    unpriced_tokens = models.BigIntegerField(default=0, help_text="Forecast tokens with no known price.")

    class Meta:
        ordering = ["run", "level", "key", "month"]
        constraints = [models.UniqueConstraint(fields=["run", "level", "key", "month"], name="uniq_month_per_level")]

    def __str__(self) -> str:
        return f"{self.level} {self.key} {self.month:%Y-%m}: {self.tokens}"


class ForecastScope(models.Model):
    """What budgets and anomaly checks read of a run, beside its monthly levels.

    ``cell`` rows (one per provider x team x model) keep every sampled path's monthly cost, so a budget over any
    combination of team, provider and model sums the cells it covers path by path and reads its overrun
    probability off the samples themselves; ``daily_cost`` is the mean daily cost (for breach dates).
    ``organization`` and ``team_model`` rows keep the mean and the 99% band of each of the first
    ``BAND_DAYS`` days, in tokens and cost: a day of actuals outside it is an anomaly.
    """

    class Level(models.TextChoices):
        CELL = "cell", "Provider x team x model"
        ORGANIZATION = "organization", "Organization"
        TEAM_MODEL = "team_model", "Team x model"

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="scopes")
    level = models.CharField(max_length=16, choices=Level.choices)
    provider = models.CharField(max_length=60, blank=True)
    team = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=160, blank=True)
    months = models.JSONField(default=list, help_text="First day of each month the paths cover (ISO dates).")
    monthly_cost_paths = models.BinaryField(
        null=True, blank=True, help_text="float32, samples x months, row-major: each path's cost per month (USD)."
    )
    samples = models.PositiveIntegerField(default=0)
    daily_cost = models.JSONField(default=list, help_text="Mean cost per forecast day (USD), from the run's start.")
    daily_tokens = models.JSONField(default=list, help_text="Mean tokens per forecast day.")
    band = models.JSONField(
        default=dict,
        blank=True,
        help_text='First days\' 99% band: {"tokens": [[lower, upper], ...], "cost": [[lower, upper], ...]}.',
    )

    class Meta:
        ordering = ["run", "level", "provider", "team", "model"]
        constraints = [
            models.UniqueConstraint(fields=["run", "level", "provider", "team", "model"], name="uniq_scope_per_run")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} {self.level} {self.provider}/{self.team}/{self.model}"


class PriceScenario(models.Model):
    """An organization's own price scenario, usable by name in forecast runs next to the built-in three.

    Fields mirror ``forecasting.projection.Scenario``: drifts are annual fractions (-0.10 = prices fall 10% a
    year); decline curves give the cheapest-at-bar lag in months and the annual factor (10 = ten times
    cheaper a year) per tier; elasticity is the price elasticity of token demand (0 = none).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="price_scenarios")
    name = models.SlugField(max_length=40, help_text="Used as the run's scenario; must differ from the built-ins.")
    description = models.TextField(blank=True)
    stay_annual_drift = models.FloatField(default=0.0)
    follow_tier_annual_drift = models.FloatField(default=0.0)
    commodity_lag_months = models.FloatField(default=0.0)
    commodity_annual_factor = models.FloatField(default=10.0)
    mid_lag_months = models.FloatField(default=1.5)
    mid_annual_factor = models.FloatField(default=13.0)
    frontier_lag_months = models.FloatField(default=6.0)
    frontier_annual_factor = models.FloatField(default=10.0)
    elasticity = models.FloatField(default=0.0)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_scenario_name")]

    def __str__(self) -> str:
        return f"{self.organization}: {self.name}"


class PriceTrendFit(models.Model):
    """A decline rate fitted from the price history for one quality bar (``manage.py fit_price_trends``)."""

    bar_model = models.CharField(max_length=120, help_text="The model whose quality score sets the bar.")
    score_name = models.CharField(max_length=60)
    score_as_of = models.DateField()
    bar_score = models.FloatField()
    tier = models.CharField(max_length=16)
    annual_factor = models.FloatField(help_text="Fitted (and, for short windows, shrunk) price decline per year.")
    ci90_low = models.FloatField()
    ci90_high = models.FloatField()
    ols_annual_factor = models.FloatField()
    published_base_factor = models.FloatField(help_text="The base scenario's factor for this tier, for comparison.")
    n_points = models.PositiveIntegerField()
    window_start = models.DateField()
    window_end = models.DateField()
    cheapest_model_changes = models.PositiveIntegerField()
    shrinkage_applied = models.BooleanField()
    cheapest_path = models.TextField(blank=True)
    fitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-fitted_at", "bar_score"]

    def __str__(self) -> str:
        return f"{self.bar_model} bar: {self.annual_factor:.1f}x/yr"
