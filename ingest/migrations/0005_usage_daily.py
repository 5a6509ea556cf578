"""The daily rollup of the ledger (UsageDaily) and its per-organization state, built for the ledger already there."""

import uuid

import django.db.models.deletion
from django.db import migrations, models

# Frozen here (not imported from the code) so that this migration keeps doing what it did.
SLOTS = ("input", "output", "cached_input", "cache_write", "other")
COUNTED_COST_BASES = ("billed", "amortized", "list", "estimated", "unknown")
KEYS = "organization_id, date, provider, model, team_id, currency"


def _per_slot(measure):
    whens = " ".join(f"WHEN {number} THEN grouped.{measure}_{number}" for number in range(len(SLOTS)))
    return f"CASE slot.number {whens} END"


def _sums():
    counted = ", ".join(f"'{basis}'" for basis in COUNTED_COST_BASES)
    sums = []
    for number, slot in enumerate(SLOTS):
        tokens = "0" if slot == "other" else f"SUM(CASE WHEN unit = 'tokens' THEN {slot}_quantity END)"
        sums.append(
            f"{tokens} AS tokens_{number}, "
            f"SUM(CASE WHEN {slot}_basis IN ({counted}) THEN {slot}_cost END) AS cost_{number}, "
            f"COUNT({slot}_quantity) AS records_{number}"
        )
    return ", ".join(sums)


_SLOT_ROWS = " UNION ALL ".join(
    f"SELECT {number} AS number, '{slot}' AS token_type" for number, slot in enumerate(SLOTS)
)
BUILD_SQL = (
    f"INSERT INTO ingest_usagedaily ({KEYS}, token_type, tokens, cost, records) "
    f"SELECT {', '.join(f'grouped.{key.strip()}' for key in KEYS.split(','))}, slot.token_type, "
    f"COALESCE({_per_slot('tokens')}, 0), COALESCE({_per_slot('cost')}, 0), {_per_slot('records')} "
    f"FROM (SELECT {KEYS}, {_sums()} FROM ingest_ledgerline GROUP BY {KEYS}) grouped "
    f"CROSS JOIN ({_SLOT_ROWS}) slot WHERE {_per_slot('records')} > 0"
)


def build_rollup(apps, schema_editor):
    """Every organization's rollup from its ledger lines, with a state row (version, currencies) for each."""
    schema_editor.execute(BUILD_SQL)
    usage_daily = apps.get_model("ingest", "UsageDaily")
    state = apps.get_model("ingest", "UsageRollupState")
    currencies = {}
    for organization_id, currency in usage_daily.objects.values_list("organization_id", "currency").distinct():
        currencies.setdefault(organization_id, set()).add(currency)
    state.objects.bulk_create(
        state(organization_id=organization_id, version=uuid.uuid4(), currencies=sorted(codes))
        for organization_id, codes in currencies.items()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0007_seed_model_deprecations"),
        ("ingest", "0004_ledger_lines"),
    ]

    operations = [
        migrations.CreateModel(
            name="UsageRollupState",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="finops.organization",
                    ),
                ),
                ("version", models.UUIDField(default=uuid.uuid4)),
                ("currencies", models.JSONField(blank=True, default=list)),
                ("refreshed_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name="UsageDaily",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField()),
                ("provider", models.CharField(max_length=60)),
                ("model", models.CharField(max_length=160)),
                (
                    "token_type",
                    models.CharField(
                        choices=[
                            ("input", "Input (uncached)"),
                            ("output", "Output"),
                            ("cached_input", "Cached input"),
                            ("cache_write", "Cache write"),
                            ("other", "Other"),
                        ],
                        max_length=16,
                    ),
                ),
                ("currency", models.CharField(default="USD", max_length=3)),
                ("tokens", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=10, default=0, max_digits=28)),
                ("records", models.BigIntegerField(default=0)),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="finops.organization",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="finops.team",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "usage daily",
                "indexes": [
                    models.Index(fields=["organization", "date"], name="ingest_usag_organiz_8ee373_idx"),
                    models.Index(fields=["organization", "model", "date"], name="ingest_usag_organiz_606707_idx"),
                    models.Index(fields=["organization", "team", "date"], name="ingest_usag_organiz_f4d59e_idx"),
                ],
            },
        ),
        migrations.RunPython(build_rollup, migrations.RunPython.noop),
    ]
