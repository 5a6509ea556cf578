"""The ledger is stored one line per source row (LedgerLine) and read one row per token type through
the LedgerEntry view; existing rows move over as lines with one filled slot."""

import django.db.models.deletion
from django.db import migrations, models

# Frozen here (not imported from the models) so that this migration keeps doing what it did.
SLOTS = ("input", "output", "cached_input", "cache_write", "other")
LINE_COLUMNS = (
    "organization_id",
    "upload_id",
    "source_row",
    "date",
    "period_start",
    "period_end",
    "provider",
    "model",
    "model_raw",
    "unit",
    "currency",
    "project",
    "workspace",
    "api_key",
    "account",
    "region",
    "service_tier",
    "tags",
    "team_id",
)


def _slot_case(part):
    whens = " ".join(f"WHEN {number} THEN line.{token_type}_{part}" for number, token_type in enumerate(SLOTS))
    return f"CASE slot.number {whens} END"


_SLOT_ROWS = " UNION ALL ".join(
    f"SELECT {number} AS number, '{token_type}' AS token_type" for number, token_type in enumerate(SLOTS)
)
# LedgerEntry: one row per filled slot of a line (PostgreSQL and SQLite alike); id = line id x 8 + slot.
ENTRY_VIEW_SQL = (
    "CREATE VIEW ingest_ledgerentry AS SELECT line.id * 8 + slot.number AS id, line.id AS line_id, "
    + ", ".join(f"line.{column}" for column in LINE_COLUMNS)
    + ", slot.token_type AS token_type, "
    + f"{_slot_case('quantity')} AS quantity, "
    + "CASE WHEN line.requests_slot = slot.number THEN line.requests END AS requests, "
    + f"{_slot_case('cost')} AS cost, {_slot_case('basis')} AS cost_basis "
    + f"FROM ingest_ledgerline line CROSS JOIN ({_SLOT_ROWS}) slot "
    + f"WHERE {_slot_case('quantity')} IS NOT NULL"
)
# The rows of the old one-row-per-token-type table, each as a line with one filled slot.
_SLOT_NUMBER = "CASE token_type " + " ".join(f"WHEN '{t}' THEN {n}" for n, t in enumerate(SLOTS)) + " END"
COPY_ENTRIES_SQL = (
    "INSERT INTO ingest_ledgerline ("
    + ", ".join(LINE_COLUMNS)
    + ", requests, requests_slot, "
    + ", ".join(f"{t}_quantity, {t}_cost, {t}_basis" for t in SLOTS)
    + ") SELECT "
    + ", ".join(LINE_COLUMNS)
    + f", requests, CASE WHEN requests IS NOT NULL THEN {_SLOT_NUMBER} END, "
    + ", ".join(
        f"CASE WHEN token_type = '{t}' THEN quantity END, CASE WHEN token_type = '{t}' THEN cost END, "
        f"CASE WHEN token_type = '{t}' THEN cost_basis ELSE '' END"
        for t in SLOTS
    )
    + " FROM ingest_ledgerentry ORDER BY id"
)


