"""`manage.py evaluate_alerts [--org SLUG] [--on DATE]`: evaluate budget and anomaly alerts now and print what
changed (the same evaluation that runs after uploads and forecasts, and daily from beat)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.management.organization import organization_for_command
from finops.models import Organization
from planning.models import Alert
from planning.services import alerts_evaluate


class Command(BaseCommand):
    help = "Evaluate threshold, forecast-overrun and anomaly alerts of one organization (or all) and print them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every organization)")
        parser.add_argument("--on", help="evaluate the periods containing this day (YYYY-MM-DD; default today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            on = date.fromisoformat(options["on"]) if options.get("on") else None
        except ValueError as error:
            raise CommandError(f"--on: expected YYYY-MM-DD, got {options['on']!r}") from error
        if options.get("org"):
            organizations = [organization_for_command(options["org"])]
        else:
            organizations = list(Organization.objects.order_by("slug"))
        for organization in organizations:
            result = alerts_evaluate(organization=organization, on=on)
            self.stdout.write(f"{organization.slug}: {result.summary()}")
            for name, reason in result.skipped.items():
                self.stderr.write(f"  budget {name!r} skipped: {reason}")
            for alert in Alert.objects.filter(organization=organization, status=Alert.Status.OPEN).order_by(
                "kind", "period_start"
            ):
                self.stdout.write(f"  [{alert.kind}] {alert.message}")
