"""`manage.py prices_import FILE [--user USERNAME]`: import a price file into the catalog, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.catalog import FileRejected, text_lines
from finops.services import prices_import


class Command(BaseCommand):
    help = (
        "Import list prices from a CSV in the wide format of finops/data/price_history.csv or the long format "
        "(provider,model,token_type,usd_per_million,effective_from,currency,source). Any problem rejects the "
        "whole file, with one message per row, and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", default=None, help="Username recorded in the price change log.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        try:
            result = prices_import(lines=text_lines(path.read_bytes()), filename=path.name, user=user)
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from error
        except FileRejected as error:
            raise CommandError(
                f"{path.name} rejected, the catalog is unchanged:\n" + "\n".join(str(e) for e in error.errors)
            ) from error
        self.stdout.write(
            f"{path.name}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        )
