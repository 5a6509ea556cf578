"""Upload endpoints beyond ingesting: admins delete an upload with its ledger rows (logged); the summary's cost is
rounded to the currency's minor unit with the exact sum beside it; bad files answer in the error shape."""

from __future__ import annotations

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ingest.models import LedgerLine, Upload

pytestmark = pytest.mark.django_db
UPLOADS = "/api/v1/uploads/"


def test_an_admin_deletes_an_upload_and_its_ledger_rows_and_it_is_logged(
    api_client_for, admin, acme_data, caplog
) -> None:
    upload = acme_data.upload
    rows = LedgerLine.objects.filter(upload=upload).count()

    with caplog.at_level(logging.WARNING, logger="ingest.services"):
        response = api_client_for(admin).delete(f"{UPLOADS}{upload.pk}/")

    assert response.status_code == 204
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not LedgerLine.objects.filter(upload_id=upload.pk).exists()
    (record,) = [record for record in caplog.records if record.name == "ingest.services"]
    message = record.getMessage()
    assert (str(upload.pk) in message, admin.username in message, f"{rows} ledger lines removed" in message) == (
        True,
        True,
        True,
    )


@pytest.mark.parametrize("role_fixture", ["viewer", "analyst"])
def test_below_admin_cannot_delete_an_upload(api_client_for, acme_data, request, role_fixture) -> None:
    response = api_client_for(request.getfixturevalue(role_fixture)).delete(f"{UPLOADS}{acme_data.upload.pk}/")

    assert response.status_code == 403
    assert Upload.objects.filter(pk=acme_data.upload.pk).exists()


def test_another_organization_s_upload_is_404(api_client_for, admin, acme_data, other_data) -> None:
    response = api_client_for(admin).delete(f"{UPLOADS}{other_data.upload.pk}/")

    assert response.status_code == 404
    assert Upload.objects.filter(pk=other_data.upload.pk).exists()


def test_the_summary_cost_is_rounded_with_the_exact_sum_beside(api_client_for, viewer, acme_data) -> None:
    summary = api_client_for(viewer).get(f"{UPLOADS}{acme_data.upload.pk}/").json()["summary"]

    assert summary["cost"] == {"USD": "0.00"}
    assert summary["cost_exact"] == {"USD": "0.0047307000"}


def test_a_bad_file_answers_the_error_shape_with_rows(api_client_for, analyst, organization) -> None:
    response = api_client_for(analyst).post(
        UPLOADS, {"file": SimpleUploadedFile("bad.csv", b"foo,bar\n1,2\n"), "organization": "acme"}, format="multipart"
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["detail"].startswith("row 1: the header matches no known export format")) == (
        "invalid_file",
        True,
    )
    assert body["errors"][0]["field"] == "file"
    assert body["errors"][0]["row"] == 1
    assert body["errors"][0]["code"] == "invalid_file"
