"""`manage.py demo_setup`: a demo organization with realistic data, loaded the way a user's files are.

Creates the ``demo`` organization, its teams and allocation rules, and an admin login; writes
18 months of exports of four kinds (ingest/demo_data.py) under ``var/demo/exports/<provider>/``:
OpenAI usage exports, Anthropic Console token exports, AWS CUR 2.0 files with Bedrock line items and
Azure FOCUS files with Azure OpenAI rows, and ingests them through the upload path; runs a forecast;
prints a short summary. Running it again keeps what is loaded (a kind already in the ledger is not
loaded twice), loads a kind that is missing, and runs a fresh forecast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from finops.models import AllocationRule, Role
from finops.services import membership_set, organization_create, team_get_or_create
from forecasting.models import ForecastRun
from forecasting.selectors import forecast_monthly
from forecasting.services import forecast_run_create
from ingest.demo_data import (
    DEMO_PROJECTS,
    DemoProject,
    demo_allocations,
    write_anthropic_token_exports,
    write_bedrock_cur2_exports,
    write_focus_exports,
    write_openai_usage_exports,
)
from ingest.models import Upload
from ingest.parsers import anthropic_tokens, aws_cur2, focus, openai
from ingest.selectors import ledger_for, usage_summary
from ingest.services import upload_create

DEMO_SLUG = "demo"
DEMO_USERNAME = "admin"
DEMO_PASSWORD = "tokencast-demo"
HOLD_BACK_DAYS = 7
"""The last week is loaded after a first forecast, as a user's next upload would be: its days are checked against
that forecast's 99% band (the demo's incident is found there)."""
INCIDENT_TEAM = "Search"
INCIDENT_DAYS_BEFORE_END = 3
INCIDENT_FACTOR = 4.0
"""On that day the Search project's traffic is four times its usual (a runaway retry loop)."""


def demo_projects(end: date) -> tuple[DemoProject, ...]:
    """The demo's OpenAI projects, with the incident injected ``INCIDENT_DAYS_BEFORE_END`` days before ``end``."""
    incident_on = end - timedelta(days=INCIDENT_DAYS_BEFORE_END)
    return tuple(
        replace(project, incident_on=incident_on, incident_factor=INCIDENT_FACTOR)
        if project.team == INCIDENT_TEAM
        else project
        for project in DEMO_PROJECTS
    )


@dataclass(frozen=True)
class DemoSource:
    """One kind of demo export: where its files go, how they are written, the format they ingest as."""

    label: str
    directory: str
    format_name: str
    write: Callable[..., list[Path]]
    takes_projects: bool = False


DEMO_SOURCES = (
    DemoSource("OpenAI usage exports", "openai", openai.NAME, write_openai_usage_exports, takes_projects=True),
    DemoSource("Anthropic Console token exports", "anthropic", anthropic_tokens.NAME, write_anthropic_token_exports),
    DemoSource("AWS CUR 2.0 exports (Amazon Bedrock)", "aws", aws_cur2.NAME, write_bedrock_cur2_exports),
    DemoSource("Azure FOCUS exports (Azure OpenAI)", "azure", focus.NAME, write_focus_exports),
)