class Migration(migrations.Migration):
    dependencies = [
        ("finops", "0006_holiday_country"),
        ("ingest", "0003_ledger_lean_keys"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source_row", models.PositiveIntegerField()),
                ("date", models.DateField()),
                ("period_start", models.DateTimeField()),
                ("period_end", models.DateTimeField()),
                ("provider", models.CharField(max_length=60)),
                ("model", models.CharField(max_length=160)),
                ("model_raw", models.CharField(max_length=255)),
                ("unit", models.CharField(default="tokens", max_length=32)),
                ("currency", models.CharField(default="USD", max_length=3)),
                ("project", models.CharField(blank=True, max_length=255)),
                ("workspace", models.CharField(blank=True, max_length=255)),
                ("api_key", models.CharField(blank=True, max_length=255)),
                ("account", models.CharField(blank=True, max_length=255)),
                ("region", models.CharField(blank=True, max_length=64)),
                ("service_tier", models.CharField(blank=True, max_length=32)),
                ("tags", models.JSONField(blank=True, default=dict)),
                ("requests", models.BigIntegerField(blank=True, null=True)),
                ("requests_slot", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("input_quantity", models.BigIntegerField(blank=True, null=True)),
                ("input_cost", models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True)),
                (
                    "input_basis",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("billed", "Billed"),
                            ("amortized", "Amortized"),
                            ("list", "List"),
                            ("estimated", "Estimated from list price"),
                            ("superseded", "Estimate superseded by billed cost"),
                            ("unknown", "Unknown"),
                        ],
                        max_length=16,
                    ),
                ),
                ("output_quantity", models.BigIntegerField(blank=True, null=True)),
                ("output_cost", models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True)),
                (
                    "output_basis",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("billed", "Billed"),
                            ("amortized", "Amortized"),
                            ("list", "List"),
                            ("estimated", "Estimated from list price"),
                            ("superseded", "Estimate superseded by billed cost"),
                            ("unknown", "Unknown"),
                        ],
                        max_length=16,
                    ),
                ),
                ("cached_input_quantity", models.BigIntegerField(blank=True, null=True)),
                ("cached_input_cost", models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True)),
                (
                    "cached_input_basis",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("billed", "Billed"),
                            ("amortized", "Amortized"),
                            ("list", "List"),
                            ("estimated", "Estimated from list price"),
                            ("superseded", "Estimate superseded by billed cost"),
                            ("unknown", "Unknown"),
                        ],
                        max_length=16,
                    ),
                ),
                ("cache_write_quantity", models.BigIntegerField(blank=True, null=True)),
                ("cache_write_cost", models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True)),
                (
                    "cache_write_basis",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("billed", "Billed"),
                            ("amortized", "Amortized"),
                            ("list", "List"),
                            ("estimated", "Estimated from list price"),
                            ("superseded", "Estimate superseded by billed cost"),
                            ("unknown", "Unknown"),
                        ],
                        max_length=16,
                    ),
                ),
                ("other_quantity", models.BigIntegerField(blank=True, null=True)),
                ("other_cost", models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True)),
                (
                    "other_basis",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("billed", "Billed"),
                            ("amortized", "Amortized"),
                            ("list", "List"),
                            ("estimated", "Estimated from list price"),
                            ("superseded", "Estimate superseded by billed cost"),
                            ("unknown", "Unknown"),
                        ],
                        max_length=16,
                    ),
                ),
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
                (
                    "upload",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="lines",
                        to="ingest.upload",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["organization", "date"], name="ingest_ledg_organiz_6a3f78_idx")],
            },
        ),
        migrations.RunSQL(COPY_ENTRIES_SQL, reverse_sql=migrations.RunSQL.noop),
        migrations.DeleteModel(name="LedgerEntry"),
        migrations.CreateModel(
            name="LedgerEntry",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("source_row", models.PositiveIntegerField()),
                ("date", models.DateField()),
                ("period_start", models.DateTimeField()),
                ("period_end", models.DateTimeField()),
                ("provider", models.CharField(max_length=60)),
                ("model", models.CharField(max_length=160)),
                ("model_raw", models.CharField(max_length=255)),
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
                ("quantity", models.BigIntegerField()),
                ("unit", models.CharField(default="tokens", max_length=32)),
                ("requests", models.BigIntegerField(blank=True, null=True)),
                ("cost", models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True)),
                ("currency", models.CharField(default="USD", max_length=3)),
                (
                    "cost_basis",
                    models.CharField(
                        choices=[
                            ("billed", "Billed"),
                            ("amortized", "Amortized"),
                            ("list", "List"),
                            ("estimated", "Estimated from list price"),
                            ("superseded", "Estimate superseded by billed cost"),
                            ("unknown", "Unknown"),
                        ],
                        default="unknown",
                        max_length=16,
                    ),
                ),
                ("project", models.CharField(blank=True, max_length=255)),
                ("workspace", models.CharField(blank=True, max_length=255)),
                ("api_key", models.CharField(blank=True, max_length=255)),
                ("account", models.CharField(blank=True, max_length=255)),
                ("region", models.CharField(blank=True, max_length=64)),
                ("service_tier", models.CharField(blank=True, max_length=32)),
                ("tags", models.JSONField(blank=True, default=dict)),
                (
                    "line",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="ingest.ledgerline",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="finops.organization",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="finops.team",
                    ),
                ),
                (
                    "upload",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="entries",
                        to="ingest.upload",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "ledger entries",
                "db_table": "ingest_ledgerentry",
                "managed": False,
            },
        ),
        migrations.RunSQL(ENTRY_VIEW_SQL, reverse_sql="DROP VIEW ingest_ledgerentry"),
    ]
