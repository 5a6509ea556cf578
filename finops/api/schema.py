"""OpenAPI generation shared by every endpoint (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``).

On top of drf-spectacular's AutoSchema: reads document the ``format`` parameter and their CSV and Excel answers
(as files); writes answer JSON only; every operation documents the error shape for the errors any endpoint can
answer (bad input, not signed in, no permission, not found, throttled), deletes also 409 (still in use) and
writes 415 (a body of another content type).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from finops.api.errors import ErrorSerializer
from finops.api.renderers import CSVRenderer, XLSXRenderer

EXPORT_RENDERERS = (CSVRenderer, XLSXRenderer)
ERROR_RESPONSES = {
    "400": "The input is invalid; ``errors`` names each field.",
    "401": "Not signed in (token or session).",
    "403": "Signed in, but the role in the organization is too low.",
    "404": "No such object among the caller's organizations.",
    "429": "Too many requests; retry after the ``Retry-After`` seconds.",
}
FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv", "xlsx"],
    description="Answer as JSON (default), or as a CSV or Excel file of the rows (a page of at most 1000).",
)
_BINARY = {"type": "string", "format": "binary"}


class ApiAutoSchema(AutoSchema):
    def _is_read(self) -> bool:
        return self.method in ("GET", "HEAD")

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._is_read():
            parameters.append(FORMAT_PARAMETER)
        return parameters

    def map_renderers(self, attribute: str) -> list[Any]:
        found = super().map_renderers(attribute)
        if self._is_read():
            return found
        exports = {getattr(renderer, attribute) for renderer in EXPORT_RENDERERS}
        return [value for value in found if value not in exports]

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        exports = {renderer.media_type for renderer in EXPORT_RENDERERS}
        for code, response in responses.items():
            if str(code).startswith("2"):
                for media_type, content in response.get("content", {}).items():
                    if media_type in exports:
                        content["schema"] = dict(_BINARY)
        errors = dict(ERROR_RESPONSES)
        if self.method == "DELETE":
            errors["409"] = "Still in use by other objects (named in ``detail``); change or delete those first."
        if self.method in ("POST", "PUT", "PATCH"):
            errors["415"] = "The body's content type is not one the operation reads."
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description),
                    code,
                    media_types=["application/json"],
                    direction=direction,
                )
        return responses
