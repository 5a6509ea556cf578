"""Shared set-up of the benchmarks: a throwaway PostgreSQL (and Redis), the environment, Django.

The servers come from the test harness (``tests.harness.start_postgres`` / ``start_redis``), on free
loopback ports under a temporary directory; ``stop_database`` stops every server the harness started.
Run as scripts, the benchmarks put the repository root on ``sys.path`` before importing this module.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path

DATABASE_NAME = "tokencast"


def set_environment(workdir: Path, database_url: str, *, broker_url: str | None = None) -> None:
    """Point the settings at the benchmark's servers and temporary directories (before Django is imported).

    Without ``broker_url`` Celery runs eagerly in process (no broker); with it, tasks go to that Redis and
    real workers started with this environment run them.
    """
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["TOKENCAST_VAR_DIR"] = str(workdir / "var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "finops.settings.base"
    if broker_url is None:
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
        os.environ.pop("CELERY_BROKER_URL", None)  # eager, in process: no broker
    else:
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
        os.environ["CELERY_BROKER_URL"] = broker_url
    # The benchmarks start their forecast runs themselves.
    os.environ["FORECAST_REFRESH_AFTER_INGEST"] = "false"
    # Like a production worker: DEBUG off (no query log), with a throwaway key.
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    # A production start needs ALLOWED_HOSTS too: the loopback names and the Django test client's host.
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")


def server_url(database_url: str, database: str) -> str:
    """``database_url`` with its database name replaced by ``database``."""
    return database_url.rsplit("/", 1)[0] + f"/{database}"


def start_database(workdir: Path, *, broker_url: str | None = None) -> str:
    """Start PostgreSQL, create the database, set up Django and migrate; return the database URL."""
    import psycopg

    from tests import harness

    database_url = harness.start_postgres(workdir)
    with psycopg.connect(server_url(database_url, "postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {DATABASE_NAME}")
    set_environment(workdir, database_url, broker_url=broker_url)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return database_url


def start_redis(workdir: Path) -> str:
    """Start a throwaway Redis server (no persistence) in ``workdir``; ``stop_database`` stops it too."""
    from tests import harness

    return harness.start_redis(workdir)


def attach_database(workdir: Path, database_url: str) -> None:
    """Use an already migrated database (the parent's): just set up Django."""
    set_environment(workdir, database_url)
    import django

    django.setup()


def stop_database(workdir: Path) -> None:
    """Close Django's connections, stop the servers the harness started (PostgreSQL in ``workdir``, Redis),
    and make sure the postmaster is gone (SIGQUIT, then SIGKILL, by its pid) before the directory is removed."""
    from tests import harness

    if "django" in sys.modules:
        try:
            from django.db import connections

            connections.close_all()
        except Exception as error:  # an interrupted COPY or transaction: the server stop ends it anyway
            print(f"closing the database connections failed: {error}", file=sys.stderr)
    pid_file = workdir / "pgdata" / "postmaster.pid"
    try:
        postmaster = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        postmaster = None
    harness._stop_everything()
    if postmaster is None:
        return
    for stop_signal in (None, signal.SIGQUIT, signal.SIGKILL):
        if stop_signal is not None:
            try:
                os.kill(postmaster, stop_signal)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(postmaster, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
    print(f"PostgreSQL (pid {postmaster}) did not stop; its data is in {workdir}", file=sys.stderr)
