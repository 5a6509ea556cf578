"""Forecast speed benchmark: a refresh run through real Celery workers against a plain default-Prophet loop.

Run from the repository root (it needs PostgreSQL's server binaries and ``redis-server``, like ``make test``)::

    .venv/bin/python benchmarks/forecast.py              # 200 series (3-6 minutes on 2 cores with today's engine)
    .venv/bin/python benchmarks/forecast.py --quick      # 20 leaves, about 70 s (a smoke run: tests/test_benchmarks.py)
    .venv/bin/python benchmarks/forecast.py --series 60
    .venv/bin/python benchmarks/forecast.py --profile    # also cProfile a refresh run executed in this process

What it does:

1. starts a throwaway PostgreSQL (``tests.harness.start_postgres``) and Redis (``tests.harness.start_redis``),
   migrates, and sets the environment of this process and of the workers like a production deployment
   (PostgreSQL, Redis broker, Celery not eager, no refresh after ingest, ``DEBUG=false``);
2. synthesizes ``--series`` leaf series (provider x team x model x token type) of 730 days of daily tokens with a
   weekly rhythm, yearly swing, year-end dip, growth with a change of slope, noise, and for some series a launch,
   a level shift, spikes or an outage (fixed seed); the first 639 days go straight into the ledger (``COPY`` into
   ``LedgerLine``, one line per provider x team x model and day with the token types side by side, as the ingest
   writes a usage export; read back with ``usage_daily_by_leaf`` and checked), the 640th is loaded before the
   refresh, the last 90 days are kept in memory as the holdout;
3. starts ``celery -A finops worker -Q forecasting,default -c 2`` and times, through the service
   (``forecast_run_create``, then waiting for the run to succeed): the first run of the organization on the first
   639 days, which backtests and selects a model per series; then, after the 640th day is loaded (the next
   night's usage), a refresh run (horizon 365 days, 80% intervals) that reuses each series' choice and, where the
   new day fits its pattern, its Prophet fit; then the same refresh with every stored Prophet fit dropped (the
   cost of a night on which every fit has aged out and is refitted);
4. times refresh runs for half the series and with concurrency 1 (the worker is restarted) for the scaling table;
5. with ``--profile``, runs one more refresh in this process under cProfile (plan, all series, roll-up);
6. times a plain sequential loop of default Prophet (``Prophet()``, fit, predict 365 future days) over the same
   series in this process;
7. prints both wall times, their ratio and the MASE of each on the 90-day holdout (per level of the series the
   service stores: leaves, or coarser totals against the sum of their leaves), and stops the worker, Redis and
   PostgreSQL and removes its temporary directories whatever happens (error, Ctrl-C, SIGTERM).

The last line printed is always ``prophet-loop/service ratio: X.XX (target >= 4)``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import itertools
import logging
import os
import pstats
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import mean, median
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# Run as a script, Python puts benchmarks/ first on sys.path, where benchmarks/ingest.py would shadow the
# ``ingest`` Django app: put the repository root there instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks._harness import start_database, start_redis, stop_database  # noqa: E402
from tests.harness import celery_worker_command  # noqa: E402

if TYPE_CHECKING:
    from finops.models import Organization
    from forecasting.models import ForecastRun

FloatArray = npt.NDArray[np.float64]
SeriesKey = tuple[str, str, str, str]  # (provider, team, model, token_type); "" in a series' key: all of them

DEFAULT_SERIES = 200
QUICK_SERIES = 20
SEED = 11
HISTORY_DAYS = 730
HOLDOUT_DAYS = 90
TRAIN_DAYS = HISTORY_DAYS - HOLDOUT_DAYS
FIRST_DAY = date(2024, 7, 1)
HORIZON_DAYS = 365
INTERVAL_WIDTH = 0.8
WORKER_CONCURRENCY = 2
SCALING_WORKERS = (1, 2)
# The warm-up: one organization per worker process, their first runs started together, so that every process
# takes a chunk and loads the models once before anything is timed, however the service chunks its series.
WARMUP_SERIES = 8  # leaves of each warm-up organization
RUN_TIMEOUT_SECONDS = 3 * 3600
WORKER_START_TIMEOUT_SECONDS = 90
POLL_SECONDS = 0.05
TARGET_RATIO = 4.0
WEEK = 7

# 2 providers x 5 models x 5 teams x 4 token types = 200 leaves; all models are priced in the shipped catalog.
MODELS: tuple[tuple[str, str], ...] = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1"),
    ("openai", "gpt-4.1-mini"),
    ("openai", "o3"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("anthropic", "claude-3-7-sonnet-20250219"),
    ("anthropic", "claude-sonnet-4-20250514"),
    ("anthropic", "claude-opus-4-20250514"),
)
TEAMS = ("Support", "Search", "Analytics", "Platform", "Growth")
TOKEN_TYPES = ("input", "output", "cached_input", "cache_write")
MAX_SERIES = len(MODELS) * len(TEAMS) * len(TOKEN_TYPES)

TASK_DONE = re.compile(r"Task (forecasting\.tasks\.\w+)\[([^\]]+)\] (?:succeeded in ([0-9.]+)s|raised)")
TASK_RECEIVED = re.compile(r"Task forecasting\.tasks\.\w+\[([^\]]+)\] received")


# ---------------------------------------------------------------------------------------------
# The series
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One leaf series: 730 days of daily tokens (zero before its launch), the last 90 the holdout."""

    provider: str
    team: str
    model: str
    token_type: str
    values: npt.NDArray[np.int64]

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.provider, self.team, self.model, self.token_type)

    @property
    def first_day(self) -> int:
        """Index of the first day of use: the service's history of the leaf starts there."""
        return int(np.flatnonzero(self.values[:TRAIN_DAYS])[0])

    @property
    def training(self) -> FloatArray:
        """The history the service sees: from the first day of use to the last day in the ledger."""
        return self.values[self.first_day : TRAIN_DAYS].astype(np.float64)

    @property
    def holdout(self) -> FloatArray:
        return self.values[TRAIN_DAYS:].astype(np.float64)


