"""Smoke tests of the benchmark scripts: each script of ``benchmarks/`` runs in its quickest mode, as a subprocess,
and must exit 0 and print its figures.

The benchmarks are run by hand for their numbers (``benchmarks/README.md``); these tests only make sure none of
them breaks silently when the code under it changes (as ``forecast.py`` did when the ledger became a view). The
figures are checked for their presence and form, not their values: a quick run's timings say nothing.

Each benchmark starts its own PostgreSQL (and Redis and Celery worker, for ``forecast.py``) through
``benchmarks/_harness.py`` on free loopback ports in its own temporary directory, next to the servers this test
session runs on. It gets this process's environment without the variables that point the settings at this
session's servers and directories (``DATABASE_URL``, ``CELERY_BROKER_URL``, ``MEDIA_ROOT``, ...,
``DJANGO_SETTINGS_MODULE``, which pytest-django sets to the test settings): the benchmark sets its own. On a
time-out the benchmark gets SIGTERM first, on which it stops its servers and removes its directory.

Marked ``benchmark`` (a few minutes in all): ``pytest -m "not benchmark"`` leaves them out.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
SETTINGS = REPO / "finops" / "settings" / "base.py"
TERM_GRACE_SECONDS = 60  # after SIGTERM on a time-out, for the benchmark to stop its servers

# Variables that carry this test session's set-up into a child: the harness's servers and directories, pytest's
# and pytest-django's own. With the variables the settings read (parsed from the settings module, below), they are
# left out of a benchmark's environment.
SESSION_VARIABLES = frozenset(
    {
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_CONFIGURATION",
        "TOKENCAST_TEST_DATABASE_URL",
        "TOKENCAST_TEST_REDIS_URL",
        "PYTEST_CURRENT_TEST",
        "PYTEST_ADDOPTS",
        "PYTEST_VERSION",
    }
)
SESSION_PREFIXES = ("PYTEST_", "DJANGO_", "CELERY_", "TOKENCAST_")


@dataclass(frozen=True)
class Benchmark:
    script: str
    args: tuple[str, ...]
    figures: tuple[str, ...]  # regular expressions, each must match a line of the output
    last_line: str  # a regular expression the last line of the output must match; its group 1 a positive figure
    timeout: int  # seconds; a quick run takes a fraction of it on 2 cores


FIGURE = r"\d+\.\d+"
CASES = [
    Benchmark(
        "ingest.py",
        ("--quick",),
        figures=(
            rf"^ingest \(upload_create \+ upload_ingest\): {FIGURE}s, [\d,]+ rows/s$",
            rf"^COPY \(plain 26-column table\): {FIGURE}s",
            r"^ledger records written: [\d,]+ ",
            rf"^peak RSS ratio [\d,]+ / [\d,]+ rows: {FIGURE} \(target <= 1\.5\)$",
        ),
        last_line=rf"^ingest/COPY ratio: ({FIGURE}) \(target <= 3\.0\)$",
        timeout=300,
    ),
    Benchmark(
        "forecast.py",
        ("--quick",),
        figures=(
            rf"^backtest \+ model selection pass \(\d+ series from \d+ leaves, workers 2\): {FIGURE}s",
            rf"^service refresh after the next day's usage.*: {FIGURE}s, {FIGURE} series/s",
            rf"^refresh refitting every Prophet .*: {FIGURE}s",
            rf"^ +\d+ \( *\d+\) x 1 -> +{FIGURE}s",
            rf"^default Prophet loop \(\d+ leaf series, .*\): {FIGURE}s",
            rf"^MASE on the 90-day holdout, .*: service {FIGURE} \({FIGURE}, \d+ series\), "
            rf"default Prophet {FIGURE} \({FIGURE}, \d+ series\)",
        ),
        last_line=rf"^prophet-loop/service ratio: ({FIGURE}) \(target >= 4\)$",
        timeout=420,
    ),
    Benchmark(
        "accuracy.py",
        ("--quick",),
        figures=(
            r"^ +bike_sharing cut-off \d{4}-\d\d-\d\d .*: chose \w+, service \d",
            rf"^average +{FIGURE} +{FIGURE}",
        ),
        last_line=rf"^service MASE ({FIGURE}) vs best baseline {FIGURE} \(.+\); service 80% coverage {FIGURE}$",
        timeout=300,
    ),
    # The in-domain backtest on whole synthetic organizations (benchmarks/orgs.py): its run must succeed and its
    # tables must score the service and default Prophet.
    Benchmark(
        "org_backtest.py",
        ("--quick",),
        figures=(
            rf"^  forecast run succeeded in {FIGURE}s: \d+ series",
            r"^    service +\| +\d+\.\d%",
            r"^    default Prophet +\| +\d+\.\d%",
        ),
        last_line=r"^wall time \d+s for (\d+) cut-offs$",
        timeout=420,
    ),
    # The read API (benchmarks/api.py): gunicorn serves every endpoint to 20 clients; the rollup agrees with the
    # ledger; --json puts the figures on the last line.
    Benchmark(
        "api.py",
        ("--quick", "--json"),
        figures=(
            rf"^rollup refresh of bench \(whole organization\): {FIGURE}s, [\d,]+ rows .* equal the ledger's$",
            r"^usage by month x team in process \([\d,]+ groups, tokens and records equal\): .* ratio [\d,]+\.\d$",
            *(
                rf"^{endpoint} +{FIGURE} +{FIGURE} +{FIGURE} +{FIGURE} +{FIGURE} +{FIGURE} +0 "
                for endpoint in (
                    "baseline_organizations",
                    "usage_month_team",
                    "usage_day_model",
                    "forecast_latest",
                    "budget_status",
                    "recommendations",
                )
            ),
        ),
        last_line=r'^\{.*"usage_month_team": \{"p50_ms": [\d.]+, "p95_ms": (\d+\.\d+), "rps": \d+\.\d+',
        timeout=420,
    ),
]


def settings_variables() -> set[str]:
    """The environment variables ``finops/settings/base.py`` reads (``env("NAME")``, ``env.bool("NAME")``, ...)."""
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", SETTINGS.read_text()))


def benchmark_environment() -> dict[str, str]:
    """This process's environment without what points at this session's servers, directories and settings."""
    dropped = settings_variables() | SESSION_VARIABLES
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in dropped and not name.startswith(SESSION_PREFIXES)
    }
    environment["PYTHONUNBUFFERED"] = "1"  # the output up to a failure or a time-out is all there
    return environment


def run_benchmark(case: Benchmark) -> tuple[int, str]:
    """Run the script; return its exit code and output (stdout and stderr). On a time-out: SIGTERM, then SIGKILL."""
    process = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / case.script), *case.args],
        cwd=REPO,
        env=benchmark_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a Ctrl-C of the test run reaches pytest, which ends the benchmark below
    )
    try:
        output, _ = process.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        output = _stop(process)
        raise AssertionError(
            f"{case.script} {' '.join(case.args)} did not finish within {case.timeout}s:\n{_tail(output)}"
        ) from None
    except BaseException:  # Ctrl-C, or the test session ending: the benchmark must not outlive it
        _stop(process)
        raise
    return process.returncode, output


def _stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM (the benchmark stops its servers and removes its directory), then SIGKILL to its process group."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=TERM_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output or ""


def _tail(output: str | None, lines: int = 60) -> str:
    return "\n".join((output or "").splitlines()[-lines:])


def test_benchmark_environment_leaves_out_the_session_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://session/db")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://session")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "finops.settings.test")
    monkeypatch.setenv("TOKENCAST_VAR_DIR", "/tmp/session/var")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    environment = benchmark_environment()
    assert {"DATABASE_URL", "MEDIA_ROOT", "SECRET_KEY", "DEBUG"} <= settings_variables()
    assert not {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "TOKENCAST_VAR_DIR"} & environment.keys()
    assert environment["PATH"] == "/usr/bin:/bin"


@pytest.mark.benchmark
@pytest.mark.parametrize("case", CASES, ids=[case.script.removesuffix(".py") for case in CASES])
def test_benchmark_runs_and_prints_its_figures(case: Benchmark) -> None:
    script = BENCHMARKS / case.script
    assert script.exists(), f"benchmarks/{case.script} does not exist"
    returncode, output = run_benchmark(case)
    assert returncode == 0, f"{case.script} {' '.join(case.args)} exited with {returncode}:\n{_tail(output)}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, f"{case.script} printed nothing"
    for figure in case.figures:
        assert any(re.search(figure, line) for line in lines), f"no line matches {figure!r}:\n{_tail(output)}"
    last = re.search(case.last_line, lines[-1])
    assert last, f"the last line {lines[-1]!r} does not match {case.last_line!r}"
    assert float(last.group(1)) > 0, f"the last figure of {case.script} is not positive: {lines[-1]!r}"