class Command(BaseCommand):
    help = "Load the demo organization with realistic exports through the real ingest path, and forecast."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months", type=int, default=18)
        parser.add_argument("--horizon", type=int, default=365)

    def handle(self, *args: Any, **options: Any) -> None:
        organization, _ = organization_create(slug=DEMO_SLUG, name="Demo Corp", holiday_country="US")
        self._ensure_admin(organization)
        rules = [(AllocationRule.Dimension.PROJECT, project.project_id, project.team) for project in DEMO_PROJECTS]
        rules += [(AllocationRule.Dimension(dimension), value, team) for dimension, value, team in demo_allocations()]
        for dimension, value, team_name in rules:
            team = team_get_or_create(organization=organization, name=team_name)
            AllocationRule.objects.get_or_create(
                organization=organization, dimension=dimension, value=value, defaults={"team": team}
            )
        end = timezone.now().date() - timedelta(days=1)
        held_back_end = end - timedelta(days=HOLD_BACK_DAYS)
        missing = [
            source
            for source in DEMO_SOURCES
            if not ledger_for(organization=organization).filter(upload__format=source.format_name).exists()
        ]
        for source in DEMO_SOURCES:
            if source not in missing:
                self.stdout.write(f"{source.label}: already loaded; keeping them.")
        if missing:
            for source in missing:
                self._load_exports(organization, source, end=held_back_end, final_end=end, months=options["months"])
            self._forecast(organization, options["horizon"], f"history through {held_back_end}")
            # A week later: this month's exports again, now through yesterday (the later export replaces the days
            # the earlier one held); the planning app checks the new days against the forecast above.
            for source in missing:
                self._load_exports(
                    organization, source, end=end, final_end=end, months=options["months"], after=held_back_end
                )
        run = self._forecast(organization, options["horizon"], f"history through {end}")
        self._print_summary(organization, run)

    def _forecast(self, organization: Any, horizon: int, label: str) -> ForecastRun:
        self.stdout.write(f"Forecasting ({label})...")
        run = forecast_run_create(organization=organization, horizon_days=horizon)
        while run.status in (ForecastRun.Status.QUEUED, ForecastRun.Status.RUNNING):
            time.sleep(0.5)
            run.refresh_from_db()
        if run.status != ForecastRun.Status.SUCCEEDED:
            raise CommandError(f"demo forecast failed: {run.error}")
        return run

    def _ensure_admin(self, organization: Any) -> None:
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USERNAME, "admin@demo.example", DEMO_PASSWORD)
        membership_set(user=user, organization=organization, role=Role.ADMIN)

    def _load_exports(
        self,
        organization: Any,
        source: DemoSource,
        *,
        end: date,
        final_end: date,
        months: int,
        after: date | None = None,
    ) -> None:
        """Write ``source``'s exports through ``end`` (the same series as through ``final_end``, so both agree on
        every day) and ingest them; with ``after``, only the files of the months from ``after``'s on."""
        export_dir = Path(settings.VAR_DIR) / "demo" / "exports" / source.directory
        # The series starts ``months - 1`` months before the final end's month, whatever ``end`` is.
        months_here = months - ((final_end.year - end.year) * 12 + final_end.month - end.month)
        extra = {"projects": demo_projects(final_end)} if source.takes_projects else {}
        paths = source.write(export_dir, end=end, months=months_here, **extra)
        if after is not None:
            paths = paths[-((end.year - after.year) * 12 + end.month - after.month + 1) :]
        self.stdout.write(f"Wrote {len(paths)} {source.label} to {export_dir}; ingesting them:")
        for path in paths:
            with path.open("rb") as source_file:
                upload = upload_create(organization=organization, source=source_file, filename=path.name)
            upload.refresh_from_db()
            while upload.status in (Upload.Status.QUEUED, Upload.Status.RUNNING):
                time.sleep(0.2)
                upload.refresh_from_db()
            if upload.status == Upload.Status.FAILED:
                raise CommandError(f"{path.name} failed: {upload.errors}")
            skipped = sum(upload.summary.get("rows_skipped", {}).values())
            skipped_text = (
                f", {skipped:,} rows skipped ({', '.join(upload.summary['rows_skipped'])})" if skipped else ""
            )
            self.stdout.write(
                f"  {path.name}: {upload.status}, {upload.summary.get('records', 0):,} ledger records{skipped_text}"
            )

    def _print_summary(self, organization: Any, run: ForecastRun) -> None:
        last_day = run.history_end or date.today()
        first_of_window = (last_day.replace(day=1) - timedelta(days=32)).replace(day=1)
        first_of_window = (first_of_window - timedelta(days=1)).replace(day=1)
        actual = usage_summary(
            organization=organization, by=["month", "day"], date_from=first_of_window, date_to=last_day
        )
        months: dict[str, dict[str, Any]] = {}
        for row in actual:
            month = months.setdefault(row["month"], {"days": 0, "tokens": 0, "cost": 0})
            month["days"] += 1
            month["tokens"] += row["tokens"]
            month["cost"] += row["cost"]
        self.stdout.write("")
        self.stdout.write(f"Tokencast demo: organization '{organization.slug}'")
        self.stdout.write("Last 3 months, actual:")
        for label, month in months.items():
            self.stdout.write(
                f"  {label} ({month['days']:>2} days)  {month['tokens']:>17,} tokens  ${month['cost']:>12,.2f}"
            )
        by_provider = usage_summary(
            organization=organization, by=["provider"], date_from=first_of_window, date_to=last_day
        )
        total_tokens = sum(row["tokens"] for row in by_provider) or 1
        self.stdout.write(f"Same period by provider ({first_of_window} - {last_day}):")
        for row in sorted(by_provider, key=lambda row: -row["tokens"]):
            self.stdout.write(
                f"  {row['provider']:<16} {row['tokens']:>17,} tokens ({row['tokens'] / total_tokens:>4.0%})"
                f"  ${row['cost']:>12,.2f}"
            )
        self.stdout.write(
            f"Next 6 months (and the rest of this one), forecast "
            f"({run.model_name}, {round(run.interval_width * 100)}% interval):"
        )
        for month in forecast_monthly(run=run)[:7]:
            cost = month["cost"]
            cost_text = (
                f"${cost:>12,.2f} (${month['cost_lower']:,.2f} - ${month['cost_upper']:,.2f})"
                if cost is not None
                else "-"
            )
            self.stdout.write(
                f"  {month['month']} ({month['days']:>2} days)  {month['tokens']:>17,} tokens "
                f"({month['tokens_lower']:,} - {month['tokens_upper']:,})  {cost_text}"
            )
        self.stdout.write("")
        self.stdout.write(f"Admin: http://127.0.0.1:8000/admin/  user '{DEMO_USERNAME}', password '{DEMO_PASSWORD}'")
        self.stdout.write(f"Forecast chart: http://127.0.0.1:8000/admin/forecasting/forecastrun/{run.pk}/change/")
        self.stdout.write("API docs: http://127.0.0.1:8000/api/docs/")
