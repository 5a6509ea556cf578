"""`manage.py forecast --org SLUG [--horizon DAYS] [--scenario NAME] [--policy NAME] [--json]`.

Runs a forecast through Celery (eagerly in the embedded mode, through the workers otherwise), waits for it
and prints the monthly forecast of tokens and cost with intervals for every level, and the backtest metrics.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from finops.management.organization import organization_for_command
from forecasting.models import ForecastRun
from forecasting.selectors import forecast_levels
from forecasting.services import forecast_run_create


class Command(BaseCommand):
    help = "Queue a forecast run, wait for it, print monthly tokens and cost with intervals per level and backtests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--horizon", type=int, default=365, help="days ahead (1-730)")
        parser.add_argument("--interval", type=float, default=0.8, help="main interval width, e.g. 0.8")
        parser.add_argument("--scenario", default="base", help="conservative, base or aggressive")
        parser.add_argument("--policy", default="stay", help="stay, follow_tier or cheapest_at_bar")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--timeout", type=float, default=1800.0)

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_for_command(options["org"])
        try:
            run = forecast_run_create(
                organization=organization,
                horizon_days=options["horizon"],
                interval_width=options["interval"],
                scenario=options["scenario"],
                policy=options["policy"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        deadline = time.monotonic() + options["timeout"]
        while run.status in (ForecastRun.Status.QUEUED, ForecastRun.Status.RUNNING) and time.monotonic() < deadline:
            time.sleep(0.5)
            run.refresh_from_db()
            if not options["json"] and run.series_total:
                self.stderr.write(f"\rforecasting: {run.series_done}/{run.series_total} series", ending="")
        if run.status != ForecastRun.Status.SUCCEEDED:
            raise CommandError(f"forecast #{run.pk} {run.status}: {run.error or 'timed out waiting for the worker'}")
        levels = forecast_levels(run=run)
        if options["json"]:
            report = {
                "run": run.pk,
                "organization": organization.slug,
                "scenario": run.scenario,
                "policy": run.policy,
                "interval": run.interval_width,
                "history": [str(run.history_start), str(run.history_end)],
                "series": {"total": run.series_total, "failed": run.series_failed, "models": run.model_name},
                "monthly": levels.get("organization", {}).get("", []),
                "levels": {level: keys for level, keys in levels.items() if level != "organization"},
                "backtest": run.backtest,
            }
            self.stdout.write(json.dumps(report, cls=DjangoJSONEncoder))
            return
        self.stderr.write("")
        self.stdout.write(
            f"forecast #{run.pk} for {organization.slug} ({run.scenario} scenario, {run.policy} policy): "
            f"{run.series_total} series, {run.series_failed} failed; models: {run.model_name}"
        )
        width = f"{round(run.interval_width * 100)}%"
        for level, keys in levels.items():
            for key, months in keys.items():
                self.stdout.write(f"\n{level}{': ' + key if key else ''}")
                self.stdout.write(
                    f"{'month':<8} {'tokens':>16} {width + ' low':>16} {'high':>16} "
                    f"{'cost USD':>12} {'low':>12} {'high':>12}"
                )
                for month in months:
                    costs = [
                        f"{month[k]:,.2f}" if month[k] is not None else "-"
                        for k in ("cost", "cost_lower", "cost_upper")
                    ]
                    self.stdout.write(
                        f"{month['month']:<8} {month['tokens']:>16,} {month['tokens_lower']:>16,} "
                        f"{month['tokens_upper']:>16,} {costs[0]:>12} {costs[1]:>12} {costs[2]:>12}"
                    )
        self.stdout.write(f"\nbacktest: {json.dumps(run.backtest)}")
