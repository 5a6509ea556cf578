"""Upload and usage API: 202 on upload, 400 with row-numbered errors, tenant scoping, roles."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ingest.models import LedgerEntry, Upload

pytestmark = pytest.mark.django_db


def post_file(client, name: str, content: bytes, **extra):
    return client.post("/api/v1/uploads/", {"file": SimpleUploadedFile(name, content), **extra}, format="multipart")


def test_upload_answers_202_with_the_id_and_get_shows_the_summary(
    api_client_for, analyst, organization, openai_sample, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for(analyst)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, openai_sample.name, openai_sample.read_bytes(), organization="acme")

    assert response.status_code == 202
    upload_id = response.json()["id"]
    detail = client.get(f"/api/v1/uploads/{upload_id}/").json()
    assert detail["status"] == "succeeded"
    assert detail["format"] == "openai_usage"
    assert detail["summary"]["tokens"] == {"input": 31422, "output": 29, "cached_input": 0, "cache_write": 0}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty; expected a CSV export with a header row"),
        (b"\x00\x01\x02\x03", "the file is binary, not text; expected a CSV export (UTF-8 text)"),
        (b"foo,bar\n1,2\n", "the header matches no known export format."),
    ],
)
def test_bad_files_get_400_with_a_json_error_and_nothing_is_kept(
    api_client_for, analyst, organization, content, message
) -> None:
    response = post_file(api_client_for(analyst), "bad.csv", content, organization="acme")

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["message"].startswith(message)
    assert body["errors"][0]["row"] in (None, 1)
    assert Upload.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def test_truncated_file_is_accepted_then_fails_with_the_row(
    api_client_for, analyst, organization, openai_sample, django_capture_on_commit_callbacks
) -> None:
    cut = openai_sample.read_bytes()[:-40]
    client = api_client_for(analyst)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, "cut.csv", cut, organization="acme")

    detail = client.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert detail["status"] == "failed"
    assert detail["errors"][0]["row"] == 32
    assert "cut off in the middle of a row" in detail["errors"][0]["message"]
    assert LedgerEntry.objects.count() == 0


def test_viewer_cannot_upload(api_client_for, viewer, organization, openai_sample) -> None:
    response = post_file(api_client_for(viewer), "a.csv", openai_sample.read_bytes(), organization="acme")

    assert response.status_code == 403
    assert Upload.objects.count() == 0


def test_outsider_sees_no_uploads_and_cannot_upload_to_the_org(
    api_client_for, analyst, outsider, organization, openai_sample, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        upload_id = post_file(api_client_for(analyst), "a.csv", openai_sample.read_bytes(), organization="acme").json()[
            "id"
        ]
    client = api_client_for(outsider)

    assert client.get("/api/v1/uploads/").json()["results"] == []
    assert client.get(f"/api/v1/uploads/{upload_id}/").status_code == 404
    assert post_file(client, "a.csv", openai_sample.read_bytes(), organization="acme").status_code == 404


def test_anonymous_requests_are_refused(client) -> None:
    assert client.get("/api/v1/uploads/").status_code in (401, 403)


def test_usage_summary_groups_by_token_type(
    api_client_for, analyst, organization, openai_sample, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        post_file(client, "a.csv", openai_sample.read_bytes(), organization="acme")

    response = client.get("/api/v1/usage/summary/", {"organization": "acme", "by": "token_type"})

    assert [(r["token_type"], r["tokens"]) for r in response.json()["results"]] == [("input", 31422), ("output", 29)]


def test_openapi_schema_is_served(api_client_for, analyst) -> None:
    response = api_client_for(analyst).get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/uploads/" in response.content
