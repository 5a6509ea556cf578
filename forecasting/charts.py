"""Server-side charts (SVG via matplotlib): actual daily history plus forecast with its interval band.

Rendered on the server so the admin needs no JavaScript library and nothing from a CDN.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date


def forecast_chart_svg(
    *,
    history: Sequence[tuple[date, int]],
    forecast: Sequence[tuple[date, int, int, int]],
    title: str,
    interval_label: str,
) -> str:
    """An SVG line chart: history (dates, tokens) and forecast (date, yhat, lower, upper) with a band."""
    import matplotlib
    import matplotlib.dates as mdates

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    figure, axes = plt.subplots(figsize=(11, 4.2), dpi=100)
    try:
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
        axes.xaxis_date()
        axes.set_title(title, fontsize=11)
        axes.set_ylabel("tokens per day")
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _human(value)))
        axes.grid(alpha=0.25)
        axes.legend(loc="upper left", fontsize=9)
        figure.autofmt_xdate()
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    finally:
        plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _human(value: float) -> str:
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return f"{value:.0f}"
