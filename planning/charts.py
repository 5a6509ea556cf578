"""Server-side monthly spend chart (SVG via matplotlib, ``finops.charts.render_svg``; PNG for e-mails): actual cost
per month as bars, then the forecast's expected month totals with their band, and a monthly budget as a line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from finops.charts import render_png, render_svg

if TYPE_CHECKING:
    from planning.dashboard import ScopeSpend

ACTUAL_COLOR = "#94a3b8"
FORECAST_COLOR = "#1d4ed8"
BAND_COLOR = "#60a5fa"
BUDGET_COLOR = "#c62828"
BAR_DAYS = 20
MAX_LABELS = 12


MonthRow = tuple[date, Decimal | None, Decimal | None, Decimal | None, Decimal | None]


def monthly_spend_chart_svg(
    *,
    months: Sequence[MonthRow],
    title: str,
    interval_label: str,
    currency: str = "USD",
    budget: Decimal | None = None,
) -> str:
    """An SVG chart of ``months`` as (first day, actual, forecast, low, high): actual as bars (to date in the
    current month), the forecast month totals as a line with the interval as a band and error bars, and
    ``budget`` (a monthly amount) as a dashed line. Empty string when there is nothing to draw."""
    if not months:
        return ""
    draw = _monthly_spend_draw(months=months, interval_label=interval_label, budget=budget)
    return render_svg(draw, figsize=(10, 3.6), title=title, ylabel=f"{currency} per month", legend_loc="best")


def monthly_spend_chart_png(
    *,
    months: Sequence[MonthRow],
    title: str,
    interval_label: str,
    currency: str = "USD",
    budget: Decimal | None = None,
) -> bytes:
    """The same chart as ``monthly_spend_chart_svg`` as a PNG (for e-mails); empty bytes when there is nothing to
    draw."""
    if not months:
        return b""
    draw = _monthly_spend_draw(months=months, interval_label=interval_label, budget=budget)
    return render_png(draw, figsize=(8, 3.2), title=title, ylabel=f"{currency} per month", legend_loc="best")


def _monthly_spend_draw(
    *, months: Sequence[MonthRow], interval_label: str, budget: Decimal | None
) -> Callable[[Any], None]:
    import matplotlib.dates as mdates
    from matplotlib.ticker import FuncFormatter

    def middle(month: date) -> float:
        return float(mdates.date2num(month + timedelta(days=14)))

    def draw(axes: Any) -> None:
        actual = [(middle(month), float(value)) for month, value, *_ in months if value is not None]
        if actual:
            axes.bar(
                [x for x, _ in actual],
                [y for _, y in actual],
                width=BAR_DAYS,
                color=ACTUAL_COLOR,
                label="actual",
                zorder=2,
            )
        forecast = [
            (middle(month), float(mean), float(low if low is not None else mean), float(high or mean))
            for month, _, mean, low, high in months
            if mean is not None
        ]
        if forecast:
            days = [row[0] for row in forecast]
            means = [row[1] for row in forecast]
            lows = [row[2] for row in forecast]
            highs = [row[3] for row in forecast]
            if len(forecast) > 1:
                axes.fill_between(
                    days, lows, highs, color=BAND_COLOR, alpha=0.3, linewidth=0, label=interval_label, zorder=3
                )
            axes.errorbar(
                days,
                means,
                # The band comes from the sampled paths, the mean from the mean daily cost: a skewed outlook can put
                # the mean outside its band, and an error bar cannot reach below or above it.
                yerr=[
                    [max(m - lo, 0.0) for m, lo in zip(means, lows, strict=True)],
                    [max(h - m, 0.0) for m, h in zip(means, highs, strict=True)],
                ],
                color=FORECAST_COLOR,
                marker="o",
                markersize=4,
                linewidth=1.4,
                capsize=3,
                label="forecast" if len(forecast) > 1 else f"forecast ({interval_label})",
                zorder=4,
            )
        if budget is not None:
            axes.axhline(float(budget), color=BUDGET_COLOR, linewidth=1.1, linestyle="--", label="budget", zorder=5)
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _money(value)))
        # One label per bar (every few bars over two years), under the bar's middle.
        step = max(1, -(-len(months) // MAX_LABELS))
        labelled = [month for month, *_ in months][::step]
        axes.set_xticks([middle(month) for month in labelled], labels=[month.strftime("%Y-%m") for month in labelled])

    return draw


def scope_spend_chart_svg(spend: ScopeSpend, *, title: str, budget: Decimal | None = None) -> str:
    """The chart of a scope's monthly spend (``planning.dashboard.ScopeSpend``); empty when it has none."""
    return monthly_spend_chart_svg(
        months=[(month.month, month.actual, month.forecast, month.lower, month.upper) for month in spend.months],
        title=title,
        interval_label=spend.interval_label,
        currency=spend.currency,
        budget=budget,
    )


def _money(value: float) -> str:
    for threshold, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return f"{value:.0f}"
