"""`manage.py forecast_csv IN.csv [--horizon DAYS] [--interval WIDTH] [--holidays CC] [--policy NAME]`: forecast a
daily ds,y CSV.

Reads a CSV whose header has ``ds`` and ``y`` (other columns are ignored; ``-`` reads stdin), runs the
service's own path for one series (``forecasting.fitting.choose_and_forecast``: a rolling-origin backtest
chooses the model, then the engine forecasts with it) and writes ``ds,yhat,yhat_lower,yhat_upper``
(ISO dates, 4 decimals) to stdout and one ``model: <name> (<reason>)`` line to stderr. A bad row stops the
command with its row number (the header is row 1). An empty ``y`` cell counts as missing, which the engine
treats as 0 and reports. ``--holidays US`` models that country's public holidays, as an organization's
holiday country does in the service. ``--policy workload`` chooses among the candidates a forecast run uses for
a workload's token volume (the growth model by default) instead of those for any series (``series``, the default;
``forecasting.fitting.SELECTION_POLICIES``). No database is touched.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser

from forecasting.fitting import SELECTION_POLICIES, choose_and_forecast

OUTPUT_HEADER = "ds,yhat,yhat_lower,yhat_upper"


class Command(BaseCommand):
    help = "Forecast a daily ds,y CSV file; print ds,yhat,yhat_lower,yhat_upper CSV and the model used."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_path", metavar="IN.csv", help="CSV with a ds,y header; '-' reads stdin")
        parser.add_argument("--horizon", type=int, default=90, help="days ahead (1-730, default 90)")
        parser.add_argument("--interval", type=float, default=0.8, help="interval width in (0, 1), default 0.8")
        parser.add_argument(
            "--holidays", default="", metavar="CC", help="country code whose public holidays to model, e.g. US"
        )
        parser.add_argument(
            "--policy",
            default="series",
            choices=sorted(SELECTION_POLICIES),
            help="candidates and default model: 'series' (any daily series) or 'workload' (token volume, as a run)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        csv_path: str = options["csv_path"]
        if csv_path == "-":
            history = _read_history(sys.stdin, source="stdin")
        else:
            try:
                with Path(csv_path).open(encoding="utf-8-sig", newline="") as handle:
                    history = _read_history(handle, source=csv_path)
            except OSError as error:
                raise CommandError(f"cannot read {csv_path}: {error.strerror or error}") from error
            except UnicodeDecodeError as error:
                raise CommandError(f"{csv_path} is not UTF-8 text: {error}") from error

        try:
            result, _ = choose_and_forecast(
                history,
                horizon_days=options["horizon"],
                interval_width=options["interval"],
                holiday_country=options["holidays"],
                policy=options["policy"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error

        self.stdout.write(OUTPUT_HEADER)
        for row in result.frame.itertuples(index=False):
            self.stdout.write(f"{row.ds:%Y-%m-%d},{row.yhat:.4f},{row.yhat_lower:.4f},{row.yhat_upper:.4f}")
        self.stderr.write(f"model: {result.model_name} ({result.reason})", style_func=_plain)


def _plain(text: str) -> str:
    """Leave the stderr summary unstyled (Django colours stderr as an error by default)."""
    return text


def _read_history(lines: Iterable[str] | TextIO, *, source: str) -> pd.DataFrame:
    """Parse ``ds,y`` rows into a DataFrame, failing with the row number of the first bad row."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            raise CommandError(f"{source} is empty: expected a header with columns ds,y")
        columns = [name.strip().lower() for name in header]
        missing = [name for name in ("ds", "y") if name not in columns]
        if missing:
            raise CommandError(f"{source} row 1: header {','.join(header)!r} lacks column(s) {', '.join(missing)}")
        ds_index, y_index = columns.index("ds"), columns.index("y")

        dates: list[date] = []
        values: list[float] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            where = f"{source} row {reader.line_num}"
            if len(row) <= max(ds_index, y_index):
                raise CommandError(f"{where}: expected columns ds,y, got {','.join(row)!r}")
            dates.append(_parse_date(row[ds_index], where=where))
            values.append(_parse_value(row[y_index], where=where))
    except csv.Error as error:
        raise CommandError(f"{source} row {reader.line_num}: malformed CSV: {error}") from error

    return pd.DataFrame({"ds": pd.to_datetime(pd.Series(dates, dtype="object")), "y": values})


def _parse_date(text: str, *, where: str) -> date:
    cleaned = text.strip()
    try:
        return datetime.fromisoformat(cleaned).date()
    except ValueError:
        raise CommandError(f"{where}: bad date {cleaned!r} (expected YYYY-MM-DD)") from None


def _parse_value(text: str, *, where: str) -> float:
    cleaned = text.strip()
    if not cleaned:
        return math.nan  # missing: the engine counts it as 0 and says so in its reason
    try:
        value = float(cleaned)
    except ValueError:
        raise CommandError(f"{where}: y {cleaned!r} is not a number") from None
    if math.isinf(value):
        raise CommandError(f"{where}: y {cleaned!r} is not a finite number")
    return value
