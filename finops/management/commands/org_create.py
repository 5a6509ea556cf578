"""`manage.py org_create SLUG [--name NAME] [--holidays CC]`: create an organization, print its slug.

Does nothing if the organization exists, except set its holiday country when ``--holidays`` is given (a country
code of the ``holidays`` package, e.g. US or DE; ``--holidays ""`` clears it): forecasts model those holidays.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.services import organization_create


class Command(BaseCommand):
    help = "Create an organization (does nothing if it exists) and print its slug."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default=None)
        parser.add_argument(
            "--holidays", default=None, metavar="CC", help="country whose public holidays forecasts model, e.g. US"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization, _ = organization_create(
                slug=options["slug"], name=options["name"], holiday_country=options["holidays"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(organization.slug)