def _groups(seed: int) -> list[tuple[str, str, str]]:
    """Every (provider, team, model), in a fixed shuffled order: the first N leaves mix providers and teams."""
    groups = [(provider, team, model) for (provider, model), team in itertools.product(MODELS, TEAMS)]
    random.Random(seed).shuffle(groups)
    return groups


def _driver(rng: np.random.Generator) -> FloatArray:
    """Daily total tokens of one team's use of one model, over all ``HISTORY_DAYS`` days."""
    t = np.arange(HISTORY_DAYS, dtype=np.float64)
    days = pd.date_range(FIRST_DAY, periods=HISTORY_DAYS, freq="D")
    log_level = np.log(rng.lognormal(np.log(3e6), 1.2))

    # Growth, with a change of slope somewhere in the history.
    slope = rng.uniform(-0.0005, 0.0025)
    new_slope = slope + rng.normal(0.0, 0.001)
    change = rng.integers(150, 650)
    trend = slope * np.minimum(t, change) + new_slope * np.maximum(t - change, 0.0)

    # Weekly rhythm: weekdays near 1, weekends lower.
    weekend = rng.uniform(0.3, 0.9)
    profile = np.array([*(1.0 + rng.normal(0.0, 0.05, 5)), weekend, weekend * rng.uniform(0.8, 1.1)])
    weekly = np.log(profile[days.dayofweek.to_numpy()])

    # Yearly swing and, for most, a year-end dip.
    yearly = rng.uniform(0.0, 0.15) * np.sin(2 * np.pi * days.dayofyear.to_numpy() / 365.25 + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.6:
        year_end = ((days.month == 12) & (days.day >= 24)) | ((days.month == 1) & (days.day == 1))
        yearly = yearly + np.where(year_end, np.log(rng.uniform(0.4, 0.8)), 0.0)

    # Autocorrelated day-to-day noise.
    sigma = rng.uniform(0.05, 0.2)
    shocks = rng.normal(0.0, sigma, HISTORY_DAYS)
    noise = np.empty(HISTORY_DAYS)
    noise[0] = shocks[0]
    for day in range(1, HISTORY_DAYS):
        noise[day] = 0.5 * noise[day - 1] + shocks[day]

    log_values = log_level + trend + weekly + yearly + noise
    if rng.random() < 0.3:  # a lasting level shift (a product change, a migration), possibly in the holdout
        log_values[rng.integers(100, HISTORY_DAYS) :] += rng.normal(0.0, 0.35)
    if rng.random() < 0.3:  # a few spike days (a batch job, a load test)
        log_values[rng.integers(0, HISTORY_DAYS, rng.integers(1, 5))] += np.log(rng.uniform(2.0, 5.0))
    if rng.random() < 0.15:  # an outage of one to three days
        start = rng.integers(0, HISTORY_DAYS - 3)
        log_values[start : start + rng.integers(1, 4)] += np.log(rng.uniform(0.02, 0.3))
    values = np.exp(log_values)

    if rng.random() < 0.15:  # launched during the history: nothing before, then a ramp of 2-6 weeks
        launch, ramp_days = rng.integers(60, 500), rng.uniform(14, 42)
        ramp = 1.0 / (1.0 + np.exp(-(t - launch - ramp_days / 2) / (ramp_days / 8)))
        values = np.where(t < launch, 0.0, values * ramp)
    return values


def _token_type_values(rng: np.random.Generator, driver: FloatArray) -> dict[str, npt.NDArray[np.int64]]:
    """Split a driver into the four token types; cached input's share drifts (caching adopted over time)."""
    t = np.linspace(0.0, 1.0, HISTORY_DAYS)
    cached_start = rng.uniform(0.05, 0.4)
    cached_share = np.clip(cached_start + rng.uniform(-0.05, 0.3) * t, 0.0, 0.85)
    shares = {
        "input": 1.0 - cached_share,
        "cached_input": cached_share,
        "output": np.full(HISTORY_DAYS, rng.uniform(0.1, 0.5)),
        "cache_write": np.full(HISTORY_DAYS, rng.uniform(0.005, 0.03)),
    }
    values = {}
    for token_type in TOKEN_TYPES:
        own_noise = rng.lognormal(0.0, rng.uniform(0.03, 0.1), HISTORY_DAYS)
        values[token_type] = np.rint(driver * shares[token_type] * own_noise).astype(np.int64)
    return values


def synthesize(count: int, seed: int = SEED) -> list[Leaf]:
    """The first ``count`` leaves, four token types per (provider, team, model); deterministic for a seed."""
    if not 1 <= count <= MAX_SERIES:
        raise ValueError(f"--series must be between 1 and {MAX_SERIES}, got {count}")
    leaves: list[Leaf] = []
    for index, (provider, team, model) in enumerate(_groups(seed)):
        if len(leaves) >= count:
            break
        rng = np.random.default_rng([seed, index])
        by_type = _token_type_values(rng, _driver(rng))
        leaves.extend(Leaf(provider, team, model, token_type, by_type[token_type]) for token_type in TOKEN_TYPES)
    return leaves[:count]


# ---------------------------------------------------------------------------------------------
# The organization and its ledger
# ---------------------------------------------------------------------------------------------


def create_organization(slug: str, leaves: list[Leaf]) -> Organization:
    """A fresh organization whose ledger holds the first ``TRAIN_DAYS - 1`` days of ``leaves`` (``_write_ledger``);
    ``add_usage_day`` adds the last training day, as the next night's upload would."""
    from finops.services import organization_create

    organization, created = organization_create(slug=slug)
    if not created:
        raise RuntimeError(f"organization {slug!r} already exists; the benchmark needs a fresh one")
    _write_ledger(organization, leaves, range(TRAIN_DAYS - 1), label="synthetic ledger")
    return organization


def add_usage_day(organization: Organization, leaves: list[Leaf]) -> None:
    """Load the last training day (``TRAIN_DAYS - 1``) into the organization's ledger as its own upload."""
    _write_ledger(organization, leaves, range(TRAIN_DAYS - 1, TRAIN_DAYS), label="synthetic next day")


def check_ledger(organization: Organization, leaves: list[Leaf], days: int) -> None:
    """Read the ledger back as the forecast's plan reads it (``usage_daily_by_leaf``) and check it holds exactly
    the first ``days`` days of every leaf: the same leaves, the same tokens on the same days."""
    from ingest.selectors import usage_daily_by_leaf

    read: dict[tuple[str, str, str, str], dict[date, int]] = {}
    for provider, team, model, token_type, day, tokens in usage_daily_by_leaf(organization=organization):
        by_day = read.setdefault((provider, team, model, token_type), {})
        by_day[day] = by_day.get(day, 0) + tokens
    written = {
        leaf.key: {
            FIRST_DAY + timedelta(days=offset): int(leaf.values[offset])
            for offset in range(days)
            if leaf.values[offset]
        }
        for leaf in leaves
    }
    if read != written:
        missing, extra = sorted(written.keys() - read.keys()), sorted(read.keys() - written.keys())
        differ = sorted(key for key in written.keys() & read.keys() if written[key] != read[key])
        raise RuntimeError(
            f"the ledger of {organization.slug} does not read back as written: leaves missing {missing[:3]}, "
            f"unexpected {extra[:3]}, with other daily tokens {differ[:3]}"
        )


def _write_ledger(organization: Organization, leaves: list[Leaf], offsets: range, *, label: str) -> None:
    """COPY the days ``offsets`` of ``leaves`` into the ledger as one upload, the way the ingest stores usage.

    One ``LedgerLine`` per (provider, team, model) and day, with the token types of that day side by side
    (a usage export's row carries input, output, cached and cache-write tokens at once, and
    ``ingest.ledger_writer`` writes it as one line): a token type without a leaf here or with no tokens
    that day leaves its slot empty (NULL quantity: no record), and a day on which every slot is empty
    writes no line. No cost (basis ``unknown``): the forecast prices the leaves from the catalog.
    ``ingest.selectors.usage_daily_by_leaf`` reads each filled slot back as one leaf's tokens of the day.
    """
    from django.db import connection, transaction

    from finops.services import team_get_or_create
    from ingest.ledger_writer import COPY_COLUMNS, SHARED_COLUMNS
    from ingest.models import LEDGER_SLOTS, CostBasis, LedgerLine, Upload

    team_ids = {
        name: team_get_or_create(organization=organization, name=name).pk
        for name in sorted({leaf.team for leaf in leaves})
    }
    # The leaves of each (provider, team, model), by slot number, in the order they come.
    groups: dict[tuple[str, str, str], dict[int, Leaf]] = {}
    for leaf in leaves:
        groups.setdefault((leaf.provider, leaf.team, leaf.model), {})[LEDGER_SLOTS.index(leaf.token_type)] = leaf
    days = {offset: FIRST_DAY + timedelta(days=offset) for offset in offsets}
    starts = {offset: datetime(day.year, day.month, day.day, tzinfo=UTC) for offset, day in days.items()}
    empty_slot = (None, None, "")
    with transaction.atomic():
        upload = Upload.objects.create(
            organization=organization,
            file="benchmarks/synthetic-ledger.csv",
            original_name=f"{label} (benchmarks/forecast.py)",
            sha256=hashlib.sha256(f"{organization.slug}:{offsets}".encode()).hexdigest(),
            size_bytes=0,
            format="synthetic",
            status=Upload.Status.SUCCEEDED,
        )
        source_row = 0
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {LedgerLine._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
        ):
            for (provider, team, model), by_slot in groups.items():
                filled = {"model": model, "provider": provider, "model_raw": model, "unit": "tokens", "currency": "USD"}
                filled |= {"tags": "{}", "team_id": team_ids[team]}
                shared = tuple(filled.get(column, "") for column in SHARED_COLUMNS)
                for offset in offsets:
                    slots: list[tuple[int | None, None, str]] = []
                    for number in range(len(LEDGER_SLOTS)):
                        member = by_slot.get(number)
                        quantity = int(member.values[offset]) if member is not None else 0
                        slots.append((quantity, None, CostBasis.UNKNOWN.value) if quantity else empty_slot)
                    if all(slot is empty_slot for slot in slots):
                        continue
                    source_row += 1
                    record = (source_row, days[offset], starts[offset], starts[offset] + timedelta(days=1), None, None)
                    row = (organization.pk, upload.pk, *shared, *record, *itertools.chain.from_iterable(slots))
                    copy.write_row(row)


# ---------------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------------


@dataclass
class Worker:
    """A real ``celery worker`` process group (prefork) on the benchmark's Redis and PostgreSQL."""

    concurrency: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    node: str = ""

    def start(self) -> None:
        from finops.celery import app

        self.node = f"bench-forecast-{os.getpid()}-c{self.concurrency}@{socket.gethostname()}"
        command = celery_worker_command(queues="forecasting,default", concurrency=self.concurrency, hostname=self.node)
        with self.log_path.open("ab") as log:
            # Its own session: a Ctrl-C in the terminal reaches this process, which stops the worker in order.
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=dict(os.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self.check_alive()
            if app.control.ping(destination=[self.node], timeout=0.5):
                return
        raise RuntimeError(f"the celery worker did not answer a ping within {WORKER_START_TIMEOUT_SECONDS}s")

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the celery worker exited with {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def stop(self) -> None:
        """Warm shutdown of the main process, then SIGKILL to whatever is left of its process group."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# ---------------------------------------------------------------------------------------------
# Runs through the service
# ---------------------------------------------------------------------------------------------


@dataclass
class TaskTimes:
    """The worker's own clock for the tasks of one run (from its log)."""

    plan: float = 0.0
    chunks: list[float] = field(default_factory=list)

    def describe(self, series: int) -> str:
        if not self.chunks:
            return "tasks: (not found in the worker log)"
        return (
            f"tasks: plan {self.plan:.2f}s, {len(self.chunks)} chunks mean {mean(self.chunks):.2f}s "
            f"(sum {sum(self.chunks):.1f}s = {sum(self.chunks) / series:.3f} s/series of worker time), "
            f"slowest {max(self.chunks):.2f}s (the last chunk also prices and rolls up the run)"
        )


@dataclass
class RunResult:
    label: str
    leaves: int  # leaf series in the organization's ledger
    series: int  # series the run fitted (its series_total)
    workers: int
    seconds: float
    run: ForecastRun
    tasks: TaskTimes

    @property
    def rate(self) -> float:
        return self.series / self.seconds


def _task_times(worker: Worker, offset: int) -> TaskTimes:
    """Durations of the run's tasks, read from the worker log written since ``offset``.

    The last chunk logs its success just after the run is marked succeeded: wait a little (at most 10 s) until
    every task the worker received since ``offset`` has logged its end."""
    deadline = time.monotonic() + 10
    while True:
        with worker.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        times = TaskTimes()
        ended = set()
        for name, task_id, seconds in TASK_DONE.findall(text):
            ended.add(task_id)
            if not seconds:
                continue
            if name.endswith("execute_forecast_run"):
                times.plan += float(seconds)
            elif name.endswith("execute_forecast_chunk"):
                times.chunks.append(float(seconds))
        if set(TASK_RECEIVED.findall(text)) <= ended or time.monotonic() > deadline:
            return times
        time.sleep(0.1)


def timed_run(label: str, organization: Organization, leaves: int, worker: Worker) -> RunResult:
    """Create a forecast run through the service for an organization whose ledger holds ``leaves`` leaf series,
    and wait until the worker has finished it.

    How many series the run fits is the service's business (one per leaf, or fewer, coarser ones): the run's own
    ``series_total`` is taken, not ``leaves``."""
    return timed_runs(label, [organization], leaves, worker)[0]


def timed_runs(label: str, organizations: list[Organization], leaves: int, worker: Worker) -> list[RunResult]:
    """``timed_run`` for several organizations at once: their runs are created together and waited for together
    (each result's time is until the last one finished)."""
    from forecasting.models import ForecastRun
    from forecasting.services import forecast_run_create

    offset = worker.log_size()
    started = time.perf_counter()
    runs = [
        forecast_run_create(organization=organization, horizon_days=HORIZON_DAYS, interval_width=INTERVAL_WIDTH)
        for organization in organizations
    ]
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    done = (ForecastRun.Status.SUCCEEDED, ForecastRun.Status.FAILED)
    pks = [run.pk for run in runs]
    while ForecastRun.objects.filter(pk__in=pks).exclude(status__in=done).exists():
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"forecast runs {pks} did not finish within {RUN_TIMEOUT_SECONDS}s")
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - started
    for run in runs:
        run.refresh_from_db()
        if run.status != ForecastRun.Status.SUCCEEDED:
            raise RuntimeError(f"forecast run #{run.pk} ({label}) failed: {run.error}\n{worker.log_tail()}")
        if not run.series_total:
            raise RuntimeError(f"forecast run #{run.pk} ({label}) forecast no series from a ledger of {leaves} leaves")
    tasks = _task_times(worker, offset)
    return [RunResult(label, leaves, run.series_total, worker.concurrency, seconds, run, tasks) for run in runs]


def describe_run(result: RunResult) -> str:
    failed = f", {result.run.series_failed} series FAILED" if result.run.series_failed else ""
    backtests = result.run.series.values_list("backtest", flat=True)
    chosen = sum(1 for backtest in backtests if backtest and backtest.get("selected"))
    reasons = list(result.run.series.values_list("model_reason", flat=True))
    reused = sum(1 for reason in reasons if PROPHET_REUSED in reason)
    refitted = sum(1 for reason in reasons if PROPHET_REFITTED in reason)
    return (
        f"{result.label} ({result.series} series from {result.leaves} leaves, workers {result.workers}): "
        f"{result.seconds:.1f}s, "
        f"{result.rate:.2f} series/s{failed}\n  {result.tasks.describe(result.series)}\n"
        f"  served: {served_models(result.run)}; a backtest's model choice stored for {chosen} of {result.series}; "
        f"Prophet fits reused {reused}, refitted for a stated reason {refitted}"
    )


PROPHET_REUSED = "reused ("
PROPHET_REFITTED = "prophet refitted:"


def forget_prophet_fits(run: ForecastRun) -> None:
    """Drop the stored Prophet fits of ``run``'s series, so the next run of its organization refits every series
    (what a refresh costs on the night the fits have aged out)."""
    run.series.update(prophet_fit=None)


def series_level(key: SeriesKey) -> str:
    """What a series of ``key`` is: "leaves", or the fields it is a total over (e.g. "provider x team totals")."""
    if all(key):
        return "leaves"
    named = [name for name, part in zip(("provider", "team", "model", "token type"), key, strict=True) if part]
    return f"{' x '.join(named) or 'organization'} totals"


def served_models(run: ForecastRun) -> str:
    """The models that served the run's series, counted per level ("blend x12, ets x3"; levels named when the run
    stores more than one, e.g. fitted provider x team totals and the leaves derived from them)."""
    counts: dict[str, dict[str, int]] = {}
    for *key, name in run.series.values_list("provider", "team", "model", "token_type", "model_name"):
        level = counts.setdefault(series_level(tuple(key)), {})  # type: ignore[arg-type]
        level[name or "(failed)"] = level.get(name or "(failed)", 0) + 1
    described = {
        level: ", ".join(f"{name} x{count}" for name, count in sorted(names.items(), key=lambda item: -item[1]))
        for level, names in counts.items()
    }
    if len(described) == 1:
        return next(iter(described.values()))
    return "; ".join(f"{text} ({level})" for level, text in described.items())


def service_holdout_forecasts(run: ForecastRun) -> dict[SeriesKey, FloatArray]:
    """The first ``HOLDOUT_DAYS`` days of each succeeded series' daily point forecast, by the series' key.

    A series that is coarser than a leaf (a provider x team total, say) has a blank model and token type: its key
    has "" there, and it is scored against the sum of the leaves it covers."""
    from forecasting.models import ForecastSeries

    forecasts = {}
    for series in run.series.filter(status=ForecastSeries.Status.SUCCEEDED):
        yhat = np.asarray(series.forecast["yhat"][:HOLDOUT_DAYS], dtype=np.float64)
        forecasts[(series.provider, series.team, series.model or "", series.token_type or "")] = yhat
    return forecasts


def profile_refresh(organization: Organization, limit: int = 15) -> str:
    """cProfile of a refresh run executed in this process: plan, every series as one chunk, then the roll-up.

    The run is planned with ``forecast_run_execute``; the chunks it queues go to Redis, where no worker takes
    them (the worker is stopped by then), and the series are fitted here by ``forecast_series_chunk_execute``.
    The roll-up (``forecast_run_finalize``) is then timed once more on its own, without the profiler."""
    from forecasting.models import ForecastRun
    from forecasting.services import forecast_run_execute, forecast_run_finalize, forecast_series_chunk_execute

    run = ForecastRun.objects.create(
        organization=organization, horizon_days=HORIZON_DAYS, interval_width=INTERVAL_WIDTH
    )
    profiler = cProfile.Profile()
    profiler.enable()
    forecast_run_execute(run_id=run.pk)
    forecast_series_chunk_execute(run_id=run.pk, series_ids=list(run.series.values_list("pk", flat=True)))
    profiler.disable()
    run.refresh_from_db()
    if run.status != ForecastRun.Status.SUCCEEDED:
        raise RuntimeError(f"the profiled forecast run #{run.pk} ended {run.status}: {run.error}")
    # The roll-up runs serially at the end of every run: time it alone, without the profiler's overhead
    # (finalizing again replaces the run's results with the same ones).
    started = time.perf_counter()
    forecast_run_finalize(run_id=run.pk)
    finalize_seconds = time.perf_counter() - started
    out = io.StringIO()
    out.write(f"forecast_run_finalize alone (price + roll-up of {run.series_total} leaves), not profiled: ")
    out.write(f"{finalize_seconds:.2f}s\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(forecasting|ingest|finops)/", limit)
    stats.sort_stats("tottime").print_stats(limit)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------
# The baseline and the accuracy
# ---------------------------------------------------------------------------------------------


def _history_frame(leaf: Leaf) -> pd.DataFrame:
    start = pd.Timestamp(FIRST_DAY) + pd.Timedelta(days=leaf.first_day)
    training = leaf.training
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(training), freq="D"), "y": training})


