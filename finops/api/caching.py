"""Rendered API answers cached under the version of the data they came from.

The heavy reads (the latest forecast, a budget's status, the recommendations) are the same bytes for everyone
asking the same question until their data changes. Each view names its data's version (a run's id and finish
time, the organization's usage version, its budgets' and recommendations' last change, the FX table...); the
answer is cached under the caller, the full path and that version, so no answer outlives its data and no
caller ever receives another caller's answer. Only JSON answers of GET requests with status 200 are cached;
exports (``?format=csv``/``xlsx``) and the browsable API are always built afresh. Without a shared cache
(``CACHE_URL``) each process keeps its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache
from django.db.models import Count, Max, Sum
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from finops.models import FxRate

CACHE_SECONDS = 600


def _cacheable(request: Request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return request.method == "GET" and renderer is not None and renderer.format == "json"


def cached_answer(request: Request, *, version: str | None, build: Callable[[], Response]) -> HttpResponseBase:
    """The cached JSON answer to this GET under ``version``, else ``build()``'s, rendered once and cached."""
    if version is None or not _cacheable(request):
        return build()
    question = repr((request.user.pk, request.get_full_path(), version))
    key = "api-answer:" + hashlib.sha256(question.encode()).hexdigest()
    body = cache.get(key)
    if body is not None:
        return HttpResponse(body, content_type="application/json")
    response = build()
    if response.status_code != 200:
        return response
    response.accepted_renderer = request.accepted_renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = {"request": request}  # type: ignore[attr-defined]
    response.render()
    cache.set(key, response.content, CACHE_SECONDS)
    return HttpResponse(response.content, content_type="application/json")


def fx_version() -> str:
    """Changes whenever an exchange rate is added, edited or removed (answers converted at dated rates)."""
    latest = FxRate.objects.aggregate(count=Count("pk"), last=Max("pk"), total=Sum("rate"))
    return f"fx:{latest['count']}:{latest['last']}:{latest['total']}"
