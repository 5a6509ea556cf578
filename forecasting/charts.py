"""Server-side forecast chart (SVG via matplotlib, ``finops.charts.render_svg``): actual daily history plus the
forecast with its interval band."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from finops.charts import render_svg


def forecast_chart_svg(
    *,
    history: Sequence[tuple[date, int]],
    forecast: Sequence[tuple[date, int, int, int]],
    title: str,
    interval_label: str,
) -> str:
    """An SVG line chart: history (dates, tokens) and forecast (date, yhat, lower, upper) with a band."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    def draw(axes: Any) -> None:
        if history:
            axes.plot(
                mdates.date2num([d for d, _ in history]),
                [t for _, t in history],
                color="#4b5563",
                linewidth=0.9,
                label="actual",
            )
        if forecast:
            days = mdates.date2num([row[0] for row in forecast])
            axes.fill_between(
                days,
                [row[2] for row in forecast],
                [row[3] for row in forecast],
                color="#60a5fa",
                alpha=0.35,
                linewidth=0,
                label=interval_label,
            )
            axes.plot(days, [row[1] for row in forecast], color="#1d4ed8", linewidth=1.4, label="forecast")
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _human(value)))

    return render_svg(draw, figsize=(11, 4.2), title=title, ylabel="tokens per day", legend_loc="upper left")


def _human(value: float) -> str:
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return f"{value:.0f}"
