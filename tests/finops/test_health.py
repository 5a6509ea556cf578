"""Health endpoints: /healthz answers without the database, /readyz checks the real database, broker and migrations."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.urls import resolve, reverse
from drf_spectacular.generators import SchemaGenerator

from finops import health
from tests.harness import free_port


def test_healthz_answers_ok_without_the_database(client: Client) -> None:
    # No django_db mark: any database access would fail this test.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_on_the_real_database_broker_and_schema(client: Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "migrations": True,
    }
    assert "detail" not in body["checks"]["broker"]  # the harness's Redis was really reached


@pytest.mark.django_db
def test_readyz_answers_503_naming_a_broker_on_a_closed_port(client: Client, monkeypatch, caplog) -> None:
    closed_port = free_port()
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{closed_port}/0")

    with caplog.at_level(logging.WARNING, logger="finops.health"):
        response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert f"127.0.0.1:{closed_port}" in body["checks"]["broker"]["error"]
    assert "Connection refused" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert [record.getMessage() for record in caplog.records if record.name == "finops.health"] == [
        f"not ready: broker: {body['checks']['broker']['error']}"
    ]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers (a hung broker)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.mark.django_db
def test_readyz_gives_up_on_a_hung_broker_within_its_timeout(client: Client, monkeypatch, silent_server) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{silent_server}/0")

    response = client.get("/readyz")

    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False
    assert "Timeout" in broker["error"]
    assert broker["ms"] < (health.BROKER_TIMEOUT_SECONDS + 1.5) * 1000


@pytest.mark.django_db
def test_readyz_answers_503_naming_an_unapplied_migration(client: Client) -> None:
    latest = MigrationRecorder(connection).migration_qs.filter(app="finops").latest("id")
    MigrationRecorder(connection).record_unapplied("finops", latest.name)  # rolled back with the test

    response = client.get("/readyz")

    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["ok"] is False
    assert migrations["error"] == f"1 unapplied migration(s): finops.{latest.name}"


@pytest.mark.django_db
def test_probes_answer_whatever_the_host_header_while_other_pages_check_it() -> None:
    pod_ip_client = Client(HTTP_HOST="10.42.0.17:8000")  # what a kubelet probe sends

    assert pod_ip_client.get("/healthz").status_code == 200
    assert pod_ip_client.get("/readyz").status_code == 200
    assert pod_ip_client.get("/admin/login/").status_code == 400


def test_probes_are_routed_in_the_urls_and_only_answer_reads(client: Client) -> None:
    assert reverse("healthz") == "/healthz"
    assert reverse("readyz") == "/readyz"
    assert resolve("/healthz").func is health.healthz
    assert resolve("/readyz").func is health.readyz
    assert client.post("/healthz").status_code == 405


def test_probes_are_not_in_the_openapi_schema() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)

    assert "/api/v1/uploads/" in schema["paths"]
    assert not [path for path in schema["paths"] if "healthz" in path or "readyz" in path]
