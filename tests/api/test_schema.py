"""The OpenAPI schema: valid, generated without a warning, every endpoint with its parameters and error shape."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path) -> None:
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert target.read_text().startswith("openapi: 3.0.3")


def test_reads_document_the_export_formats_and_every_operation_the_error_shape(api_client_for, viewer) -> None:
    schema = api_client_for(viewer).get("/api/schema/", {"format": "json"}).json()
    teams = schema["paths"]["/api/v1/teams/"]

    listed = teams["get"]
    assert {parameter["name"] for parameter in listed["parameters"]} >= {
        "format",
        "limit",
        "offset",
        "ordering",
        "organization",
    }
    assert set(listed["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert listed["responses"]["200"]["content"]["text/csv"]["schema"] == {"type": "string", "format": "binary"}
    created = teams["post"]["responses"]
    assert set(created) == {"201", "400", "401", "403", "404", "415", "429"}
    assert set(created["201"]["content"]) == {"application/json"}
    assert created["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "409" in schema["paths"]["/api/v1/teams/{id}/"]["delete"]["responses"]


def test_every_operation_is_documented(api_client_for, viewer) -> None:
    paths = api_client_for(viewer).get("/api/schema/", {"format": "json"}).json()["paths"]

    assert {
        "/api/v1/teams/",
        "/api/v1/members/{id}/",
        "/api/v1/allocation-rules/preview/",
        "/api/v1/scenarios/",
        "/api/v1/uploads/{id}/",
        "/api/v1/budgets/status/",
        "/api/v1/forecasts/{id}/months/",
        "/api/v1/auth/token/",
    } <= set(paths)
    assert "delete" in paths["/api/v1/uploads/{id}/"]
