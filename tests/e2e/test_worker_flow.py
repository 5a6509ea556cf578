"""End to end through a real `celery worker` process on Redis: upload -> ledger -> forecast -> API."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from finops.models import AllocationRule
from finops.services import team_get_or_create
from ingest.demo_data import DEMO_PROJECTS, write_openai_usage_exports
from ingest.models import LedgerEntry

pytestmark = [pytest.mark.worker]


def wait_for(client, url: str, *, final: set[str], timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] in final:
            return body
        time.sleep(0.3)
    raise AssertionError(f"{url} did not reach {final} within {timeout}s; last: {body}")


def test_upload_ledger_forecast_and_api_through_a_real_worker(
    live_worker, price_catalog, api_client_for, analyst, organization, tmp_path
) -> None:
    client = api_client_for(analyst)
    for project in DEMO_PROJECTS:  # four projects, four teams: four workloads to fan out
        team = team_get_or_create(organization=organization, name=project.team)
        AllocationRule.objects.create(
            organization=organization, dimension=AllocationRule.Dimension.PROJECT, value=project.project_id, team=team
        )
    exports = write_openai_usage_exports(tmp_path, end=date(2026, 10, 31), months=4, seed=3)
    upload_ids = []
    for path in exports:
        response = client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile(path.name, path.read_bytes()), "organization": "acme"},
            format="multipart",
        )
        assert response.status_code == 202
        assert response.json()["status"] == "queued"
        upload_ids.append(response.json()["id"])

    uploads = [wait_for(client, f"/api/v1/uploads/{i}/", final={"succeeded", "failed"}) for i in upload_ids]

    assert [u["status"] for u in uploads] == ["succeeded"] * 4
    ledger_input = sum(LedgerEntry.objects.filter(token_type="input").values_list("quantity", flat=True))
    assert ledger_input == sum(u["summary"]["tokens"]["input"] for u in uploads)
    assert ledger_input > 0

    response = client.post("/api/v1/forecasts/", {"organization": "acme", "horizon_days": 60}, format="json")
    assert response.status_code == 202
    run = wait_for(client, f"/api/v1/forecasts/{response.json()['id']}/", final={"succeeded", "failed"}, timeout=180)

    assert run["status"] == "succeeded", run["error"]
    latest = client.get("/api/v1/forecasts/latest/", {"organization": "acme"}).json()
    assert latest["id"] == run["id"]
    # Fanned out in chunks over the worker's processes: every workload (openai x team) forecast, none failed, and
    # every leaf (team x model x token type) derived from its workload's volume and mix.
    assert latest["series_total"] == latest["series_done"] == len(DEMO_PROJECTS)
    assert latest["series_failed"] == 0
    series = client.get(f"/api/v1/forecasts/{run['id']}/series/", {"limit": 1000}).json()["results"]
    assert sorted(item["team"] for item in series if item["kind"] == "workload") == sorted(
        project.team for project in DEMO_PROJECTS
    )
    leaves = [item for item in series if item["kind"] == "leaf"]
    assert len(leaves) > len(DEMO_PROJECTS) and all(item["status"] == "succeeded" for item in leaves)
    assert set(latest["levels"]) == {"provider", "team", "model", "team_model"}
    providers = set(LedgerEntry.objects.filter(unit="tokens").values_list("provider", flat=True))
    assert set(latest["levels"]["provider"]) == providers
    assert latest["history_end"] == "2026-10-31"
    assert len(latest["points"]) == 60
    assert latest["points"][0]["date"] == (date(2026, 10, 31) + timedelta(days=1)).isoformat()
    assert all(p["tokens_lower"] <= p["tokens"] <= p["tokens_upper"] for p in latest["points"])
    assert [m["month"] for m in latest["monthly"]] == ["2026-11", "2026-12"]
    assert sum(m["days"] for m in latest["monthly"]) == 60


def test_same_file_twice_through_the_worker_changes_nothing(
    live_worker, api_client_for, analyst, organization, openai_sample
) -> None:
    client = api_client_for(analyst)

    def upload() -> dict:
        response = client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile(openai_sample.name, openai_sample.read_bytes()), "organization": "acme"},
            format="multipart",
        )
        return wait_for(client, f"/api/v1/uploads/{response.json()['id']}/", final={"succeeded", "duplicate", "failed"})

    first = upload()
    rows_after_first = list(LedgerEntry.objects.order_by("id").values_list("id", "quantity"))
    second = upload()

    assert first["status"] == "succeeded"
    assert second["status"] == "duplicate"
    assert second["duplicate_of"] == first["id"]
    assert list(LedgerEntry.objects.order_by("id").values_list("id", "quantity")) == rows_after_first


def test_a_worker_child_killed_mid_ingest_leaves_nothing_partial_and_the_retry_finishes(
    live_worker, api_client_for, analyst, organization, tmp_path
) -> None:
    import os
    import signal

    import psutil

    client = api_client_for(analyst)
    [export] = write_openai_usage_exports(tmp_path, end=date(2026, 10, 31), months=1, seed=5)
    content = export.read_bytes()
    header, body = content.split(b"\n", 1)
    big = tmp_path / "completions_usage_big.csv"
    big.write_bytes(header + b"\n" + body * 240)  # ~180,000 rows: a few seconds of ingest
    expected_rows = body.count(b"\n") * 240
    response = client.post(
        "/api/v1/uploads/",
        {"file": SimpleUploadedFile(big.name, big.read_bytes()), "organization": "acme"},
        format="multipart",
    )
    upload_id = response.json()["id"]
    first_claim = wait_for(client, f"/api/v1/uploads/{upload_id}/", final={"running", "succeeded"})
    worker = psutil.Process(live_worker.pid)
    busy = [child for child in worker.children() if child.cpu_percent(interval=0.2) > 5]

    for child in busy:
        os.kill(child.pid, signal.SIGKILL)  # the child holding the ingest dies mid-transaction
    upload = wait_for(client, f"/api/v1/uploads/{upload_id}/", final={"succeeded", "failed"}, timeout=180)

    assert first_claim["status"] == "running"
    assert busy, "no busy worker child found to kill"
    assert upload["started_at"] > first_claim["started_at"], "the task was not run again after the kill"
    assert upload["status"] == "succeeded"
    assert upload["summary"]["rows_read"] == expected_rows
    assert LedgerEntry.objects.filter(upload_id=upload_id).count() == upload["summary"]["records"]
