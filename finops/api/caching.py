"""Rendered API answers cached under the version of the data they came from.

The heavy reads (the latest forecast, a budget's status, the recommendations) are the same bytes for everyone
asking the same question until their data changes. Each view names its data's version (a run's id and finish
time, the organization's usage version, its budgets' and recommendations' last change, the FX table...); the
answer is cached under the caller, the full path and that version, so no answer outlives its data and no
caller ever receives another caller's answer (unless the view names an ``audience`` that shares it). Only JSON
answers of GET requests with status 200 are cached; exports (``?format=csv``/``xlsx``) and the browsable API are
always built afresh. Answers of 1 KiB or more are also kept gzipped, and sent so to clients that accept it (browsers
and HTTP libraries do). Without a shared cache (``CACHE_URL``) each process keeps its own.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, QuerySet, Sum
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers
from rest_framework.request import Request
from rest_framework.response import Response

from finops.models import FxRate

CACHE_SECONDS = 600
# Larger answers (a day x model x team breakdown of years can run to many megabytes) are built afresh each time.
MAX_CACHED_BYTES = 4 * 1024 * 1024
GZIP_MIN_BYTES = 1024  # smaller answers are sent as they are
_ACCEPTS_GZIP = re.compile(r"\bgzip\b")  # as django.middleware.gzip reads Accept-Encoding
_computing: dict[str, threading.Lock] = {}  # per cache key being built in this process
_computing_guard = threading.Lock()


def _cacheable(request: Request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return request.method == "GET" and renderer is not None and renderer.format == "json"


@contextmanager
def _one_builder(key: str) -> Iterator[None]:
    """Threads of this process asking the same uncached question wait for the first one's answer: after an ingest,
    twenty dashboards asking at once would otherwise each build it (in ``benchmarks/api.py`` that took a cold
    usage answer from 1 s to 6 s)."""
    with _computing_guard:
        lock = _computing.setdefault(key, threading.Lock())
    try:
        with lock:
            yield
    finally:
        with _computing_guard:
            _computing.pop(key, None)


def cached_answer(
    request: Request,
    *,
    version: str | None,
    build: Callable[[], Response],
    audience: str | None = None,
    seconds: int = CACHE_SECONDS,
) -> HttpResponseBase:
    """The cached JSON answer to this GET under ``version``, else ``build()``'s, rendered once and cached.

    Answers are kept per caller; ``audience`` (e.g. ``"organization:7"``) shares one answer between every caller
    the view has already let in, when the answer depends on nothing of the caller's but what ``audience`` names."""
    if version is None or not _cacheable(request):
        return build()
    question = repr((audience or f"user:{request.user.pk}", request.get_full_path(), version))
    key = "api-answer:" + hashlib.sha256(question.encode()).hexdigest()
    bodies = cache.get(key)
    if bodies is None:
        with _one_builder(key):
            bodies = cache.get(key)
            if bodies is None:
                response = build()
                if response.status_code != 200:
                    return response
                bodies = _bodies(_rendered(request, response))
                if len(bodies[0]) <= MAX_CACHED_BYTES:
                    cache.set(key, bodies, seconds)
    return _answer(request, *bodies)


def _bodies(body: bytes) -> tuple[bytes, bytes | None]:
    """The answer, and gzipped once here when that is worth it (a forecast's levels run to megabytes of JSON that
    compress tenfold): every later request that accepts gzip is sent the smaller bytes without compressing again."""
    return body, (gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None)


def _answer(request: Request, body: bytes, gzipped: bytes | None) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    if gzipped is not None:
        patch_vary_headers(response, ("Accept-Encoding",))
        if _ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            response.content = gzipped
            response["Content-Encoding"] = "gzip"
    return response


def _rendered(request: Request, response: Response) -> bytes:
    response.accepted_renderer = request.accepted_renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = {"request": request}  # type: ignore[attr-defined]
    response.render()
    return bytes(response.content)


# Stands for the id in a version query compiled once (``version_row``); no row has a negative id.
_PLACEHOLDER_ID = -918_273_645


@functools.cache
def _compiled(build: Callable[[Any], QuerySet[Any]]) -> tuple[str, tuple[Any, ...]]:
    sql, params = build(_PLACEHOLDER_ID).query.sql_with_params()
    if _PLACEHOLDER_ID not in params:
        raise ValueError(f"{build.__name__} does not filter on the id it is given")
    return sql, tuple(params)


def version_row(build: Callable[[Any], QuerySet[Any]], object_id: int) -> tuple[Any, ...] | None:
    """The first row of ``build(object_id)`` (a ``values_list`` query), as the database gives it (no field
    converters: what a version string needs), its SQL compiled by the ORM once per process.

    For the versions read on every request to a polled endpoint: compiling a query with a few subqueries costs the
    ORM more than the database takes to answer it. ``build`` is a module-level function of the id."""
    sql, params = _compiled(build)
    with connection.cursor() as cursor:
        cursor.execute(sql, [object_id if param == _PLACEHOLDER_ID else param for param in params])
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def fx_version() -> str:
    """Changes whenever an exchange rate is added, edited or removed (answers converted at dated rates)."""
    latest = FxRate.objects.aggregate(count=Count("pk"), last=Max("pk"), total=Sum("rate"))
    return f"fx:{latest['count']}:{latest['last']}:{latest['total']}"
