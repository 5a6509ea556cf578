"""`manage.py fit_price_trends [--bar MODEL ...] [--score NAME] [--as-of DATE] [--json]`.

Re-fits the cheapest-at-bar price decline from the catalog's price history and prints each fitted factor
with its 90% interval next to the published base value of the bar's tier; the fits are stored and shown in
the admin (Forecasts > Price trend fits).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from forecasting.trends import DEFAULT_AS_OF, DEFAULT_BAR_MODELS, DEFAULT_SCORE, TrendFitError, price_trends_fit


class Command(BaseCommand):
    help = "Fit price decline rates per quality bar from the price history; show them next to the published ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bar", action="append", help="leaderboard model id setting a bar (repeatable)")
        parser.add_argument("--score", default=DEFAULT_SCORE, help=f"score name (default {DEFAULT_SCORE})")
        parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF, help="score snapshot date")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            fits = price_trends_fit(
                bar_models=options["bar"] or DEFAULT_BAR_MODELS, score_name=options["score"], as_of=options["as_of"]
            )
        except TrendFitError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            rows = [
                {
                    "bar_model": fit.bar_model,
                    "bar_score": fit.bar_score,
                    "tier": fit.tier,
                    "fitted_annual_factor": round(fit.annual_factor, 2),
                    "ci90": [round(fit.ci90_low, 2), round(fit.ci90_high, 2)],
                    "ols_annual_factor": round(fit.ols_annual_factor, 2),
                    "published_base_factor": fit.published_base_factor,
                    "points": fit.n_points,
                    "window": [str(fit.window_start), str(fit.window_end)],
                    "cheapest_model_changes": fit.cheapest_model_changes,
                    "shrunk": fit.shrinkage_applied,
                }
                for fit in fits
            ]
            self.stdout.write(json.dumps(rows))
            return
        self.stdout.write(
            f"{'bar (score)':<40} {'tier':<10} {'fitted x/yr':>11} {'90% CI':>15} {'OLS':>8} {'published':>9} "
            f"{'window':>23} {'changes':>7}"
        )
        for fit in fits:
            self.stdout.write(
                f"{fit.bar_model + f' ({fit.bar_score:.0f})':<40} {fit.tier:<10} {fit.annual_factor:>11.1f} "
                f"{f'{fit.ci90_low:.1f}-{fit.ci90_high:.1f}':>15} {fit.ols_annual_factor:>8.1f} "
                f"{fit.published_base_factor:>9.0f} {f'{fit.window_start} {fit.window_end}':>23} "
                f"{fit.cheapest_model_changes:>7}{' (shrunk)' if fit.shrinkage_applied else ''}"
            )
