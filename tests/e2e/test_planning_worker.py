"""Planning through a real `celery worker` on Redis and PostgreSQL: a forecast that lands evaluates the budgets'
alerts and regenerates recommendations on the worker, the alert is delivered by the worker, the budget's status
reads the run, and accepting a recommendation runs its what-if on the worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from finops.models import AllocationRule, Role
from finops.services import team_get_or_create
from ingest.demo_data import DEMO_PROJECTS, write_openai_usage_exports
from planning.models import AlertDelivery
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.worker]


def wait_until(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def test_forecast_alerts_recommendations_and_what_if_on_a_real_worker(
    live_worker, price_catalog, api_client_for, analyst, organization, tmp_path
) -> None:
    admin = MembershipFactory(organization=organization, role=Role.ADMIN).user
    client, admin_client = api_client_for(analyst), api_client_for(admin)
    for project in DEMO_PROJECTS:
        team = team_get_or_create(organization=organization, name=project.team)
        AllocationRule.objects.create(
            organization=organization, dimension=AllocationRule.Dimension.PROJECT, value=project.project_id, team=team
        )
    today = timezone.localdate()
    for path in write_openai_usage_exports(tmp_path, end=today - timedelta(days=1), months=3, seed=3):
        response = client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile(path.name, path.read_bytes()), "organization": "acme"},
            format="multipart",
        )
        assert response.status_code == 202
        upload_id = response.json()["id"]
        wait_until(
            lambda upload_id=upload_id: client.get(f"/api/v1/uploads/{upload_id}/").json()["status"] == "succeeded",
            timeout=120,
            what=f"upload {upload_id}",
        )
    # Given a monthly budget for the whole organization far below its spend, owned by an address
    budget = admin_client.post(
        "/api/v1/budgets/",
        {
            "organization": "acme",
            "name": "Everything",
            "starts_on": today.replace(month=1, day=1).isoformat(),
            "amount": "10.00",
            "owners": ["cfo@acme.example"],
        },
        format="json",
    ).json()
    # When a forecast runs on the worker
    response = client.post("/api/v1/forecasts/", {"organization": "acme", "horizon_days": 45}, format="json")
    run_id = response.json()["id"]
    wait_until(
        lambda: client.get(f"/api/v1/forecasts/{run_id}/").json()["status"] == "succeeded", timeout=240, what="run"
    )
    # Then the worker evaluates the alerts: the forecast overruns for sure, and the owner's e-mail is sent
    alerts = wait_until(
        lambda: client.get("/api/v1/alerts/", {"organization": "acme", "kind": "forecast_overrun"}).json()["results"],
        timeout=120,
        what="the forecast-overrun alert",
    )
    assert [(alert["budget"], alert["status"], alert["details"]["overrun_probability"]) for alert in alerts] == [
        (budget["id"], "open", 1.0)
    ]
    delivery = wait_until(
        lambda: AlertDelivery.objects.filter(alert_id=alerts[0]["id"], status="sent").first(),
        timeout=60,
        what="the e-mail delivery",
    )
    assert (delivery.channel, delivery.target, delivery.attempts) == ("email", "cfo@acme.example", 1)
    # And the budget's status reads the run
    status = client.get(f"/api/v1/budgets/{budget['id']}/status/").json()
    assert status["forecast_run"] == run_id
    assert status["overrun_probability"] == 1.0
    # And recommendations were regenerated on the worker from that run
    recommendations = wait_until(
        lambda: [
            item
            for item in client.get("/api/v1/recommendations/", {"organization": "acme"}).json()["results"]
            # the kinds that change the forecast: a model switch (or a deprecation's successor), caching, batch
            if item["forecast_run"] == run_id and (item["to_model"] or item["kind"] in ("prompt_caching", "batch"))
        ],
        timeout=120,
        what="recommendations from the run",
    )
    # When one is accepted, its what-if runs on the worker
    accepted = client.post(f"/api/v1/recommendations/{recommendations[0]['id']}/accept/")
    assert accepted.status_code == 202
    what_if = accepted.json()["what_if_run"]
    finished = wait_until(
        lambda: client.get(f"/api/v1/forecasts/{what_if}/").json()["status"] in ("succeeded", "failed"),
        timeout=240,
        what="the what-if run",
    )
    assert finished
    assert client.get(f"/api/v1/forecasts/{what_if}/").json()["status"] == "succeeded"
    assert client.get(f"/api/v1/recommendations/{recommendations[0]['id']}/").json()["status"] == "accepted"
