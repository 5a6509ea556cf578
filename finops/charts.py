"""Server-side charts (SVG, or PNG for e-mails, via matplotlib): the shared renderer, and the price-history chart.

Rendered on the server so the admin needs no JavaScript library and nothing from a CDN. ``render_svg`` holds what
every chart shares (headless backend, date axis, title, grid, legend, SVG without its XML prolog);
``forecasting.charts`` draws the forecast chart with it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

COLORS = {"input": "#1d4ed8", "output": "#b91c1c", "cached_input": "#047857", "cache_write": "#a16207"}


def _render(
    draw: Callable[[Any], None],
    *,
    figsize: tuple[float, float],
    title: str,
    ylabel: str,
    legend_loc: Literal["best", "upper left"],
    image_format: Literal["svg", "png"],
    dpi: int = 100,
) -> bytes:
    """The chart's file: ``draw(axes)`` plots on a date x axis; the title, y label, grid and legend are added here.

    A bare ``Figure``, not pyplot: pyplot keeps every open figure in one global registry, which threads rendering
    at the same time (two senders of the monthly e-mails, a threaded web server) would share.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi)
    axes = figure.subplots()
    draw(axes)
    axes.xaxis_date()
    axes.set_title(title, fontsize=11)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.25)
    axes.legend(loc=legend_loc, fontsize=9)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, dpi=dpi)
    return buffer.getvalue()


def render_svg(
    draw: Callable[[Any], None],
    *,
    figsize: tuple[float, float],
    title: str,
    ylabel: str,
    legend_loc: Literal["best", "upper left"],
) -> str:
    """An SVG chart (see ``_render``), without its XML prolog, to place inside a page."""
    svg = _render(draw, figsize=figsize, title=title, ylabel=ylabel, legend_loc=legend_loc, image_format="svg")
    text = svg.decode()
    return text[text.index("<svg") :]


def render_png(
    draw: Callable[[Any], None],
    *,
    figsize: tuple[float, float],
    title: str,
    ylabel: str,
    legend_loc: Literal["best", "upper left"],
    dpi: int = 100,
) -> bytes:
    """A PNG chart (see ``_render``): for e-mails, whose clients do not show SVG."""
    return _render(
        draw, figsize=figsize, title=title, ylabel=ylabel, legend_loc=legend_loc, image_format="png", dpi=dpi
    )


def price_history_chart_svg(*, series: Mapping[str, Sequence[tuple[date, Decimal]]], title: str, until: date) -> str:
    """An SVG step chart of USD per million tokens: ``series`` maps a label (token type, with its cache TTL
    if any) to its (effective date, price) steps; each line runs flat to ``until`` (marked: today in the
    admin), or to its last step when that is later (a scheduled change)."""
    import matplotlib.dates as mdates

    def draw(axes: Any) -> None:
        for label, steps in series.items():
            if not steps:
                continue
            days = [day for day, _ in steps]
            prices = [float(price) for _, price in steps]
            end = max(until, days[-1])
            axes.step(
                mdates.date2num([*days, end]),
                [*prices, prices[-1]],
                where="post",
                linewidth=1.4,
                color=COLORS.get(label.split(" ")[0]),
                label=label,
            )
        axes.axvline(mdates.date2num(until), color="#6b7280", linewidth=0.8, linestyle="--", label=f"{until}")
        axes.set_ylim(bottom=0)

    return render_svg(draw, figsize=(10, 3.6), title=title, ylabel="USD per million tokens", legend_loc="best")
