"""Pytest plugin that starts the real services the suite runs against, on loopback.

Loaded with ``-p tests.harness`` (see pyproject.toml) so it runs before pytest-django reads the
settings: it starts a throwaway PostgreSQL cluster and a throwaway Redis server on free loopback
ports, points DATABASE_URL and CELERY_BROKER_URL at them, and stops them when the run ends.
PostgreSQL's initdb refuses to run as root, so as root the cluster runs as the ``postgres`` user.
Set TOKENCAST_TEST_DATABASE_URL / TOKENCAST_TEST_REDIS_URL to use servers you already run.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

_started: list[subprocess.Popen[bytes]] = []
_cleanups: list[callable] = []  # type: ignore[valid-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on 127.0.0.1:{port} within {timeout:.0f}s")


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed. On Debian/Ubuntu: apt-get install postgresql "
            "(make test does this when run as root)"
        )
    return found[-1]


def start_postgres(workdir: Path) -> str:
    """Start a throwaway PostgreSQL cluster with trust auth on loopback; return its URL."""
    data_dir = workdir / "pgdata"
    socket_dir = workdir / "pgsock"
    socket_dir.mkdir()
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    user = pwd.getpwuid(os.geteuid()).pw_name
    if as_root:
        user = "postgres"
        prefix = ["runuser", "-u", "postgres", "--"]
        workdir.chmod(0o755)
        shutil.chown(socket_dir, user="postgres")
        data_dir.mkdir()
        shutil.chown(data_dir, user="postgres")
    subprocess.run(
        [*prefix, _postgres_bin("initdb"), "-D", str(data_dir), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [
            *prefix,
            _postgres_bin("pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-l",
            str(socket_dir / "postgres.log"),
            "-w",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    _cleanups.append(
        lambda: subprocess.run(
            [*prefix, _postgres_bin("pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    _wait_for_port(port, timeout=30, what="PostgreSQL")
    return f"postgres://{user}@127.0.0.1:{port}/tokencast"


def start_redis(workdir: Path) -> str:
    """Start a throwaway Redis server (no persistence) on loopback; return its URL."""
    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError("redis-server is not installed. On Debian/Ubuntu: apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(process)
    _wait_for_port(port, timeout=15, what="Redis")
    return f"redis://127.0.0.1:{port}/0"


def celery_worker_command(*, queues: str, concurrency: int, hostname: str) -> list[str]:
    """The command line of a real prefork ``celery worker`` of this project (tests and benchmarks start one)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "finops",
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--hostname",
        hostname,
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]


def _stop_everything() -> None:
    while _started:
        process = _started.pop()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    while _cleanups:
        _cleanups.pop()()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # Servers are stopped however the run ends: normally, on Ctrl-C, or on SIGTERM (a CI time-out).
    atexit.register(_stop_everything)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="tokencast-test-"))
    _cleanups.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
    os.environ["TOKENCAST_VAR_DIR"] = str(workdir / "var")
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["DATABASE_URL"] = os.environ.get("TOKENCAST_TEST_DATABASE_URL") or start_postgres(workdir)
    os.environ["CELERY_BROKER_URL"] = os.environ.get("TOKENCAST_TEST_REDIS_URL") or start_redis(workdir)
    os.environ.pop("EMAIL_URL", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_everything()
