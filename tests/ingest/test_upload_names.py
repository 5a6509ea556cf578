"""Any file name lands: the stored name is shortened to fit, the original name is kept as given."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ingest.models import Upload
from tests.conftest import OPENAI_USAGE_SAMPLE

pytestmark = pytest.mark.django_db


def test_a_long_file_name_is_kept_and_its_stored_name_fits(
    analyst, api_client_for, django_capture_on_commit_callbacks
) -> None:
    name = "ai_model_billing__cached_tokens_via_csp_marketplace_" + "x" * 150 + ".usage.csv"

    incoming = SimpleUploadedFile(name, OPENAI_USAGE_SAMPLE.read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(analyst).post(
            "/api/v1/uploads/", {"file": incoming, "organization": "acme"}, format="multipart"
        )

    assert response.status_code == 202, response.content
    upload = Upload.objects.get()  # ingested by the eager task
    assert upload.original_name == name
    assert len(upload.file.name) <= 100
    assert upload.file.name.endswith(".usage.csv")
    assert upload.status == Upload.Status.SUCCEEDED
