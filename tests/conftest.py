"""Shared fixtures: users and organizations, API clients, sample files, and a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from finops.celery import app as celery_app
from finops.models import Role
from tests.factories import MembershipFactory, OrganizationFactory
from tests.harness import celery_worker_command

# Property tests draw the same examples on every run, so a CI run fails only when the code changed.
hypothesis_settings.register_profile("tokencast", derandomize=True, database=None)
hypothesis_settings.load_profile("tokencast")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
OPENAI_USAGE_SAMPLE = FIXTURES / "openai" / "completions_usage_2026-08-01_2026-08-31.csv"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: no cached API answer or throttle count leaks between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def organization():
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def analyst(organization):
    return MembershipFactory(organization=organization, role=Role.ANALYST).user


@pytest.fixture
def viewer(organization):
    return MembershipFactory(organization=organization, role=Role.VIEWER).user


@pytest.fixture
def outsider():
    return MembershipFactory(organization=OrganizationFactory(slug="other"), role=Role.ADMIN).user


@pytest.fixture
def api_client_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def openai_sample() -> Path:
    return OPENAI_USAGE_SAMPLE


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on the harness's Redis, using the test database."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "finops.settings.base",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    command = celery_worker_command(
        queues="ingest,forecasting,default", concurrency=2, hostname=f"test-{os.getpid()}@%h"
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        if celery_app.control.ping(timeout=0.5):
            break
    else:
        process.kill()
        raise RuntimeError(f"celery worker did not answer a ping within 90s:\n{log_path.read_text()[-3000:]}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def live_worker(celery_worker_process, transactional_db) -> Iterator[subprocess.Popen[bytes]]:
    """Send tasks to the real worker instead of running them in-process, for one test."""
    celery_app.conf.task_always_eager = False
    try:
        yield celery_worker_process
    finally:
        celery_app.conf.task_always_eager = True


@pytest.fixture
def price_catalog(transactional_db) -> None:
    """Transactional tests flush the tables, migration-seeded prices included: load them again."""
    from finops.services import price_catalog_load

    price_catalog_load()
