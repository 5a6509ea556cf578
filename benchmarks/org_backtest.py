"""In-domain forecast benchmark: the real forecast service on whole organizations, scored on the next three months.

Run from the repository root (it needs PostgreSQL's server binaries, like ``make test``)::

    .venv/bin/python benchmarks/org_backtest.py                      # every organization and cut-off (2-4 min today)
    .venv/bin/python benchmarks/org_backtest.py --split tuning       # only the cut-offs the engine may be tuned on
    .venv/bin/python benchmarks/org_backtest.py --split reported     # only the cut-offs whose numbers are reported
    .venv/bin/python benchmarks/org_backtest.py --orgs young,mature --json results.json
    .venv/bin/python benchmarks/org_backtest.py --quick              # "young", its first cut-off (about 15 s)

The organizations (``benchmarks/orgs.py``): ``demo`` (exactly demo_setup's four sources, teams and allocation
rules, 18 months through 2026-10-31), ``young`` (4 projects growing 6-15% a month, a workload launched from zero,
migrations; 4-8 months of history at the cut-offs) and ``mature`` (5 projects growing 1-3% a month, three model
generations; 12-18 months of history).

**Split.** Each organization's cut-offs are month ends, divided into a *tuning* set (the earlier ones) and a
*reported* set (the later ones); the tuning cut-offs' three test months all end on or before the first reported
cut-off, so tuning never sees a reported test month. Tuning: demo 2025-10-31 and 2026-01-31, young 2025-09-30,
mature 2025-07-31 and 2025-08-31. Reported: demo 2026-04-30 and 2026-07-31, young 2025-12-31 and 2026-01-31,
mature 2025-11-30 and 2026-01-31. Tune only on ``--split tuning``; quote ``--split reported``.

Protocol, for each organization:

1. write every monthly export file of the organization (``orgs.write_exports``); ingest all of them once into a
   "truth" organization through the real upload path (``ingest.services.upload_create``, Celery eager, as
   ``demo_setup`` does); its ledger gives the actuals (only the token types input, output, cached_input and
   cache_write, as ``ingest.selectors.usage_daily_by_leaf`` counts them for the forecast);
2. for each cut-off: a fresh organization (slug ``<org>-YYYY-MM``, holiday country US, the same teams and
   allocation rules) into which only the files of the months up to and including the cut-off's are ingested the
   same way; then the real forecast, ``forecasting.services.forecast_run_create(organization=...,
   horizon_days=<through the third month after the cut-off>)``, waited for until it leaves queued/running. Only
   the stable interfaces are read: the run's status and error, and its ``ForecastMonth`` rows (``tokens`` and
   the stored 80% interval) at the levels organization (key ""), team (team name) and model (normalized id);
3. baselines fitted to each level key's own daily total history (truth ledger, from the key's first day of use
   to the cut-off, missing days as 0), each forecasting the daily series over the three test months, summed per
   calendar month (negative days count as 0): default Prophet (``Prophet()``, defaults; yearly seasonality only
   where Prophet's own default turns it on, i.e. two years of history), statsforecast ``AutoETS(season_length=7)``
   and, for reference, the seasonal naive (last 7 days repeated). A baseline that cannot fit a key (too short a
   history) falls back to the seasonal naive for that key; the fallbacks are counted and printed.

Scoring, per (organization, level): every key x test month x cut-off with its actual monthly tokens. Error =
forecast / actual - 1. At the team and model levels a key-month is left out of the error means when its actual
volume is below 1% of the organization's actual volume that month (negligible keys, e.g. a retired model's
residue), and when the key had no usage at all up to the cut-off (a model adopted later: no method can forecast
it; its volume still counts at the organization level); both are counted and printed. Metrics: mean absolute
error (MAPE of monthly totals), at the team and model levels also the volume-weighted one (sum of absolute errors /
sum of actuals), mean signed bias, the worst month (largest absolute error, signed) and, for the service only,
80% coverage (share of actual months inside the run's stored 80% interval). "overall" pools the key-months of
every organization run. A cut-off whose run did not succeed is left out of the service's numbers (and said so).

Output: per cut-off, the ingest and forecast timings and the organization-level months (actual, forecast, 80%
interval, errors of each method); then per organization and overall a table per level: method | mean abs error
| weighted abs error | mean bias | worst month | 80% coverage | key-months. ``--json PATH`` writes every cut-off,
every key-month and the tables.

Infrastructure as the other benchmarks: ``benchmarks/_harness.py`` starts a throwaway PostgreSQL on a free
loopback port (Celery eager in process, no broker) in a temporary directory that is removed at the end, also on
an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# Run as a script, Python puts benchmarks/ first on sys.path, where ingest.py would shadow the ``ingest`` app.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks._harness import start_database, stop_database  # noqa: E402
from benchmarks.orgs import (  # noqa: E402
    ORGS,
    MonthFile,
    OrgShape,
    check_shape,
    files_through,
    horizon_days,
    test_months,
    write_exports,
)

LEVELS = ("organization", "team", "model")
SERVICE = "service"
BASELINES = ("default Prophet", "AutoETS", "seasonal naive")
METHODS = (SERVICE, *BASELINES)
NEGLIGIBLE_SHARE = 0.01  # team/model key-months below this share of the organization's month are not scored
INTERVAL = "80"
QUICK_ORG = "young"
POLL_SECONDS = 0.2
SKIP_NEGLIGIBLE = "negligible"
SKIP_NEW = "new after the cut-off"


@dataclass
class KeyMonth:
    """One level key's test month at one cut-off: the actual tokens and each method's forecast."""

    org: str
    cutoff: date
    split: str
    level: str
    key: str
    month: date
    actual: int
    org_actual: int
    forecasts: dict[str, float | None]  # method -> monthly tokens; None: the method has no result
    interval: list[int] | None  # the service's stored 80% interval
    skipped: str = ""  # why the key-month is left out of the error means ("" = scored)


@dataclass
class ServiceResult:
    """What the forecast run of one cut-off gave: its status and its monthly rows at the scored levels."""

    status: str
    error: str = ""
    seconds: float = 0.0
    model_name: str = ""
    series_total: int = 0
    series_failed: int = 0
    history_end: date | None = None
    months: dict[tuple[str, str, date], tuple[int, list[int] | None]] = field(default_factory=dict)


@dataclass
class CutoffResult:
    org: str
    cutoff: date
    split: str
    history_months: int
    files: int
    ingest_seconds: float
    service: ServiceResult
    baseline_seconds: float
    fallbacks: dict[str, list[str]]  # method -> "level key" whose fit failed (seasonal naive served instead)
    records: list[KeyMonth]


# ---------------------------------------------------------------------------------------------
# Organizations, ingest and the service's forecast (the real paths)
# ---------------------------------------------------------------------------------------------


def create_organization(slug: str, shape: OrgShape) -> Any:
    """A fresh organization with holiday country US and the shape's teams and allocation rules (as demo_setup)."""
    from finops.models import AllocationRule
    from finops.services import organization_create, team_get_or_create

    organization, created = organization_create(slug=slug, name=slug, holiday_country="US")
    if not created:
        raise RuntimeError(f"organization {slug} exists already")
    for dimension, value, team_name in shape.rules:
        team = team_get_or_create(organization=organization, name=team_name)
        AllocationRule.objects.get_or_create(
            organization=organization,
            dimension=AllocationRule.Dimension(dimension),
            value=value,
            defaults={"team": team},
        )
    return organization


