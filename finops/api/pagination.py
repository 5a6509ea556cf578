"""Pagination of every list endpoint: ``?limit=`` and ``?offset=``, at most 1000 items a page."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

EXPORT_FORMATS = frozenset({"csv", "xlsx"})


class ApiPagination(LimitOffsetPagination):
    """LimitOffset with a cap; an export (``?format=csv``/``xlsx``) without a limit takes the largest page."""

    max_limit = 1000

    def get_limit(self, request: Request) -> int | None:
        limit = super().get_limit(request)
        renderer = getattr(request, "accepted_renderer", None)
        if self.limit_query_param not in request.query_params and getattr(renderer, "format", None) in EXPORT_FORMATS:
            return self.max_limit
        return limit
