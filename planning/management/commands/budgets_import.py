"""`manage.py budgets_import FILE --org SLUG`: create or update an organization's budgets from a CSV, all or nothing
(the format is described in ``planning/budget_csv.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.management.organization import organization_for_command
from planning.budget_csv import BudgetImportError, budgets_import


class Command(BaseCommand):
    help = (
        "Import budgets from a CSV with the columns name,team,provider,model,period,starts_on,ends_on,amount,"
        "currency,owners,thresholds,overrun_alert_probability (name, starts_on and amount required). Rows update "
        "the budget of the same name or create one. Any problem rejects the whole file, with one message per row "
        "and column, and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, help="organization slug")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(options["org"])
        path: Path = options["file"]
        try:
            content = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        try:
            result = budgets_import(organization=organization, lines=content, filename=path.name)
        except BudgetImportError as error:
            raise CommandError(f"{path.name} rejected, no budget changed:\n" + "\n".join(error.messages())) from error
        self.stdout.write(f"{path.name}: {result.summary()}")
