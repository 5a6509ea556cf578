"""Health endpoints for process managers, load balancers and Kubernetes probes.

``/healthz`` (liveness): the process answers; it touches nothing else, so a database outage never gets healthy web
processes restarted. ``/readyz`` (readiness): the database answers a query, the Celery broker accepts a
connection within ``BROKER_TIMEOUT_SECONDS``, and no migration is left to apply; 200 with each check, else 503
with the failing checks' reasons. Both are plain Django views: no authentication, no throttling, not in the
OpenAPI schema.

``ProbeMiddleware`` answers both paths ahead of the rest of the middleware. Probes reach a pod by its IP, so their
Host header is an address no ``ALLOWED_HOSTS`` lists; Django would answer 400 before the view. The answers do not
depend on the Host header, so skipping that check here is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from finops.celery import app as celery_app

logger = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/healthz", "/readyz"})
# Readiness probes have a timeout of their own (deploy/k8s: 5 s): the broker check must answer well within it.
BROKER_TIMEOUT_SECONDS = 2.0

Check = dict[str, Any]


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, broker and migrations; 503 naming the reason when any of them fails."""
    database = _timed(check_database)
    checks = {
        "database": database,
        "broker": _timed(check_broker),
        "migrations": _timed(check_migrations) if database["ok"] else _skipped("the database is unreachable"),
    }
    ready = all(check["ok"] for check in checks.values())
    if not ready:  # a failed probe shows only its status code; the reason goes to the log
        reasons = "; ".join(f"{name}: {check['error']}" for name, check in checks.items() if not check["ok"])
        logger.warning("not ready: %s", reasons)
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def check_database() -> Check:
    """The default database answers ``SELECT 1``."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_broker() -> Check:
    """A connection to the Celery broker opens within ``BROKER_TIMEOUT_SECONDS``."""
    url = celery_app.conf.broker_write_url
    if url.startswith("memory://"):
        return {"ok": True, "detail": "no broker configured: tasks run in-process"}
    timeout = BROKER_TIMEOUT_SECONDS
    socket_timeouts = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    with celery_app.connection_for_write(url, connect_timeout=timeout, transport_options=socket_timeouts) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    return {"ok": True}


def check_migrations() -> Check:
    """Every migration of the code that runs is applied to the database."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        unapplied = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
        return {"ok": False, "error": f"{len(unapplied)} unapplied migration(s): {', '.join(unapplied)}"}
    return {"ok": True}


def _timed(check: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as error:  # any failure is the answer, not a 500: name it
        result = {"ok": False, "error": f"{type(error).__name__}: {error}".strip()}
    return {**result, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _skipped(reason: str) -> Check:
    return {"ok": False, "error": f"not checked: {reason}"}


class ProbeMiddleware:
    """Answers ``PROBE_PATHS`` with their views (routed in ``finops.urls``) before the Host header is validated.

    Placed right after ``RequestIdMiddleware`` and before ``CommonMiddleware``, which is where Django compares
    the Host header with ``ALLOWED_HOSTS``; the probes also skip sessions, CSRF and authentication.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBE_PATHS:
            return resolve(request.path_info).func(request)
        return self.get_response(request)
