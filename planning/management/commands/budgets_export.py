"""`manage.py budgets_export --org SLUG [--output FILE]`: an organization's budgets as CSV, the format that
``budgets_import`` reads back (described in ``planning/budget_csv.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.management.organization import organization_for_command
from planning.budget_csv import budgets_export


class Command(BaseCommand):
    help = "Write an organization's budgets as CSV (to stdout, or to --output FILE), ready for budgets_import."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--output", type=Path, default=None, help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(options["org"])
        text = budgets_export(organization=organization)
        path: Path | None = options["output"]
        if path is None:
            self.stdout.write(text, ending="")
            return
        try:
            path.write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(f"cannot write {path}: {error.strerror}") from error
        self.stdout.write(f"{organization.slug}: budgets written to {path}")
