"""Forecast accuracy on real daily series: the service's forecast against default Prophet, AutoETS and seasonal naive.

Run from the repository root (no database, no Django; about 2 minutes on 2 cores)::

    .venv/bin/python benchmarks/accuracy.py                  # the reported cut-offs
    .venv/bin/python benchmarks/accuracy.py --split tuning   # the earlier cut-offs the engine was tuned on
    .venv/bin/python benchmarks/accuracy.py --quick          # a smoke run: the last cut-off of each main series

The series are real daily counts in ``forecasting/data/series/`` (see its ``PROVENANCE.md``):

* ``bike_sharing``: Capital Bikeshare rentals, Washington D.C., 2011-2012;
* ``peyton_manning``: daily views of the English Wikipedia article on Peyton Manning, 2007-12 to 2016-01; the file
  lacks 59 days, which are filled here by linear interpolation between their neighbours before any model sees the
  series (the engine would otherwise read a missing day as zero usage);
* ``pedestrians``: pedestrians counted by one City of Melbourne sensor, 2017-06 to 2020-02 (before the pandemic);
* ``pedestrians_covid`` (stress test, not in the main average): the same sensor through the 2020-2021 lockdowns.

Protocol (rolling origin, fixed before any result was seen): for each series, 4 cut-offs, the last leaving 90 days
at the end of the series, the others 90, 180 and 270 days earlier, so the four 90-day test windows do not overlap.
Every method sees only the days up to the cut-off and forecasts the next 90 days:

* service: exactly what the service does for a series, ``forecasting.fitting.choose_and_forecast`` (rolling-origin
  backtest of the service's candidates on the training days, ``forecast_daily(..., model=<winner>)``, bands
  recalibrated by the winner's own backtest coverage); its 80% interval is scored too;
* engine default: ``forecast_daily`` without a stored choice (the blend);
* workload policy: ``choose_and_forecast(..., policy="workload")``, the choice a forecast run makes for a workload's
  token volume (the growth model by default, ``forecasting.growth``), applied to these series that are not tokens;
* default Prophet: ``Prophet()`` with its defaults, fit on the training days, then predict;
* AutoETS: statsforecast ``AutoETS(season_length=7)`` on the training days;
* seasonal naive: the last 7 training days repeated.

MASE is the mean absolute error over the 90 days divided by the in-sample mean absolute error of the lag-7 seasonal
naive forecast on that cut-off's training days; a series' MASE is the mean over its cut-offs, and the average is
the mean over series. Coverage is the share of the test days inside the service's 80% interval.

``--split tuning`` evaluates the earlier cut-offs the engine's constants (blend damping, interval scales) were
chosen on: every 30 days from 180 days after the series starts up to 90 days before the first reported cut-off, so
no tuning test window overlaps a reported one.

``--quick`` runs only the last cut-off of each main series, without the stress series and the timings (about half a
minute): it checks that the benchmark runs, its figures are not the reported ones.

The last line printed is the average of the main series: ``service MASE X.XXX vs best baseline Y.YYY (...)``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from forecasting.backtest import interval_coverage, seasonal_naive_scale, select_model  # noqa: E402
from forecasting.engine import MODEL_NAMES, forecast_daily  # noqa: E402
from forecasting.fitting import choose_and_forecast  # noqa: E402

SERIES_DIR = REPO_ROOT / "forecasting" / "data" / "series"
HORIZON = 90
REPORTED_CUTOFFS = 4
QUICK_CUTOFFS = 1  # --quick: the last cut-off of each series only
TUNING_SPACING_DAYS = 30
TUNING_MIN_TRAIN_DAYS = 180
MAIN_SERIES = ("bike_sharing", "peyton_manning", "pedestrians")
STRESS_SERIES = ("pedestrians_covid",)
METHODS = ("service", "engine default", "workload policy", "default Prophet", "AutoETS", "seasonal naive")
BASELINES = ("default Prophet", "AutoETS", "seasonal naive")

Forecaster = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Cut:
    series: str
    cutoff: pd.Timestamp
    history: pd.DataFrame
    actual: np.ndarray


def load_series(name: str) -> pd.Series:
    """A gap-free daily series (``DatetimeIndex`` -> float)."""
    if name == "bike_sharing":
        frame = pd.read_csv(SERIES_DIR / "bike_sharing_daily.csv", parse_dates=["ds"])
    elif name == "peyton_manning":
        frame = pd.read_csv(SERIES_DIR / "wikipedia_peyton_manning_daily.csv", parse_dates=["ds"])
    elif name in ("pedestrians", "pedestrians_covid"):
        frame = pd.read_csv(SERIES_DIR / "melbourne_pedestrians_daily.csv", parse_dates=["ds"])
        if name == "pedestrians":
            frame = frame[frame["ds"] <= "2020-02-29"]
    else:
        raise ValueError(f"unknown series {name}")
    series = frame.set_index("ds")["y"].astype(float)
    full = pd.date_range(series.index.min(), series.index.max(), freq="D")
    return series.reindex(full).interpolate()  # only peyton_manning has missing days


def reported_cutoffs(series: pd.Series) -> list[pd.Timestamp]:
    end = series.index[-1]
    return [end - pd.Timedelta(days=HORIZON * (k + 1)) for k in reversed(range(REPORTED_CUTOFFS))]


def tuning_cutoffs(series: pd.Series) -> list[pd.Timestamp]:
    last = reported_cutoffs(series)[0] - pd.Timedelta(days=HORIZON)
    first = series.index[0] + pd.Timedelta(days=TUNING_MIN_TRAIN_DAYS)
    cutoffs = []
    cutoff = last
    while cutoff >= first:
        cutoffs.append(cutoff)
        cutoff -= pd.Timedelta(days=TUNING_SPACING_DAYS)
    return cutoffs[::-1]


def cuts(names: tuple[str, ...], split: str, last: int | None = None) -> Iterator[Cut]:
    """The cut-offs of ``split`` for each series (only the ``last`` ones of each when given)."""
    for name in names:
        series = load_series(name)
        cutoffs = reported_cutoffs(series) if split == "reported" else tuning_cutoffs(series)
        for cutoff in cutoffs[-last:] if last else cutoffs:
            training = series[:cutoff]
            actual = series[cutoff + pd.Timedelta(days=1) : cutoff + pd.Timedelta(days=HORIZON)].to_numpy()
            history = pd.DataFrame({"ds": training.index, "y": training.to_numpy()})
            yield Cut(series=name, cutoff=cutoff, history=history, actual=actual)


def default_prophet(history: pd.DataFrame) -> np.ndarray:
    from prophet import Prophet

    model = Prophet()
    model.fit(history)
    return model.predict(model.make_future_dataframe(periods=HORIZON, include_history=False))["yhat"].to_numpy()


def auto_ets(history: pd.DataFrame) -> np.ndarray:
    from statsforecast.models import AutoETS

    values = history["y"].to_numpy(dtype=np.float64)
    return np.asarray(AutoETS(season_length=7).forecast(y=values, h=HORIZON)["mean"], dtype=np.float64)


def seasonal_naive(history: pd.DataFrame) -> np.ndarray:
    last_week = history["y"].to_numpy(dtype=np.float64)[-7:]
    return last_week[np.arange(HORIZON) % 7]


def evaluate(names: tuple[str, ...], split: str, last: int | None = None) -> pd.DataFrame:
    rows = []
    for cut in cuts(names, split, last):
        scale = seasonal_naive_scale(cut.history["y"].to_numpy())
        started = time.perf_counter()
        service, backtest = choose_and_forecast(cut.history, horizon_days=HORIZON, interval_width=0.8)
        service_seconds = time.perf_counter() - started
        default = forecast_daily(cut.history, horizon_days=HORIZON)
        workload, _ = choose_and_forecast(cut.history, horizon_days=HORIZON, interval_width=0.8, policy="workload")
        forecasts: dict[str, np.ndarray] = {
            "service": service.frame["yhat"].to_numpy(),
            "engine default": default.frame["yhat"].to_numpy(),
            "workload policy": workload.frame["yhat"].to_numpy(),
        }
        baselines: dict[str, Forecaster] = {
            "default Prophet": default_prophet,
            "AutoETS": auto_ets,
            "seasonal naive": seasonal_naive,
        }
        for name, forecaster in baselines.items():
            forecasts[name] = forecaster(cut.history)
        row: dict[str, object] = {
            "series": cut.series,
            "cutoff": cut.cutoff.date(),
            "training_days": len(cut.history),
            "chosen": backtest["selected"],
            "coverage": interval_coverage(cut.actual, service.frame["yhat_lower"], service.frame["yhat_upper"]),
            "default_coverage": interval_coverage(cut.actual, default.frame["yhat_lower"], default.frame["yhat_upper"]),
            "service_seconds": service_seconds,
        }
        for name, forecast in forecasts.items():
            row[name] = float(np.mean(np.abs(cut.actual - forecast)) / scale)
        rows.append(row)
        print(
            f"  {cut.series} cut-off {cut.cutoff.date()} ({len(cut.history)} days): chose {backtest['selected']}, "
            + ", ".join(f"{name} {row[name]:.3f}" for name in METHODS)
            + f", coverage {row['coverage']:.2f} ({service_seconds:.1f}s)",
            flush=True,
        )
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    subset = results[results["series"].isin(names)]
    table = subset.groupby("series", sort=False)[[*METHODS, "coverage", "default_coverage"]].mean()
    table = table.reindex([name for name in names if name in table.index])
    table.loc["average"] = table.mean()
    return table


def timings() -> dict[str, float]:
    """Seconds per series on the two-year bike-sharing history: a 365-day forecast per model (after a warm-up
    that pays for imports and JIT compilation) and a full ``select_model``."""
    series = load_series("bike_sharing")
    history = pd.DataFrame({"ds": series.index, "y": series.to_numpy()})
    for model in ("blend", "ets"):
        forecast_daily(history.iloc[:200], horizon_days=30, model=model)
    seconds: dict[str, float] = {}
    for model in (*MODEL_NAMES, "default Prophet"):
        started = time.perf_counter()
        for _ in range(3):
            if model == "default Prophet":
                default_prophet_365(history)
            else:
                forecast_daily(history, horizon_days=365, model=model, interval_widths=(0.5, 0.95))
        seconds[model] = (time.perf_counter() - started) / 3
    started = time.perf_counter()
    select_model(history)
    seconds["select_model"] = time.perf_counter() - started
    return seconds


def default_prophet_365(history: pd.DataFrame) -> np.ndarray:
    from prophet import Prophet

    model = Prophet()
    model.fit(history)
    return model.predict(model.make_future_dataframe(periods=365, include_history=False))["yhat"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("reported", "tuning"), default="reported")
    parser.add_argument("--no-stress", action="store_true", help="skip the pedestrians-through-COVID series")
    parser.add_argument("--no-timing", action="store_true", help="skip the seconds-per-series measurements")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: only the last cut-off of each main series, no stress series, no timings",
    )
    args = parser.parse_args()
    if args.quick:
        args.no_stress = args.no_timing = True
    warnings.filterwarnings("ignore")
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("cmdstanpy").addHandler(logging.NullHandler())

    names = MAIN_SERIES if args.no_stress or args.split == "tuning" else MAIN_SERIES + STRESS_SERIES
    started = time.perf_counter()
    print(f"{args.split} cut-offs, {HORIZON}-day horizon, MASE (lower is better) and 80% interval coverage")
    results = evaluate(names, args.split, last=QUICK_CUTOFFS if args.quick else None)
    pd.set_option("display.width", 200)
    columns = {"coverage": "service 80% coverage", "default_coverage": "engine default 80% coverage"}
    main_table = summarize(results, MAIN_SERIES).rename(columns=columns)
    print("\nMASE per series (mean over cut-offs) and the average over the main series:")
    print(main_table.round(3).to_string())
    if not args.no_stress and args.split == "reported":
        stress = summarize(results, MAIN_SERIES + STRESS_SERIES).rename(columns=columns)
        print("\nWith the COVID stress series included in the average:")
        print(stress.round(3).to_string())
    print(f"\nmodels chosen: {results['chosen'].value_counts().to_dict()}")
    print(f"select_model + forecast: {results['service_seconds'].mean():.2f}s per cut-off on average")
    print(f"total {time.perf_counter() - started:.0f}s")
    if not args.no_timing:
        print("\nseconds per series, two years of history, 365-day forecast with 50/80/95% bands:")
        for name, seconds in timings().items():
            print(f"  {name}: {seconds:.3f}s")
    average = main_table.loc["average"]
    best = min(BASELINES, key=lambda name: average[name])
    print(
        f"service MASE {average['service']:.3f} vs best baseline {average[best]:.3f} ({best}); "
        f"service 80% coverage {average['service 80% coverage']:.3f}"
    )


if __name__ == "__main__":
    main()
