"""Ingest throughput and memory benchmark: the real upload path against a bare PostgreSQL COPY.

Run from the repository root (it needs PostgreSQL's server binaries, like ``make test``)::

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--small-rows 100000] [--profile]
    .venv/bin/python benchmarks/ingest.py --quick   # a smoke run: 20,000 rows timed, 5,000 for the memory run

What it does:

1. starts a throwaway PostgreSQL cluster (``tests.harness.start_postgres``), creates the database
   ``tokencast`` and migrates it (which also seeds the list-price catalog);
2. writes an OpenAI dashboard usage export (the real 26-column header of ``ingest.demo_data``) with
   ``--rows`` data rows: hundreds of projects, several API keys and models per project, Batch API
   traffic, non-zero input/output/cached tokens, some cache writes, counts written as ``123.0``;
3. after a small warm-up, times (a) the real service path in process, Celery eager:
   ``upload_create`` (store, hash, detect, queue) and ``upload_ingest`` (parse, normalize, price,
   allocate, COPY into the ledger, commit), and (b) a plain ``COPY ... FROM STDIN (FORMAT csv)`` of the
   same file into a 26-column table, streamed in 1 MiB chunks, then commit;
4. measures the peak RSS of the ingest of ``--small-rows`` and ``--rows`` rows, each in a fresh
   subprocess (this script again, with ``--measure-memory-only N``) and a fresh organization;
5. stops PostgreSQL and removes its temporary directories whatever happens.

The last line printed is always ``ingest/COPY ratio: X.XX (target <= 3.0)``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# Run as a script, Python puts benchmarks/ first on sys.path, where this very file would shadow the
# ``ingest`` Django app: put the repository root there instead.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks._harness import attach_database, start_database, stop_database  # noqa: E402
from ingest.demo_data import HEADER  # noqa: E402  (pure Python, no Django: safe before setup)

DEFAULT_ROWS = 1_000_000
DEFAULT_SMALL_ROWS = 100_000
QUICK_ROWS = 20_000  # --quick: a smoke run of about 15 s; its ratios say little (fixed costs dominate)
QUICK_SMALL_ROWS = 5_000
WARMUP_ROWS = 10_000
COPY_CHUNK_BYTES = 1024 * 1024
SEED = 7
FIRST_DAY = date(2025, 6, 1)
COPY_TABLE = "bench_openai_usage"
# Set by the parent for its --measure-memory-only subprocesses: reuse its server and database.
REUSE_DATABASE_ENV = "TOKENCAST_BENCH_DATABASE_URL"
PEAK_PREFIX = "peak_rss_mib="
BASELINE_PREFIX = "baseline_rss_mib="

TEXT_COLUMNS = frozenset(
    {"start_time_iso", "end_time_iso", "project_id", "user_id", "api_key_id", "model", "batch", "service_tier"}
)

# OpenAI snapshots live on FIRST_DAY, with a relative popularity. Snapshots normalize to their family
# (priced from the catalog), the fine-tune to its base model; cache-write tokens have no list price.
MODELS: tuple[tuple[str, float], ...] = (
    ("gpt-4o-mini-2024-07-18", 10.0),
    ("gpt-4.1-mini-2025-04-14", 9.0),
    ("gpt-4o-2024-08-06", 6.0),
    ("gpt-4.1-2025-04-14", 6.0),
    ("gpt-4.1-nano-2025-04-14", 4.0),
    ("o4-mini-2025-04-16", 4.0),
    ("o3-2025-04-16", 2.0),
    ("gpt-4o-2024-11-20", 2.0),
    ("o3-mini-2025-01-31", 1.5),
    ("gpt-3.5-turbo-0125", 1.0),
    ("ft:gpt-4o-mini-2024-07-18:acme::B7x2kQ9p", 1.0),
)
PROJECT_COUNT = 240
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TEAMS = ("Support", "Search", "Analytics", "Platform", "Growth", "Research")
PROJECT_RULES = 12  # allocation rules on the first projects' ids (2 per team)


# ---------------------------------------------------------------------------------------------
# The export file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stream:
    """One (project, key, model, batch) group: one row of the export per day."""

    project_id: str
    middle: str  # user_id,api_key_id,model,batch,service_tier,compute_units, (constant per stream)
    daily_tokens: float
    output_ratio: float
    cached_share: float
    cache_write_share: float
    tokens_per_request: int
    weekend_factor: float


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(ALPHABET, k=length))


def project_ids(seed: int = SEED) -> list[str]:
    """The export's project ids, in file order (deterministic for a seed)."""
    rng = random.Random(f"{seed}:projects")
    return [f"proj_{_token(rng, 24)}" for _ in range(PROJECT_COUNT)]


