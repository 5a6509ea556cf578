"""`manage.py org_create SLUG [--name NAME]`: create an organization (no-op if it exists), print its slug."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.services import organization_create


class Command(BaseCommand):
    help = "Create an organization (does nothing if it exists) and print its slug."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization, _ = organization_create(slug=options["slug"], name=options["name"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(organization.slug)