def _default_prophet(history: pd.DataFrame) -> FloatArray:
    """Default Prophet: fit, then predict the next ``HORIZON_DAYS`` days with default settings."""
    from prophet import Prophet

    model = Prophet()
    model.fit(history)
    future = model.make_future_dataframe(periods=HORIZON_DAYS, include_history=False)
    return model.predict(future)["yhat"].to_numpy(dtype=np.float64)


def prophet_loop(leaves: list[Leaf]) -> tuple[float, dict[SeriesKey, FloatArray]]:
    """Seconds for the sequential loop over ``leaves`` (after an untimed warm-up fit) and each one's holdout part."""
    import prophet  # noqa: F401  (the import and Stan's first start are not part of the loop)

    for name in ("prophet", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _default_prophet(_history_frame(leaves[0]))
    forecasts = {}
    started = time.perf_counter()
    for leaf in leaves:
        forecasts[leaf.key] = _default_prophet(_history_frame(leaf))[:HOLDOUT_DAYS]
    return time.perf_counter() - started, forecasts


def covered_leaves(key: SeriesKey, leaves: list[Leaf]) -> list[Leaf]:
    """The leaves a series of ``key`` adds up: those equal to it in every field it names ("" names none)."""
    return [leaf for leaf in leaves if all(not part or part == own for part, own in zip(key, leaf.key, strict=True))]


def summed_forecasts(
    keys: Iterable[SeriesKey], leaves: list[Leaf], leaf_forecasts: dict[SeriesKey, FloatArray]
) -> dict[SeriesKey, FloatArray]:
    """Per series key, the sum of the leaf forecasts of the leaves it covers (the key's own forecast when the key
    is a leaf); keys with a leaf lacking a forecast are left out."""
    summed = {}
    for key in keys:
        covered = covered_leaves(key, leaves)
        if covered and all(leaf.key in leaf_forecasts for leaf in covered):
            summed[key] = np.sum([leaf_forecasts[leaf.key] for leaf in covered], axis=0)
    return summed


def holdout_mase(leaves: list[Leaf], forecasts: dict[SeriesKey, FloatArray]) -> list[float]:
    """Per forecast series: MAE over the holdout / in-sample MAE of the lag-7 seasonal naive on its history.

    The actual values of a series are the sum of the leaves it covers (just the leaf when the series is one),
    and its history starts on their first day of use, as the service's does."""
    from forecasting.backtest import seasonal_naive_scale

    scores = []
    for key, forecast in forecasts.items():
        covered = covered_leaves(key, leaves)
        if not covered:
            continue
        values = np.sum([leaf.values for leaf in covered], axis=0).astype(np.float64)
        first_day = int(np.flatnonzero(values[:TRAIN_DAYS])[0])
        scale = seasonal_naive_scale(values[first_day:TRAIN_DAYS], WEEK)
        if scale == 0:
            continue
        scores.append(float(np.mean(np.abs(values[TRAIN_DAYS:] - forecast))) / scale)
    return scores


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def _load() -> str:
    """The machine's load, to read the timings against (the benchmark itself keeps up to 2 cores busy)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def run_benchmark(series: int, profile: bool) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="tokencast-bench-forecast-"))
    worker: Worker | None = None
    try:
        started = time.perf_counter()
        broker_url = start_redis(workdir)
        start_database(workdir, broker_url=broker_url)  # the harness makes workdir readable by postgres
        print(f"PostgreSQL and Redis started, database migrated in {time.perf_counter() - started:.1f}s; {_load()}")

        leaves = synthesize(series)
        half = series // 2
        warmup = min(WARMUP_SERIES, series)
        last_day = FIRST_DAY + timedelta(days=TRAIN_DAYS - 1)
        started = time.perf_counter()
        slugs = {
            **{f"warmup-{number}": f"bench-forecast-warmup-{number}" for number in range(1, WORKER_CONCURRENCY + 1)},
            "full": f"bench-forecast-{series}",
            "half": f"bench-forecast-{half}",
        }
        members = {name: leaves[:warmup] for name in slugs if name.startswith("warmup")}
        members.update({"full": leaves, "half": leaves[:half]})
        organizations = {name: create_organization(slug, members[name]) for name, slug in slugs.items()}
        for name, organization in organizations.items():
            check_ledger(organization, members[name], TRAIN_DAYS - 1)
        warmups = [organization for name, organization in organizations.items() if name.startswith("warmup")]
        launched = sum(1 for leaf in leaves if leaf.first_day > 0)
        print(
            f"series: {series} leaves (provider x team x model x token type; {launched} launched during the history), "
            f"{TRAIN_DAYS} days in the ledger ({FIRST_DAY}..{last_day}), {HOLDOUT_DAYS}-day holdout kept out; "
            f"ledgers written (one line per provider x team x model and day) and read back in "
            f"{time.perf_counter() - started:.1f}s"
        )

        worker = Worker(WORKER_CONCURRENCY, workdir / "worker.log")
        worker.start()
        print(f"worker: celery -A finops worker -Q forecasting,default -c {WORKER_CONCURRENCY} (prefork)")
        warm = timed_runs("warm-up run", warmups, warmup, worker)
        print(
            f"warm-up runs, not counted ({len(warm)} organizations at once, {warm[0].series} series from {warmup} "
            f"leaves each, so that each worker process loads the models): {warm[0].seconds:.1f}s"
        )

        selection = timed_run("backtest + model selection pass", organizations["full"], series, worker)
        print(describe_run(selection))
        add_usage_day(organizations["full"], leaves)
        check_ledger(organizations["full"], leaves, TRAIN_DAYS)
        refresh = timed_run(
            "service refresh after the next day's usage, horizon 365 days, 80% intervals",
            organizations["full"],
            series,
            worker,
        )
        print(describe_run(refresh))
        forget_prophet_fits(refresh.run)
        refit = timed_run("refresh refitting every Prophet (the weekly refit)", organizations["full"], series, worker)
        print(describe_run(refit))

        scaling: dict[tuple[int, int], RunResult] = {(series, WORKER_CONCURRENCY): refresh}
        half_selection = timed_run("backtest + model selection pass", organizations["half"], half, worker)
        print(describe_run(half_selection))
        add_usage_day(organizations["half"], leaves[:half])
        scaling[(half, WORKER_CONCURRENCY)] = timed_run("refresh", organizations["half"], half, worker)
        for concurrency in (workers for workers in SCALING_WORKERS if workers != WORKER_CONCURRENCY):
            worker.stop()
            worker = Worker(concurrency, workdir / f"worker-c{concurrency}.log")
            worker.start()
            timed_runs("warm-up", warmups[:concurrency], warmup, worker)
            for count, organization in ((series, organizations["full"]), (half, organizations["half"])):
                scaling[(count, concurrency)] = timed_run("refresh", organization, count, worker)
        worker.stop()
        worker = None
        print(
            "scaling of the refresh run (horizon 365 days, intervals on): leaves (series fitted) x workers -> seconds"
        )
        for (count, workers), result in sorted(scaling.items()):
            chunks = result.tasks.chunks
            worker_time = f"worker time {sum(chunks) / result.series:.3f} s/series, " if chunks else ""
            last_chunk = f"slowest chunk {max(chunks):.1f}s" if chunks else ""
            print(
                f"  {count:>4} ({result.series:>3}) x {workers} -> {result.seconds:6.1f}s  "
                f"({result.rate:5.2f} series/s; plan {result.tasks.plan:.1f}s, {worker_time}{last_chunk})"
            )

        if profile:
            print(f"\ncProfile of a refresh run of {series} series in this process, top 15 by cumulative time:")
            print(profile_refresh(organizations["full"]))

        loop_seconds, prophet_forecasts = prophet_loop(leaves)
        print(
            f"default Prophet loop ({series} leaf series, one process, fit + predict {HORIZON_DAYS} days): "
            f"{loop_seconds:.1f}s, {series / loop_seconds:.2f} series/s, {loop_seconds / series:.3f} s/series"
        )

        print(_load())
        # Both are scored on the series the service fitted: default Prophet's leaf forecasts are summed to them
        # (when the service fits the leaves themselves, each leaf is scored on its own).
        service_forecasts = service_holdout_forecasts(refresh.run)
        levels = sorted({series_level(key) for key in service_forecasts}, key=lambda level: level != "leaves")
        for level in levels:
            at_level = {key: yhat for key, yhat in service_forecasts.items() if series_level(key) == level}
            service_scores = holdout_mase(leaves, at_level)
            prophet_scores = holdout_mase(leaves, summed_forecasts(at_level, leaves, prophet_forecasts))
            if not service_scores or not prophet_scores:
                print(f"MASE on the {HOLDOUT_DAYS}-day holdout, {level}: no series to score")
                continue
            print(
                f"MASE on the {HOLDOUT_DAYS}-day holdout, {level} (mean over series, median in brackets; lower is "
                f"better): service {mean(service_scores):.3f} ({median(service_scores):.3f}, "
                f"{len(service_scores)} series), default Prophet {mean(prophet_scores):.3f} "
                f"({median(prophet_scores):.3f}, {len(prophet_scores)} series) (target: service <= default Prophet)"
            )
        print(f"prophet-loop/service ratio: {loop_seconds / refresh.seconds:.2f} (target >= {TARGET_RATIO:g})")
    finally:
        # Cleanup must not be cut short by a second Ctrl-C or a SIGTERM.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if worker is not None:
            worker.stop()
        stop_database(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--series", type=int, help=f"leaf series to forecast (default {DEFAULT_SERIES}, at most {MAX_SERIES})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a small run: {QUICK_SERIES} series unless --series is given"
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile a refresh run in this process")
    args = parser.parse_args(argv)
    series = args.series or (QUICK_SERIES if args.quick else DEFAULT_SERIES)
    if not 2 <= series <= MAX_SERIES:
        parser.error(f"--series must be between 2 and {MAX_SERIES}")
    # SIGTERM (a CI time-out, kill) unwinds through the finally block that stops the worker and the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run_benchmark(series, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
