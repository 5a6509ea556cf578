"""The API's error body, built for exact assertions: ``assert response.json() == invalid("team", "no team")``."""

from __future__ import annotations

from typing import Any


def refused(detail: str, code: str) -> dict[str, Any]:
    """An error of the whole request (403, 404, 429 ...)."""
    return {"detail": detail, "code": code, "errors": []}


def invalid(field: str | None, message: str, code: str = "invalid") -> dict[str, Any]:
    """A 400 with one problem, of ``field`` (None: of the whole request)."""
    return {
        "detail": f"{field}: {message}" if field else message,
        "code": "invalid",
        "errors": [{"field": field, "message": message, "code": code}],
    }