def ingest_files(organization: Any, files: Sequence[MonthFile]) -> float:
    """Upload each file through ``ingest.services.upload_create`` and wait for it; return the seconds."""
    from ingest.models import Upload
    from ingest.services import upload_create

    started = time.perf_counter()
    for item in files:
        with item.path.open("rb") as source:
            upload = upload_create(organization=organization, source=source, filename=item.path.name)
        upload.refresh_from_db()
        while upload.status in (Upload.Status.QUEUED, Upload.Status.RUNNING):
            time.sleep(POLL_SECONDS)
            upload.refresh_from_db()
        if upload.status != Upload.Status.SUCCEEDED:
            raise RuntimeError(f"{item.path.name} did not land ({upload.status}): {upload.errors}")
    return time.perf_counter() - started


def ledger_daily(organization: Any) -> pd.DataFrame:
    """Daily tokens per team and model (token types as the forecast counts them): date, team, model, tokens."""
    from django.db.models import F, Sum, Value
    from django.db.models.functions import Coalesce

    from ingest.models import LedgerEntry
    from ingest.selectors import TOKEN_TYPES

    rows = (
        LedgerEntry.objects.filter(organization=organization, unit="tokens", token_type__in=TOKEN_TYPES)
        .annotate(team_name=Coalesce(F("team__name"), Value("unallocated")))
        .values("date", "team_name", "model")
        .annotate(tokens=Sum("quantity"))
        .order_by()
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["date", "team_name", "model", "tokens"])
    frame = frame.rename(columns={"team_name": "team"})
    frame["date"] = pd.to_datetime(frame["date"])
    frame["tokens"] = frame["tokens"].astype(np.float64)
    return frame


