"""`manage.py fx_import FILE`: import dated exchange rates (date,from_currency,to_currency,rate[,source])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.catalog import FileRejected, text_lines
from finops.services import fx_rates_import


class Command(BaseCommand):
    help = (
        "Import exchange rates from a CSV with the columns date,from_currency,to_currency,rate and optionally "
        "source (1 from_currency = rate to_currency on that date). Any problem rejects the whole file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            result = fx_rates_import(lines=text_lines(path.read_bytes()), filename=path.name)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        except FileRejected as error:
            raise CommandError(
                f"{path.name} rejected, nothing changed:\n" + "\n".join(str(e) for e in error.errors)
            ) from error
        self.stdout.write(
            f"{path.name}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        )
