"""Request throttles. Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (settings, with environment
overrides) and are read when a request arrives, so a changed setting applies without a restart of the class.

Every endpoint has the per-user and the anonymous throttle; logging in, queueing a forecast and uploading a file
have a tighter scope of their own (per user, or per client address for an anonymous caller).
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

LOGIN_SCOPE = "login"
FORECAST_CREATE_SCOPE = "forecast_create"
UPLOAD_CREATE_SCOPE = "upload_create"


def _rate(scope: str | None) -> str | None:
    rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
    return rates.get(scope) if scope else None


class UserThrottle(UserRateThrottle):
    """Requests of one signed-in user over all endpoints."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)


class AnonThrottle(AnonRateThrottle):
    """Requests of one anonymous client address over all endpoints."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)


class ScopedThrottle(ScopedRateThrottle):
    """Requests to the endpoints sharing the view's ``throttle_scope``, per user or per anonymous address."""

    def get_rate(self) -> str | None:
        return _rate(self.scope)


class CreateThrottle(ScopedThrottle):
    """The view's ``throttle_scope`` on its ``create`` action only (a viewset's reads keep the general rates)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        if getattr(view, "action", None) != "create":
            return True
        return super().allow_request(request, view)