def _streams(seed: int) -> list[_Stream]:
    rng = random.Random(f"{seed}:streams")
    names = [name for name, _ in MODELS]
    weights = [weight for _, weight in MODELS]
    streams: list[_Stream] = []
    for project_id in project_ids(seed):
        user_id = f"user-{_token(rng, 24)}" if rng.random() < 0.4 else ""
        keys = [f"key_{_token(rng, 16)}" for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
        models: list[str] = []
        while len(models) < rng.randint(2, 6):
            model = rng.choices(names, weights)[0]
            if model not in models:
                models.append(model)
        batch_modes = ("False", "True") if rng.random() < 0.3 else ("False",)
        project_tokens = rng.lognormvariate(16.0, 1.5)  # median ~9M tokens a day
        cached_share = rng.uniform(0.05, 0.6)
        cache_write_share = rng.uniform(0.005, 0.03) if rng.random() < 0.25 else 0.0
        weekend_factor = rng.uniform(0.3, 0.9)
        for key_index, key in enumerate(keys):
            key_share = 1.0 if key_index == 0 else rng.uniform(0.02, 0.15)
            for model in models:
                model_share = rng.uniform(0.05, 1.0)
                for batch in batch_modes:
                    batch_share = rng.uniform(0.2, 0.7) if batch == "True" else 1.0
                    streams.append(
                        _Stream(
                            project_id=project_id,
                            middle=f"{user_id},{key},{model},{batch},default,,",
                            daily_tokens=max(2_000.0, project_tokens * key_share * model_share * batch_share),
                            output_ratio=rng.uniform(0.1, 0.5) * (1.25 if model.startswith(("o3", "o4")) else 1.0),
                            cached_share=cached_share * rng.uniform(0.7, 1.3),
                            cache_write_share=cache_write_share,
                            tokens_per_request=rng.choice((600, 1_200, 2_500, 4_000, 8_000)),
                            weekend_factor=weekend_factor,
                        )
                    )
    return streams


def _usage_lines(rows: int, seed: int) -> Iterator[str]:
    rng = random.Random(f"{seed}:usage")
    noise = rng.random
    streams = _streams(seed)
    zeros = ",0.0" * 6  # audio and image modalities
    written = 0
    day = FIRST_DAY
    while written < rows:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        prefix = f"{int(start.timestamp())},{int(end.timestamp())},{start.isoformat()},{end.isoformat()},"
        weekend = day.weekday() >= 5
        for stream in streams[: rows - written]:
            total = stream.daily_tokens * (0.7 + 0.6 * noise()) * (stream.weekend_factor if weekend else 1.0)
            input_tokens = int(total / (1.0 + stream.output_ratio * (0.8 + 0.4 * noise()))) + 1
            output_tokens = int(total) - input_tokens + 1
            cached = int(input_tokens * stream.cached_share * (0.8 + 0.4 * noise())) + 1
            cache_write = int(input_tokens * stream.cache_write_share)
            uncached = input_tokens - cached - cache_write
            requests = int(total / stream.tokens_per_request) + 1
            yield (
                f"{prefix}{stream.project_id},{requests}.0,{stream.middle}"
                f"{input_tokens}.0,{output_tokens}.0,{cached}.0,{cache_write}.0,{uncached}.0,"
                f"{input_tokens}.0,{output_tokens}.0,{cached}.0{zeros}\n"
            )
        written += min(len(streams), rows - written)
        day += timedelta(days=1)


def write_usage_export(directory: Path, rows: int, seed: int = SEED) -> Path:
    """Write an OpenAI usage export with ``rows`` data rows into ``directory``; return its path."""
    days = -(-rows // len(_streams(seed)))
    last = FIRST_DAY + timedelta(days=max(days, 1) - 1)
    path = directory / f"completions_usage_{FIRST_DAY.isoformat()}_{last.isoformat()}_{rows}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        batch: list[str] = []
        for line in _usage_lines(rows, seed):
            batch.append(line)
            if len(batch) >= 50_000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    return path


# ---------------------------------------------------------------------------------------------
# The organization (PostgreSQL, the settings and Django: benchmarks._harness)
# ---------------------------------------------------------------------------------------------


def create_organization(slug: str) -> Any:
    """A fresh organization with teams and allocation rules on some of the export's projects and keys."""
    from finops.models import AllocationRule
    from finops.services import organization_create, team_get_or_create

    organization, created = organization_create(slug=slug)
    if not created:
        raise RuntimeError(f"organization {slug!r} already exists; the benchmark needs a fresh one")
    teams = [team_get_or_create(organization=organization, name=name) for name in TEAMS]
    for index, project_id in enumerate(project_ids()[:PROJECT_RULES]):
        AllocationRule.objects.create(
            organization=organization,
            team=teams[index % len(teams)],
            dimension=AllocationRule.Dimension.PROJECT,
            value=project_id,
            priority=10 + index,
        )
    AllocationRule.objects.create(
        organization=organization, team=teams[-1], dimension=AllocationRule.Dimension.MODEL, value="o3", priority=200
    )
    return organization


# ---------------------------------------------------------------------------------------------
# The two measurements
# ---------------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    seconds: float
    records: int
    rows_read: int
    summary: dict[str, Any]
    store_seconds: float  # upload_create's copy of the bytes under MEDIA_ROOT, with the SHA-256
    commit_seconds: float  # every COMMIT on Django's connection, mostly the ingest's (deferred FK checks)

    @property
    def task_seconds(self) -> float:
        """The ingest task's own clock: after claiming the upload, until just before its COMMIT."""
        return float(self.summary.get("duration_seconds", 0.0))


class _PhaseClock:
    """Times two phases without touching the app: wraps ``services._store_stream`` and the connection's commit."""

    def __init__(self) -> None:
        self.store = 0.0
        self.commit = 0.0

    def _timed(self, function: Any, phase: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(self, phase, getattr(self, phase) + time.perf_counter() - started)

        return wrapper

    def __enter__(self) -> _PhaseClock:
        from django.db import connection

        from ingest import services

        self._store_stream = getattr(services, "_store_stream", None)
        if self._store_stream is not None:
            services._store_stream = self._timed(self._store_stream, "store")
        connection.commit = self._timed(connection.commit, "commit")
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db import connection

        from ingest import services

        if self._store_stream is not None:
            services._store_stream = self._store_stream
        del connection.commit


def ingest_file(organization: Any, path: Path) -> IngestResult:
    """The real service path, end to end: upload_create (eager Celery runs the ingest) + upload_ingest."""
    from ingest.models import Upload
    from ingest.services import upload_create, upload_ingest

    with _PhaseClock() as clock:
        started = time.perf_counter()
        with path.open("rb") as source:
            upload = upload_create(organization=organization, source=source, filename=path.name)
        upload = upload_ingest(upload_id=upload.pk)
        finished = time.perf_counter()
    if upload.status != Upload.Status.SUCCEEDED:
        raise RuntimeError(f"ingest of {path.name} ended {upload.status}: {upload.errors[:3]}")
    return IngestResult(
        seconds=finished - started,
        records=int(upload.summary["records"]),
        rows_read=int(upload.summary["rows_read"]),
        summary=upload.summary,
        store_seconds=clock.store,
        commit_seconds=clock.commit,
    )


def copy_file(database_url: str, path: Path, table: str) -> float:
    """Seconds for a plain COPY of the CSV into a fresh 26-column table, streamed in 1 MiB chunks, + commit."""
    import psycopg

    columns = ", ".join(f"{name} {'text' if name in TEXT_COLUMNS else 'numeric'}" for name in HEADER)
    with psycopg.connect(database_url) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(f"CREATE TABLE {table} ({columns})")
        connection.commit()
        started = time.perf_counter()
        statement = f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)"
        with connection.cursor() as cursor, cursor.copy(statement) as copy, path.open("rb") as source:
            while chunk := source.read(COPY_CHUNK_BYTES):
                copy.write(chunk)
        connection.commit()
        return time.perf_counter() - started


def table_rows(database_url: str, table: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


def ledger_rows(organization: Any) -> int:
    from ingest.models import LedgerEntry

    return LedgerEntry.objects.filter(organization=organization).count()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _current_rss_mib() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 1024**2


def _vm_hwm_mib() -> float:
    """The peak RSS of this address space (VmHWM, Linux), a cross-check of ru_maxrss; 0 when unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure_memory_subprocess(rows: int, csv_path: Path, database_url: str) -> dict[str, float]:
    """RSS figures in MiB of a fresh process ingesting ``csv_path`` into a fresh organization."""
    env = {**os.environ, REUSE_DATABASE_ENV: database_url}
    # Linux carries ru_maxrss over fork and exec: a child started from this process (which has just
    # ingested a big file) would report at least this process's RSS. A small launcher process in
    # between starts the measured process from a small address space, so its peak is its own.
    launcher = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    command = [
        sys.executable,
        "-c",
        launcher,
        sys.executable,
        str(Path(__file__).resolve()),
        "--measure-memory-only",
        str(rows),
        "--csv",
        str(csv_path),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory subprocess failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    values: dict[str, float] = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.endswith("_mib"):
            values[name + "="] = float(value)
    if PEAK_PREFIX not in values or BASELINE_PREFIX not in values:
        raise RuntimeError(f"memory subprocess printed no RSS figures:\n{done.stdout}\n{done.stderr}")
    return values


def profile_ingest(organization: Any, path: Path, limit: int = 15) -> str:
    """cProfile of one ingest: top ``limit`` by cumulative time (the app's code and the libraries doing
    the work, leaving out the Celery/transaction call chain above it), then top ``limit`` by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    ingest_file(organization, path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(ingest|finops)/|psycopg|csv|json|decimal", limit)
    stats.sort_stats("tottime").print_stats(limit)
    return "\n".join(line for line in out.getvalue().splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def run_memory_only(rows: int, csv_path: Path | None) -> None:
    """Child mode: set up, ingest ``rows`` rows into a fresh organization, print baseline and peak RSS."""
    reuse_url = os.environ.get(REUSE_DATABASE_ENV)
    workdir = Path(tempfile.mkdtemp(prefix="tokencast-bench-mem-"))
    try:
        if reuse_url:
            attach_database(workdir, reuse_url)
        else:
            start_database(workdir)
        if csv_path is None:
            csv_path = write_usage_export(workdir, rows)
        organization = create_organization(f"bench-mem-{rows}-{os.getpid()}")
        print(f"{BASELINE_PREFIX}{_peak_rss_mib():.1f}", flush=True)
        print(f"current_rss_before_mib={_current_rss_mib():.1f}")
        result = ingest_file(organization, csv_path)
        print(f"{PEAK_PREFIX}{_peak_rss_mib():.1f}")
        print(f"vm_hwm_mib={_vm_hwm_mib():.1f}")
        print(f"current_rss_after_mib={_current_rss_mib():.1f}")
        print(f"rows={result.rows_read} records={result.records} seconds={result.seconds:.2f}")
    finally:
        if not reuse_url:
            stop_database(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def run_benchmark(rows: int, small_rows: int, profile: bool) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="tokencast-bench-"))
    try:
        started = time.perf_counter()
        database_url = start_database(workdir)  # the harness makes workdir readable by postgres
        print(f"PostgreSQL started, database migrated in {time.perf_counter() - started:.1f}s")

        exports = workdir / "exports"
        exports.mkdir()
        files: dict[int, Path] = {}
        for count in sorted({WARMUP_ROWS, small_rows, rows}):
            started = time.perf_counter()
            files[count] = write_usage_export(exports, count)
            size = files[count].stat().st_size / 1024**2
            print(f"generated {count:,} rows ({size:,.1f} MiB) in {time.perf_counter() - started:.1f}s")

        # Warm-up: imports, the price book and allocation queries, PostgreSQL's catalog caches.
        ingest_file(create_organization("bench-warmup"), files[WARMUP_ROWS])
        copy_file(database_url, files[WARMUP_ROWS], f"{COPY_TABLE}_warmup")

        organization = create_organization("bench-timed")
        ingest = ingest_file(organization, files[rows])
        copy_seconds = copy_file(database_url, files[rows], COPY_TABLE)
        copied = table_rows(database_url, COPY_TABLE)
        written = ledger_rows(organization)
        if written != ingest.records or copied != rows or ingest.rows_read != rows:
            raise RuntimeError(
                f"counts disagree: rows {rows}, read {ingest.rows_read}, records {ingest.records}, "
                f"ledger {written}, copied {copied}"
            )

        other = ingest.seconds - ingest.task_seconds - ingest.store_seconds - ingest.commit_seconds
        print(f"rows: {rows:,}")
        print(f"ingest (upload_create + upload_ingest): {ingest.seconds:.2f}s, {rows / ingest.seconds:,.0f} rows/s")
        print(
            f"  phases: store+hash {ingest.store_seconds:.2f}s, ingest task until COMMIT {ingest.task_seconds:.2f}s, "
            f"COMMITs {ingest.commit_seconds:.2f}s, rest (detect, queue, claim, summary) {other:.2f}s"
        )
        print(
            f"ledger records written: {written:,} ({written / rows:.2f} per row, "
            f"{written / ingest.seconds:,.0f} records/s; estimated cost {ingest.summary['records_cost_estimated']:,}, "
            f"unpriced {ingest.summary['records_unpriced']:,})"
        )
        print(f"COPY (plain 26-column table): {copy_seconds:.2f}s, {rows / copy_seconds:,.0f} rows/s")

        if profile:
            print(f"\ncProfile of the ingest of {small_rows:,} rows, top 15 by cumulative time:")
            print(profile_ingest(create_organization("bench-profile"), files[small_rows]))

        memory: dict[int, dict[str, float]] = {}
        for count in (small_rows, rows):
            memory[count] = measure_memory_subprocess(count, files[count], database_url)
        for count, figures in memory.items():
            before, after = figures.get("current_rss_before_mib=", 0.0), figures.get("current_rss_after_mib=", 0.0)
            print(
                f"peak RSS ingest {count:,} rows: {figures[PEAK_PREFIX]:,.1f} MiB (VmHWM "
                f"{figures.get('vm_hwm_mib=', 0.0):,.1f}; peak after setup, before the ingest "
                f"{figures[BASELINE_PREFIX]:,.1f}; current RSS before {before:,.1f}, after {after:,.1f})"
            )
        small_peak, big_peak = memory[small_rows][PEAK_PREFIX], memory[rows][PEAK_PREFIX]
        print(f"peak RSS ratio {rows:,} / {small_rows:,} rows: {big_peak / small_peak:.2f} (target <= 1.5)")
        print(f"ingest/COPY ratio: {ingest.seconds / copy_seconds:.2f} (target <= 3.0)")
    finally:
        stop_database(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, help=f"data rows of the timed file (default {DEFAULT_ROWS:,})")
    parser.add_argument("--small-rows", type=int, help=f"rows of the small memory run (default {DEFAULT_SMALL_ROWS:,})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_ROWS:,} and {QUICK_SMALL_ROWS:,} rows unless --rows / --small-rows are given",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile the ingest of --small-rows rows")
    parser.add_argument("--measure-memory-only", type=int, metavar="N", help="child mode: ingest N rows, print RSS")
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)  # child mode: the file to ingest
    args = parser.parse_args(argv)
    # SIGTERM (a CI time-out, kill) unwinds through the finally blocks that stop PostgreSQL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.measure_memory_only is not None:
        run_memory_only(args.measure_memory_only, args.csv)
    else:
        rows = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
        small_rows = args.small_rows or (QUICK_SMALL_ROWS if args.quick else DEFAULT_SMALL_ROWS)
        run_benchmark(rows, small_rows, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
