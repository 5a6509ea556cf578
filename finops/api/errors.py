"""One JSON error shape for the whole API, whatever raised the error.

Every 4xx and 5xx answer under ``/api/`` is::

    {"detail": "team: not a team of acme", "code": "invalid",
     "errors": [{"field": "team", "message": "not a team of acme", "code": "invalid"}]}

``detail`` is a sentence for people, ``code`` a stable token for scripts, ``errors`` one entry per problem
(``field`` is null for a problem of the whole request; a nested field is a dotted path such as
``thresholds.0.at``). Django's ``ValidationError`` and ``PermissionDenied`` raised by services become 400 and
403, deleting something still in use (``ProtectedError``) 409. Errors always render as JSON, also when the
request asked for a CSV or Excel export.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

# Keys under which DRF and Django put problems of the whole request rather than of one field.
NON_FIELD_KEYS = frozenset({api_settings.NON_FIELD_ERRORS_KEY, "__all__", "detail"})
API_PREFIX = "/api/"


class InputRejected(exceptions.APIException):
    """A 400 that carries its own ``errors`` entries (e.g. row-numbered problems of an uploaded file)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]], code: str = "invalid") -> None:
        super().__init__(detail, code)
        self.errors = errors


class Conflict(exceptions.APIException):
    """409: the object is still in use (e.g. a team that budgets point to)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "the object is still in use"
    default_code = "conflict"


def _in_use(error: ProtectedError | RestrictedError) -> Conflict:
    objects = list(error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects)
    if not objects:
        return Conflict()
    kind = objects[0]._meta.verbose_name_plural
    return Conflict(
        f"still in use by {len(objects)} {kind} ({', '.join(str(item) for item in objects[:3])}); "
        "change or delete those first"
    )


class ErrorItemSerializer(serializers.Serializer[dict[str, Any]]):
    field = serializers.CharField(allow_null=True, help_text="The input field, a dotted path, or null.")
    message = serializers.CharField()
    code = serializers.CharField()


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    """The body of every error answer (documented for every operation)."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    code = serializers.CharField(help_text="A stable token: invalid, not_found, permission_denied, throttled ...")
    errors = ErrorItemSerializer(many=True)  # type: ignore[assignment]  # a field; shadows Serializer.errors for mypy


def error_body(*, detail: str, code: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The error shape, for code that answers an error without raising."""
    return {"detail": detail, "code": code, "errors": errors or []}


def _problems(data: Any, path: str | None) -> list[dict[str, Any]]:
    """Every message of a DRF error structure (dicts of lists of ErrorDetail, nested) with its dotted path."""
    if isinstance(data, Mapping):
        found = []
        for key, value in data.items():
            key = str(key)
            child = path if key in NON_FIELD_KEYS else (f"{path}.{key}" if path else key)
            found.extend(_problems(value, child))
        return found
    if isinstance(data, list | tuple):
        found = []
        for index, value in enumerate(data):
            nested = isinstance(value, Mapping | list | tuple)
            found.extend(_problems(value, (f"{path}.{index}" if path else str(index)) if nested else path))
        return found
    code = getattr(data, "code", None) or "invalid"
    return [{"field": path, "message": str(data), "code": str(code)}]


def _summary(problems: list[dict[str, Any]], fallback: str) -> str:
    if not problems:
        return fallback
    return "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems)


def _shape(exc: exceptions.APIException, data: Any) -> dict[str, Any]:
    if isinstance(exc, InputRejected):
        return error_body(detail=str(exc.detail), code=str(getattr(exc.detail, "code", "invalid")), errors=exc.errors)
    if isinstance(exc, exceptions.ValidationError):
        problems = _problems(data, None)
        return error_body(detail=_summary(problems, "Invalid input."), code="invalid", errors=problems)
    detail = data.get("detail", data) if isinstance(data, Mapping) else data
    code = getattr(detail, "code", None) or exc.default_code
    return error_body(detail=str(detail), code=str(code))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with Django's ValidationError accepted and every body in the one error shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = _in_use(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django answers 500 through ``server_error`` below
    if not isinstance(exc, exceptions.APIException):
        exc = exceptions.NotFound() if response.status_code == 404 else exceptions.PermissionDenied()
    response.data = _shape(exc, response.data)
    request = context.get("request")
    if request is not None:
        # An export (?format=csv) that fails answers JSON: the renderer is chosen before the view runs.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON in the error shape under /api/, Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body(detail=f"no such endpoint: {request.path}", code="not_found"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: JSON in the error shape under /api/, Django's page elsewhere (the error is logged by Django)."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body(detail="the server failed to answer; the error was logged", code="server_error"), status=500
        )
    return defaults.server_error(request)
