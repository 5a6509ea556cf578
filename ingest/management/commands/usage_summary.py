"""`manage.py usage_summary --org SLUG [--by FIELD,...] [--from DATE] [--to DATE] [--json]`: ledger totals."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.management.organization import organization_for_command
from ingest.selectors import SUMMARY_FIELDS, usage_summary


class Command(BaseCommand):
    help = "Totals of tokens and cost grouped by provider, model, team, token_type, day or month."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--by", default="", help=f"comma-separated: {', '.join(SUMMARY_FIELDS)}")
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, default=None)
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, default=None)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(options["org"])
        by = [field.strip() for field in options["by"].split(",") if field.strip()]
        try:
            rows = usage_summary(
                organization=organization, by=by, date_from=options["date_from"], date_to=options["date_to"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps([{**row, "cost": str(row["cost"])} for row in rows]))
            return
        header = [*by, "tokens", "cost_usd", "records"]
        self.stdout.write("\t".join(header))
        for row in rows:
            values = [str(row[field]) for field in by] + [
                f"{row['tokens']:,}",
                f"{row['cost']:.2f}",
                str(row["records"]),
            ]
            self.stdout.write("\t".join(values))