def run_service(organization: Any, horizon: int) -> ServiceResult:
    """``forecast_run_create`` and wait; read the run's status and its ForecastMonth rows at the scored levels."""
    from forecasting.models import ForecastMonth, ForecastRun
    from forecasting.services import forecast_run_create

    started = time.perf_counter()
    try:
        run = forecast_run_create(organization=organization, horizon_days=horizon)
        run.refresh_from_db()
        while run.status in (ForecastRun.Status.QUEUED, ForecastRun.Status.RUNNING):
            time.sleep(POLL_SECONDS)
            run.refresh_from_db()
    except Exception as error:  # eager Celery propagates a task's exception; the run may say more
        latest = ForecastRun.objects.filter(organization=organization).first()
        message = (latest.error if latest is not None and latest.error else "") or f"{type(error).__name__}: {error}"
        return ServiceResult(status="error", error=message, seconds=time.perf_counter() - started)
    result = ServiceResult(
        status=str(run.status),
        error=run.error,
        seconds=time.perf_counter() - started,
        model_name=run.model_name,
        series_total=run.series_total,
        series_failed=run.series_failed,
        history_end=run.history_end,
    )
    if run.status == ForecastRun.Status.SUCCEEDED:
        for row in ForecastMonth.objects.filter(run=run, level__in=LEVELS):
            interval = row.tokens_intervals.get(INTERVAL)
            result.months[(row.level, row.key, row.month)] = (int(row.tokens), list(interval) if interval else None)
    return result


def _ran(service: ServiceResult) -> bool:
    return service.status == "succeeded"


# ---------------------------------------------------------------------------------------------
# Level series from the truth ledger, and the baselines
# ---------------------------------------------------------------------------------------------


