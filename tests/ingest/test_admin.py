"""The admin upload form (Django test client): every bad input gets its message, the ledger is untouched."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ingest.models import LedgerEntry, Upload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_for_acme(client, organization):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def submit(client, name: str, content: bytes):
    return client.post(
        "/admin/ingest/upload/upload/", {"organization": "acme", "file": SimpleUploadedFile(name, content)}
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty; expected a CSV export with a header row"),
        (b"\x00\x01binary\x00", "the file is binary, not text; expected a CSV export (UTF-8 text)"),
        (b"when,what\n1,2\n", "row 1: the header matches no known export format."),
    ],
)
def test_bad_files_re_render_the_form_with_the_message(admin_client_for_acme, content, message) -> None:
    response = submit(admin_client_for_acme, "bad.csv", content)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Upload.objects.count() == 0
    assert LedgerEntry.objects.count() == 0


def test_truncated_file_shows_failed_with_the_row_on_its_page(
    admin_client_for_acme, openai_sample, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(admin_client_for_acme, "cut.csv", openai_sample.read_bytes()[:-40])

    page = admin_client_for_acme.get(response["Location"]).content.decode()
    assert Upload.objects.get().status == Upload.Status.FAILED
    assert "Failed" in page
    assert "row 32: has 18 fields, expected 26 as in the header (the file seems cut off in the middle of a row)" in page
    assert LedgerEntry.objects.count() == 0
