"""`manage.py send_forecast_emails [--org SLUG] [--month YYYY-MM] [--dry-run] [--to ADDRESS]`: send the monthly
forecast e-mails now, printing what happened to each owner (the same service the hourly beat task runs, so owners
who already had theirs are not sent to again)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from finops.management.organization import organization_for_command
from finops.models import Organization
from planning.monthly_delivery import OwnerOutcome, forecast_emails_send
from planning.monthly_report import forecast_email_month


def _month(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError as error:
        raise CommandError(f"--month: expected YYYY-MM, got {value!r}") from error


class Command(BaseCommand):
    help = (
        "Send the monthly forecast e-mail to every budget owner who has not had this month's (one organization or "
        "all); --dry-run composes them and sends nothing, --to sends them all to one address; neither records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every organization)")
        parser.add_argument("--month", help="the month, YYYY-MM (default: each organization's current month)")
        parser.add_argument("--dry-run", action="store_true", help="compose the e-mails, send and record nothing")
        parser.add_argument("--to", metavar="ADDRESS", help="send every owner's e-mail to ADDRESS; record nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        month = _month(options.get("month"))
        to = options.get("to")
        if to:
            try:
                validate_email(to)
            except ValidationError as error:
                raise CommandError(f"--to: {to!r} is not an e-mail address") from error
        if options.get("org"):
            organizations = [organization_for_command(options["org"])]
        else:
            organizations = list(Organization.objects.order_by("slug"))
        mode = " (dry run: nothing is sent or recorded)" if options["dry_run"] else ""
        mode = mode or (f" (to {to} instead of the owners; nothing is recorded)" if to else "")
        for organization in organizations:
            organization_month = month or forecast_email_month(organization=organization)
            self.stdout.write(f"{organization.slug}: forecast e-mails for {organization_month:%Y-%m}{mode}")
            result = forecast_emails_send(
                organization=organization,
                month=organization_month,
                dry_run=options["dry_run"],
                to=to,
                progress=self._progress,
            )
            self.stdout.write(result.summary())

    def _progress(self, outcome: OwnerOutcome) -> None:
        detail = f": {outcome.detail}" if outcome.detail else ""
        line = f"  {outcome.address} ({outcome.budgets} budget(s)): {outcome.outcome}{detail}"
        if outcome.outcome in ("failed", "retrying"):
            self.stderr.write(line)
        else:
            self.stdout.write(line)
