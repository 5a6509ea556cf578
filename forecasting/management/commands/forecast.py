"""`manage.py forecast --org SLUG [--horizon DAYS] [--json]`: run a forecast through Celery and print it."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.models import Organization
from forecasting.models import ForecastRun
from forecasting.selectors import forecast_monthly
from forecasting.services import forecast_run_create


class Command(BaseCommand):
    help = "Queue a forecast run, wait for it, print the monthly forecast of tokens and cost with intervals."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--horizon", type=int, default=180, help="days ahead (1-730)")
        parser.add_argument("--interval", type=float, default=0.8, help="interval width, e.g. 0.8")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--timeout", type=float, default=1800.0)

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no organization {options['org']!r}")
        try:
            run = forecast_run_create(
                organization=organization, horizon_days=options["horizon"], interval_width=options["interval"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        deadline = time.monotonic() + options["timeout"]
        while run.status in (ForecastRun.Status.QUEUED, ForecastRun.Status.RUNNING) and time.monotonic() < deadline:
            time.sleep(0.5)
            run.refresh_from_db()
        if run.status != ForecastRun.Status.SUCCEEDED:
            raise CommandError(f"forecast #{run.pk} {run.status}: {run.error or 'timed out waiting for the worker'}")
        monthly = forecast_monthly(run=run)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "run": run.pk,
                        "organization": organization.slug,
                        "model": run.model_name,
                        "model_reason": run.model_reason,
                        "interval": run.interval_width,
                        "history": [str(run.history_start), str(run.history_end)],
                        "monthly": [
                            {
                                key: (str(value) if key.startswith("cost") and value is not None else value)
                                for key, value in m.items()
                            }
                            for m in monthly
                        ],
                    }
                )
            )
            return
        self.stdout.write(f"forecast #{run.pk} for {organization.slug}: {run.model_name} ({run.model_reason})")
        self.stdout.write(
            f"{'month':<8} {'tokens':>16} {'low':>16} {'high':>16} {'cost USD':>12} {'low':>12} {'high':>12}"
        )
        for month in monthly:
            costs = [f"{month[k]:,.2f}" if month[k] is not None else "-" for k in ("cost", "cost_lower", "cost_upper")]
            self.stdout.write(
                f"{month['month']:<8} {month['tokens']:>16,} {month['tokens_lower']:>16,} {month['tokens_upper']:>16,} "
                f"{costs[0]:>12} {costs[1]:>12} {costs[2]:>12}"
            )