def level_tables(daily: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per level, a gap-free day x key table of daily tokens (the organization level has the single key "")."""
    days = pd.date_range(daily["date"].min(), daily["date"].max(), freq="D")
    tables = {"organization": daily.groupby("date")["tokens"].sum().reindex(days, fill_value=0.0).to_frame("")}
    for level in ("team", "model"):
        table = daily.pivot_table(index="date", columns=level, values="tokens", aggfunc="sum", fill_value=0.0)
        tables[level] = table.reindex(days, fill_value=0.0)
    return tables


def key_history(column: pd.Series, cutoff: date) -> pd.Series | None:
    """A key's daily history from its first day of use through the cut-off (None: no use before the cut-off)."""
    past = column[: pd.Timestamp(cutoff)]
    used = np.flatnonzero(past.to_numpy() > 0)
    return past.iloc[int(used[0]) :] if used.size else None


def monthly_sums(daily: np.ndarray, cutoff: date) -> list[float]:
    """Sum a daily forecast starting the day after ``cutoff`` per test month (negative days count as 0)."""
    values = np.clip(np.asarray(daily, dtype=np.float64), 0.0, None)
    months = pd.date_range(pd.Timestamp(cutoff) + pd.Timedelta(days=1), periods=len(values), freq="D").to_period("M")
    return [float(values[months == pd.Period(month, "M")].sum()) for month in test_months(cutoff)]


def seasonal_naive(history: pd.Series, horizon: int) -> np.ndarray:
    values = history.to_numpy(dtype=np.float64)
    if values.size < 7:
        return np.full(horizon, values.mean())
    return values[-7:][np.arange(horizon) % 7]


def default_prophet(history: pd.Series, horizon: int) -> np.ndarray:
    from prophet import Prophet

    model = Prophet()
    model.fit(pd.DataFrame({"ds": history.index, "y": history.to_numpy(dtype=np.float64)}))
    future = model.make_future_dataframe(periods=horizon, include_history=False)
    return model.predict(future)["yhat"].to_numpy(dtype=np.float64)


def auto_ets(history: pd.Series, horizon: int) -> np.ndarray:
    from statsforecast.models import AutoETS

    values = history.to_numpy(dtype=np.float64)
    return np.asarray(AutoETS(season_length=7).forecast(y=values, h=horizon)["mean"], dtype=np.float64)


BASELINE_FUNCTIONS: dict[str, Callable[[pd.Series, int], np.ndarray]] = {
    "default Prophet": default_prophet,
    "AutoETS": auto_ets,
    "seasonal naive": seasonal_naive,
}


def baseline_forecasts(
    histories: dict[tuple[str, str], pd.Series], cutoff: date
) -> tuple[dict[tuple[str, str], dict[str, list[float]]], dict[str, list[str]]]:
    """Each baseline's monthly sums per (level, key); a failed fit falls back to the seasonal naive (counted)."""
    horizon = horizon_days(cutoff)
    forecasts: dict[tuple[str, str], dict[str, list[float]]] = {}
    fallbacks: dict[str, list[str]] = {method: [] for method in BASELINES}
    for level_key, history in histories.items():
        forecasts[level_key] = {}
        for method in BASELINES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    daily = BASELINE_FUNCTIONS[method](history, horizon)
                if daily.shape != (horizon,) or not np.all(np.isfinite(daily)):
                    raise ValueError("no finite forecast")
            except Exception:
                fallbacks[method].append(" ".join(level_key).strip())
                daily = seasonal_naive(history, horizon)
            forecasts[level_key][method] = monthly_sums(daily, cutoff)
    return forecasts, fallbacks


# ---------------------------------------------------------------------------------------------
# One cut-off
# ---------------------------------------------------------------------------------------------


def key_months(
    shape: OrgShape,
    cutoff: date,
    tables: dict[str, pd.DataFrame],
    service: ServiceResult,
    baselines: dict[tuple[str, str], dict[str, list[float]]],
) -> list[KeyMonth]:
    """Every level key's test months with actuals and forecasts, marked when left out of the error means."""
    months = test_months(cutoff)
    ran = _ran(service)
    org_actual = [actual_month(tables["organization"][""], month) for month in months]
    records = []
    for level in LEVELS:
        keys = set(tables[level].columns) | {key for (lvl, key, _) in service.months if lvl == level}
        for key in sorted(keys):
            column = tables[level][key] if key in tables[level].columns else None
            had_history = column is not None and key_history(column, cutoff) is not None
            in_window = column is not None and any(actual_month(column, month) > 0 for month in months)
            if not (had_history or in_window or any(k[:2] == (level, key) for k in service.months)):
                continue  # a key of later months only: nothing to score or to report
            for index, month in enumerate(months):
                actual = actual_month(column, month) if column is not None else 0
                forecasts: dict[str, float | None] = {
                    method: baselines[(level, key)][method][index] if (level, key) in baselines else None
                    for method in BASELINES
                }
                tokens, interval = service.months.get((level, key, month), (0, None))
                forecasts[SERVICE] = float(tokens) if ran else None
                record = KeyMonth(
                    shape.name, cutoff, shape.split_of(cutoff), level, key, month, actual, org_actual[index],
                    forecasts, interval if ran else None, skip_reason(level, actual, org_actual[index], had_history),
                )  # fmt: skip
                records.append(record)
    return records


def skip_reason(level: str, actual: int, org_actual: int, had_history: bool) -> str:
    """Why a key-month is left out of the error means: no or negligible volume, or a key unseen at the cut-off."""
    if actual <= 0 or (level != "organization" and actual < NEGLIGIBLE_SHARE * org_actual):
        return SKIP_NEGLIGIBLE
    return "" if had_history else SKIP_NEW


def actual_month(column: pd.Series | None, month: date) -> int:
    if column is None:
        return 0
    start = pd.Timestamp(month)
    return round(float(column[start : start + pd.offsets.MonthEnd(0)].sum()))


def run_cutoff(
    shape: OrgShape,
    cutoff: date,
    files: Sequence[MonthFile],
    tables: dict[str, pd.DataFrame],
) -> CutoffResult:
    """Ingest the files through the cut-off into a fresh organization, forecast, fit the baselines, score."""
    label = f"{shape.name} {cutoff} ({shape.history_months(cutoff)} months of history, {shape.split_of(cutoff)})"
    print(f"{label}:", flush=True)
    organization = create_organization(f"{shape.name}-{cutoff:%Y-%m}", shape)
    chosen = files_through(files, cutoff)
    ingest_seconds = ingest_files(organization, chosen)
    print(f"  ingested {len(chosen)} files in {ingest_seconds:.1f}s", flush=True)
    check_ledger(organization, tables, cutoff)
    service = run_service(organization, horizon_days(cutoff))
    served = f" ({service.model_name})" if service.model_name else ""
    print(
        f"  forecast run {service.status} in {service.seconds:.1f}s: {service.series_total} series, "
        f"{service.series_failed} failed{served}" + (f"; error: {service.error}" if service.error else ""),
        flush=True,
    )
    if _ran(service) and service.history_end != cutoff:
        print(f"  WARNING: the run's history ends {service.history_end}, not at the cut-off", flush=True)
    histories = {}
    for level in LEVELS:
        for key in tables[level].columns:
            history = key_history(tables[level][key], cutoff)
            if history is not None:
                histories[(level, key)] = history
    started = time.perf_counter()
    baselines, fallbacks = baseline_forecasts(histories, cutoff)
    baseline_seconds = time.perf_counter() - started
    fallback_text = ", ".join(f"{method} for {', '.join(keys)}" for method, keys in fallbacks.items() if keys)
    print(
        f"  baselines for {len(histories)} level keys in {baseline_seconds:.1f}s"
        + (f" (fell back to seasonal naive: {fallback_text})" if fallback_text else ""),
        flush=True,
    )
    records = key_months(shape, cutoff, tables, service, baselines)
    result = CutoffResult(
        shape.name, cutoff, shape.split_of(cutoff), shape.history_months(cutoff), len(chosen), ingest_seconds,
        service, baseline_seconds, fallbacks, records,
    )  # fmt: skip
    print_cutoff_months(result)
    return result


def check_ledger(organization: Any, tables: dict[str, pd.DataFrame], cutoff: date) -> None:
    """The cut-off organization's ledger must hold exactly the truth's tokens through the cut-off."""
    loaded = ledger_daily(organization)["tokens"].sum()
    expected = tables["organization"][""][: pd.Timestamp(cutoff)].sum()
    if round(loaded) != round(expected):
        raise RuntimeError(f"the cut-off's ledger holds {loaded:,.0f} tokens, the truth {expected:,.0f}")


def run_org(shape: OrgShape, cutoffs: Sequence[date], workdir: Path) -> list[CutoffResult]:
    """Write the organization's exports, load the truth organization, then run each cut-off."""
    check_shape(shape)
    started = time.perf_counter()
    files = write_exports(shape, workdir / "exports" / shape.name)
    print(
        f"\n== {shape.name}: {shape.description}; {shape.start} - {shape.end}, {len(files)} export files "
        f"written in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    truth = create_organization(f"{shape.name}-truth", shape)
    seconds = ingest_files(truth, files)
    daily = ledger_daily(truth)
    tables = level_tables(daily)
    print(
        f"truth: ingested {len(files)} files in {seconds:.1f}s; {daily['tokens'].sum():,.0f} tokens, "
        f"{tables['team'].shape[1]} teams, {tables['model'].shape[1]} models",
        flush=True,
    )
    return [run_cutoff(shape, cutoff, files, tables) for cutoff in cutoffs]


# ---------------------------------------------------------------------------------------------
# Metrics and printing
# ---------------------------------------------------------------------------------------------


def _error(record: KeyMonth, method: str) -> float | None:
    forecast = record.forecasts.get(method)
    return None if forecast is None else forecast / record.actual - 1.0


def metrics(records: Iterable[KeyMonth], method: str) -> dict[str, Any]:
    """Mean absolute error, volume-weighted absolute error, mean bias, worst month and (service) 80% coverage."""
    scored = [record for record in records if not record.skipped and record.forecasts.get(method) is not None]
    if not scored:
        return {"n": 0}
    errors = np.array([_error(record, method) for record in scored], dtype=np.float64)
    actual = np.array([record.actual for record in scored], dtype=np.float64)
    worst = scored[int(np.argmax(np.abs(errors)))]
    result: dict[str, Any] = {
        "n": len(scored),
        "mean_abs_error": float(np.mean(np.abs(errors))),
        "weighted_abs_error": float(np.sum(np.abs(errors) * actual) / np.sum(actual)),
        "mean_bias": float(np.mean(errors)),
        "worst": {
            "error": float(errors[int(np.argmax(np.abs(errors)))]),
            "key": worst.key,
            "month": worst.month.isoformat(),
            "cutoff": worst.cutoff.isoformat(),
        },
    }
    if method == SERVICE:
        inside = [bool(r.interval and r.interval[0] <= r.actual <= r.interval[1]) for r in scored]
        result["coverage_80"] = float(np.mean(inside))
    return result


def summarize(records: Sequence[KeyMonth]) -> dict[str, dict[str, Any]]:
    """Per level: each method's metrics and the counts of key-months left out."""
    summary: dict[str, dict[str, Any]] = {}
    for level in LEVELS:
        at_level = [record for record in records if record.level == level]
        summary[level] = {
            "key_months": len(at_level),
            "skipped_negligible": sum(record.skipped == SKIP_NEGLIGIBLE for record in at_level),
            "skipped_new": sum(record.skipped == SKIP_NEW for record in at_level),
            "methods": {method: metrics(at_level, method) for method in METHODS},
        }
    return summary


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def print_tables(title: str, summary: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title}")
    for level, entry in summary.items():
        skipped = ""
        if level != "organization":
            skipped = (
                f"; left out: {entry['skipped_negligible']} below 1% of the org's month, "
                f"{entry['skipped_new']} of keys new after the cut-off"
            )
        print(f"  level {level} ({entry['key_months']} key-months{skipped})")
        weighted = level != "organization"
        header = f"    {'method':<16} | {'mean abs error':>14} | "
        header += f"{'weighted abs error':>18} | " if weighted else ""
        header += f"{'mean bias':>9} | {'worst month':<46} | {'80% coverage':>12} | {'n':>4}"
        print(header)
        for method, figures in entry["methods"].items():
            if not figures["n"]:
                print(f"    {method:<16} | no results")
                continue
            worst = figures["worst"]
            where = f" ({worst['key'] + ' ' if worst['key'] else ''}{worst['month'][:7]}, cut {worst['cutoff'][:7]})"
            line = f"    {method:<16} | {figures['mean_abs_error']:>14.1%} | "
            line += f"{figures['weighted_abs_error']:>18.1%} | " if weighted else ""
            coverage = f"{figures['coverage_80']:.2f}" if "coverage_80" in figures else "-"
            line += f"{_pct(figures['mean_bias']):>9} | {_pct(worst['error']) + where:<46} | {coverage:>12} | "
            print(line + f"{figures['n']:>4}")


def print_cutoff_months(result: CutoffResult) -> None:
    """The organization-level months of one cut-off: actual, the service's forecast and interval, every error."""
    print(
        f"  {'month':<7} {'actual':>15} {'service forecast':>16} {'service 80% interval':>33}  errors: "
        + " ".join(f"{method:>15}" for method in METHODS)
    )
    for record in result.records:
        if record.level != "organization":
            continue
        service = record.forecasts[SERVICE]
        interval = f"{record.interval[0]:,} - {record.interval[1]:,}" if record.interval else "-"
        errors = " ".join(f"{_pct(_error(record, method)):>15}" for method in METHODS)
        forecast = f"{service:,.0f}" if service is not None else "-"
        print(
            f"  {record.month:%Y-%m} {record.actual:>15,} {forecast:>16} {interval:>33}          {errors}", flush=True
        )


def to_json(results: Sequence[CutoffResult], summaries: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {
                (k if isinstance(k, str) else "|".join(map(str, map(plain, k)))): plain(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    return {
        "split": args.split,
        "quick": args.quick,
        "negligible_share": NEGLIGIBLE_SHARE,
        "cutoffs": [plain({k: v for k, v in asdict(result).items() if k != "records"}) for result in results],
        "key_months": [plain(asdict(record)) for result in results for record in result.records],
        "summary": summaries,
    }


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[tuple[OrgShape, list[date]]]:
    """The organizations and cut-offs to run: ``--quick`` is young's first cut-off; else per ``--orgs``/``--split``."""
    if args.quick:
        shape = ORGS[QUICK_ORG]()
        return [(shape, [shape.cutoffs[0]])]
    chosen = []
    for name in args.orgs.split(","):
        if name not in ORGS:
            raise SystemExit(f"unknown organization {name!r}; choose from {', '.join(ORGS)}")
        shape = ORGS[name]()
        cutoffs = [cutoff for cutoff in shape.cutoffs if args.split in ("all", shape.split_of(cutoff))]
        chosen.append((shape, cutoffs))
    return chosen


def quiet_logging() -> None:
    for name, level in (("prophet", logging.ERROR), ("cmdstanpy", logging.ERROR), ("prophet.plot", logging.CRITICAL)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def run_benchmark(planned: Sequence[tuple[OrgShape, list[date]]]) -> list[CutoffResult]:
    workdir = Path(tempfile.mkdtemp(prefix="tokencast-bench-orgs-"))
    results: list[CutoffResult] = []
    try:
        started = time.perf_counter()
        start_database(workdir)  # the harness makes workdir readable by postgres
        quiet_logging()
        print(f"PostgreSQL started, database migrated in {time.perf_counter() - started:.1f}s", flush=True)
        for shape, cutoffs in planned:
            results += run_org(shape, cutoffs, workdir)
    finally:
        stop_database(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def report(results: Sequence[CutoffResult], args: argparse.Namespace) -> dict[str, Any]:
    """Print the tables per organization and overall (and per split when both ran); return them for the JSON."""
    failed = [f"{r.org} {r.cutoff} ({r.service.status}: {r.service.error})" for r in results if not _ran(r.service)]
    if failed:
        print(
            "\nWARNING: no service results for: " + "; ".join(failed) + ". These cut-offs are left out of the "
            "service's numbers but not the baselines' (compare the n column)."
        )
    summaries: dict[str, Any] = {}
    all_records = [record for result in results for record in result.records]
    # Stress cut-offs (events after the cut-off that nothing in the history foretells) are reported apart.
    records = [record for record in all_records if record.split != "stress"] or all_records
    split = "quick" if args.quick else args.split
    orgs = list(dict.fromkeys(result.org for result in results))
    for org in orgs:
        summaries[org] = summarize([record for record in records if record.org == org])
        cutoffs = ", ".join(str(r.cutoff) for r in results if r.org == org and (r.split != "stress" or args.quick))
        print_tables(f"{org}, {split} cut-offs ({cutoffs}) without stress cut-offs", summaries[org])
    summaries["overall"] = summarize(records)
    if len(orgs) > 1:
        print_tables(f"overall ({', '.join(orgs)}), {split} cut-offs without stress cut-offs", summaries["overall"])
    splits = dict.fromkeys(result.split for result in results)
    if not args.quick and len(splits) > 1:
        for name in splits:
            summaries[f"overall {name}"] = summarize([record for record in all_records if record.split == name])
            print_tables(f"overall, {name} cut-offs only", summaries[f"overall {name}"])
    print_targets(summaries, orgs)
    return summaries


def print_targets(summaries: dict[str, Any], orgs: Sequence[str]) -> None:
    """The targets of issue #11, each with its figure and whether it holds (on the cut-offs without stress)."""
    organization = summaries["overall"]["organization"]["methods"]
    service, prophet = organization["service"], organization["default Prophet"]
    if not service["n"] or not prophet["n"]:
        return
    checks = [
        (
            "organization: mean abs error <= default Prophet's",
            f"{service['mean_abs_error']:.2%} vs {prophet['mean_abs_error']:.2%}",
            service["mean_abs_error"] <= prophet["mean_abs_error"],
        ),
        ("organization: |mean bias| <= 3%", f"{service['mean_bias']:+.2%}", abs(service["mean_bias"]) <= 0.03),
        (
            "organization: no month off by more than 10%",
            f"{service['worst']['error']:+.1%}",
            abs(service["worst"]["error"]) <= 0.10,
        ),
        (
            "organization: 75-90% of months inside the 80% interval",
            f"{service['coverage_80']:.2f}",
            0.75 <= service["coverage_80"] <= 0.90,
        ),
    ]
    for org in orgs:
        team = summaries[org]["team"]["methods"]
        if team["service"]["n"] and team["default Prophet"]["n"]:
            ours, theirs = team["service"]["mean_abs_error"], team["default Prophet"]["mean_abs_error"]
            label = f"{org}, team: mean abs error <= default Prophet's"
            checks.append((label, f"{ours:.2%} vs {theirs:.2%}", ours <= theirs))
    print("\ntargets (cut-offs without stress):")
    for label, figure, held in checks:
        print(f"  {'met    ' if held else 'NOT MET'}  {label}: {figure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orgs", default=",".join(ORGS), help=f"comma-separated subset of {', '.join(ORGS)}")
    parser.add_argument("--split", choices=("tuning", "reported", "stress", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help=f'only "{QUICK_ORG}", its first cut-off')
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every cut-off, key-month and table")
    args = parser.parse_args(argv)
    # SIGTERM (a CI time-out, kill) unwinds through the finally block that stops PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    warnings.filterwarnings("ignore", category=FutureWarning)
    planned = plan(args)  # unknown organizations fail here, before PostgreSQL starts
    for shape, _ in planned:
        check_shape(shape)
    started = time.perf_counter()
    results = run_benchmark(planned)
    summaries = report(results, args)
    if args.json:
        args.json.write_text(json.dumps(to_json(results, summaries, args), indent=1) + "\n")
        print(f"\nwrote {args.json}")
    print(f"\nwall time {time.perf_counter() - started:.0f}s for {len(results)} cut-offs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
