"""Uploads kept in S3-compatible object storage: no disk shared between the web process and the ingest workers.

A moto S3 server runs in its own process on a free loopback port, with dummy credentials (nothing leaves the
machine). The uploads storage is switched to it by the settings module itself, run with ``UPLOAD_STORAGE=s3``
and the AWS_* variables, and the same variables configure the real worker of the worker test. Every test checks
the switch: the object is in the bucket and nothing lands under MEDIA_ROOT.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import runpy
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError
from storages.backends.s3 import S3Storage

from finops.celery import app as celery_app
from finops.models import Organization, Role
from ingest.models import LedgerEntry, LedgerLine, Upload
from ingest.parsers import IngestError
from ingest.services import upload_create, upload_ingest
from ingest.storage import upload_file_local, upload_storage
from tests.conftest import REPO, _database_url
from tests.factories import MembershipFactory, OrganizationFactory, UploadFactory
from tests.harness import celery_worker_command, free_port
from tests.ingest.test_services import HEADER, usage_row

MiB = 1024 * 1024
BUCKET = "tokencast-uploads-test"
SETTINGS_FILE = REPO / "finops" / "settings" / "base.py"
SAMPLE_TOKENS = {"input": 31422, "output": 29, "cached_input": 0, "cache_write": 0}
# Dummy credentials and a fixed region: boto3 then asks no metadata service and no one else for them.
AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_S3_REGION_NAME": "us-east-1",
    "AWS_S3_ADDRESSING_STYLE": "path",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class Bucket:
    """The test bucket as seen from outside Tokencast, through boto3."""

    def __init__(self, endpoint: str) -> None:
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=BUCKET)
        return sorted(entry["Key"] for entry in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.client.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(MiB):
            digest.update(chunk)
        return digest.hexdigest()

    def empty(self) -> None:
        for key in self.keys():
            self.client.delete_object(Bucket=BUCKET, Key=key)


def _wait_for_server(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"moto_server did not listen on 127.0.0.1:{port} within 30s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def s3_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A moto S3 server (its own process: its memory is not counted as this process's) holding the test bucket,
    and the environment that keeps Tokencast's uploads there."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env={**os.environ, **AWS_TEST_ENVIRONMENT}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_server(process, port, log)
        endpoint = f"http://127.0.0.1:{port}"
        Bucket(endpoint).client.create_bucket(Bucket=BUCKET)
        yield {
            **AWS_TEST_ENVIRONMENT,
            "UPLOAD_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": endpoint,
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def bucket(s3_environment: dict[str, str]) -> Iterator[Bucket]:
    """The test bucket, empty at the start and at the end of each test."""
    bucket = Bucket(s3_environment["AWS_S3_ENDPOINT_URL"])
    bucket.empty()
    yield bucket
    bucket.empty()


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def staging_root(settings: Any, tmp_path: Path) -> Path:
    """Where uploads are staged and workers copy objects to, to check that nothing is left there."""
    staging = tmp_path / "staging"
    staging.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(staging)
    return staging


@pytest.fixture
def s3_uploads(
    settings: Any, monkeypatch: pytest.MonkeyPatch, s3_environment: dict[str, str], media_root: Path, staging_root
) -> S3Storage:
    """Uploads kept in the test bucket, with STORAGES as the settings module builds it from the environment."""
    for name, value in s3_environment.items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = runpy.run_path(str(SETTINGS_FILE))["STORAGES"]
    storage = upload_storage()
    assert isinstance(storage, S3Storage)  # the storages cache was reset: the switch took effect
    assert (storage.bucket_name, storage.endpoint_url) == (BUCKET, s3_environment["AWS_S3_ENDPOINT_URL"])
    assert Upload._meta.get_field("file").storage is storage  # type: ignore[attr-defined]
    return storage


def files_under(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file())


def post_file(client: Any, name: str, content: bytes) -> Any:
    return client.post(
        "/api/v1/uploads/", {"file": SimpleUploadedFile(name, content), "organization": "acme"}, format="multipart"
    )


def ledger_tokens() -> dict[str, int]:
    return {
        token_type: int(quantity)
        for token_type, quantity in LedgerEntry.objects.order_by("token_type").values_list("token_type", "quantity")
    }


@pytest.mark.django_db
def test_an_upload_through_the_api_is_kept_in_the_bucket_and_ingested_from_it(
    s3_uploads,
    bucket,
    media_root,
    staging_root,
    api_client_for,
    analyst,
    openai_sample,
    django_capture_on_commit_callbacks,
) -> None:
    content = openai_sample.read_bytes()
    client = api_client_for(analyst)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, openai_sample.name, content)

    assert response.status_code == 202, response.content
    upload = Upload.objects.get(pk=response.json()["id"])
    assert (upload.status, upload.format, upload.errors) == (Upload.Status.SUCCEEDED, "openai_usage", [])
    assert upload.summary["tokens"] == SAMPLE_TOKENS
    assert ledger_tokens() == {"input": 31422, "output": 29}
    assert LedgerLine.objects.filter(upload=upload).count() == 1
    assert bucket.keys() == [upload.file.name]
    assert upload.file.name.startswith("uploads/") and upload.file.name.endswith(f"_{openai_sample.name}")
    assert bucket.read(upload.file.name) == content
    assert files_under(media_root) == []
    assert files_under(staging_root) == []  # the staged upload and the worker's copy are gone


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty; expected a CSV export with a header row"),
        ("binary.csv", b"\x00\x01\x02\x03", "the file is binary, not text; expected a CSV export (UTF-8 text)"),
        ("unknown.csv", b"foo,bar\n1,2\n", "the header matches no known export format."),
        ("deep.json.gz", gzip.compress(b"[" * 100_000), "the JSON document nests deeper than 64 levels"),
    ],
)
def test_a_refused_file_leaves_no_object(
    s3_uploads, bucket, media_root, staging_root, api_client_for, analyst, name, content, message
) -> None:
    response = post_file(api_client_for(analyst), name, content)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith(message)
    assert Upload.objects.count() == 0
    assert bucket.keys() == []
    assert files_under(media_root) == files_under(staging_root) == []


@pytest.mark.django_db
def test_a_file_over_the_size_limit_leaves_no_object(s3_uploads, bucket, staging_root, organization, settings) -> None:
    settings.UPLOAD_MAX_BYTES = 100
    content = f"{HEADER}\n{usage_row('proj_a')}\n".encode()

    with pytest.raises(IngestError) as caught:
        upload_create(organization=organization, source=io.BytesIO(content), filename="big.csv")

    assert caught.value.errors[0].message == "the file is over the size limit of 100 bytes"
    assert bucket.keys() == []
    assert files_under(staging_root) == []


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_record_cannot_be_saved_leaves_no_object(s3_uploads, bucket, openai_sample) -> None:
    organization = OrganizationFactory(slug="gone")
    Organization.objects.filter(pk=organization.pk).delete()  # deleted while the file came in

    with pytest.raises(IntegrityError):
        upload_create(organization=organization, source=io.BytesIO(openai_sample.read_bytes()), filename="a.csv")

    assert Upload.objects.count() == 0
    assert bucket.keys() == []


@pytest.mark.django_db
def test_deleting_uploads_deletes_their_object_once_no_duplicate_points_at_it(
    s3_uploads, bucket, api_client_for, analyst, organization, openai_sample, django_capture_on_commit_callbacks
) -> None:
    client = api_client_for(analyst)
    admin = api_client_for(MembershipFactory(organization=organization, role=Role.ADMIN).user)
    with django_capture_on_commit_callbacks(execute=True):
        first = post_file(client, openai_sample.name, openai_sample.read_bytes()).json()
    second = post_file(client, "again.csv", openai_sample.read_bytes()).json()
    original = Upload.objects.get(pk=first["id"])

    assert (original.status, second["status"]) == (Upload.Status.SUCCEEDED, "duplicate")
    assert Upload.objects.get(pk=second["id"]).file.name == original.file.name
    assert bucket.keys() == [original.file.name]  # the duplicate's own copy is not kept

    assert admin.delete(f"/api/v1/uploads/{first['id']}/").status_code == 204
    assert bucket.keys() == [original.file.name]  # the duplicate still points at it
    assert LedgerEntry.objects.count() == 0

    assert admin.delete(f"/api/v1/uploads/{second['id']}/").status_code == 204
    assert bucket.keys() == []
    assert Upload.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_ingest_command_keeps_the_file_in_the_bucket(
    s3_uploads, bucket, media_root, organization, openai_sample, price_catalog
) -> None:
    output = io.StringIO()

    call_command("ingest", str(openai_sample), "--org", "acme", "--json", stdout=output)

    [report] = [json.loads(line) for line in output.getvalue().splitlines()]
    assert (report["status"], report["tokens"]) == ("succeeded", SAMPLE_TOKENS)
    upload = Upload.objects.get(pk=report["upload"])
    assert bucket.keys() == [upload.file.name]
    assert bucket.read(upload.file.name) == openai_sample.read_bytes()
    assert ledger_tokens() == {"input": 31422, "output": 29}
    assert files_under(media_root) == []


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"UPLOAD_STORAGE": "s3"}, "Set the AWS_STORAGE_BUCKET_NAME environment variable"),
        ({"UPLOAD_STORAGE": "nfs"}, "UPLOAD_STORAGE must be local or s3, not 'nfs'"),
    ],
)
def test_an_incomplete_storage_setting_fails_at_boot(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("AWS_STORAGE_BUCKET_NAME", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=message):
        runpy.run_path(str(SETTINGS_FILE))


def write_usage_export(path: Path, size: int) -> Path:
    """An OpenAI usage export of about ``size`` bytes: one row per project."""
    with path.open("w") as out:
        out.write(HEADER + "\n")
        project = 0
        while out.tell() < size:
            out.write(usage_row(f"proj_{project:07}") + "\n")
            project += 1
    return path


@pytest.mark.django_db
def test_a_large_upload_goes_to_the_bucket_and_back_in_bounded_memory(
    s3_uploads, bucket, organization, tmp_path
) -> None:
    path = write_usage_export(tmp_path / "usage.csv", 64 * MiB)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    s3_uploads.exists("warm-up")  # boto3's client and its service model are loaded before measuring

    tracemalloc.start()
    try:
        with path.open("rb") as source:
            upload = upload_create(organization=organization, source=source, filename=path.name)
        stored_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with upload_file_local(name=upload.file.name) as copy:
            read_peak = tracemalloc.get_traced_memory()[1]
            copied = hashlib.sha256(copy.read_bytes()).hexdigest()
    finally:
        tracemalloc.stop()

    assert bucket.sha256(upload.file.name) == expected
    assert copied == expected
    # Measured: about 29 MiB storing (68 MiB with boto3's default transfer settings) and 9 MiB reading back.
    assert stored_peak < 40 * MiB, f"peak {stored_peak:,} bytes while storing"
    assert read_peak < 16 * MiB, f"peak {read_peak:,} bytes while reading back"


@pytest.mark.django_db
def test_a_storage_without_local_paths_is_read_through_a_temporary_copy(
    settings, media_root, staging_root, organization, openai_sample
) -> None:
    settings.STORAGES = {**settings.STORAGES, "uploads": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    gzipped = gzip.compress(openai_sample.read_bytes())

    upload = upload_create(organization=organization, source=io.BytesIO(gzipped), filename="usage.csv.gz")
    landed = upload_ingest(upload_id=upload.pk)

    assert (landed.status, landed.summary["tokens"]) == (Upload.Status.SUCCEEDED, SAMPLE_TOKENS)
    with upload_storage().open(upload.file.name, "rb") as kept:
        assert kept.read() == gzipped
    assert files_under(media_root) == files_under(staging_root) == []


@pytest.mark.django_db
def test_an_upload_kept_on_disk_before_storages_is_read_from_its_relative_name(
    media_root, organization, openai_sample
) -> None:
    name = "uploads/2025/01/0123456789abcdef0123456789abcdef_completions_usage.csv"
    (media_root / name).parent.mkdir(parents=True)
    (media_root / name).write_bytes(openai_sample.read_bytes())
    upload = UploadFactory(organization=organization, file=name, status=Upload.Status.QUEUED, format="")

    landed = upload_ingest(upload_id=upload.pk)

    assert (landed.status, landed.format, landed.summary["tokens"]) == (
        Upload.Status.SUCCEEDED,
        "openai_usage",
        SAMPLE_TOKENS,
    )
    assert landed.file.path == str(media_root / name)


@pytest.fixture(scope="module")
def worker_media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("s3-worker-media")


@pytest.fixture(scope="module")
def celery_worker_process(
    django_db_setup: None,
    s3_environment: dict[str, str],
    worker_media_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[subprocess.Popen[bytes]]:
    """This module's real worker (``live_worker`` uses it): its settings from the environment, as in production,
    with uploads in the bucket and a MEDIA_ROOT of its own. A worker the session already runs stops taking ingest
    tasks meanwhile, so this one ingests them."""
    workdir = tmp_path_factory.mktemp("s3-worker")
    env = {
        **os.environ,
        **s3_environment,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "finops.settings.base",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "FORECAST_REFRESH_AFTER_INGEST": "false",
        "MEDIA_ROOT": str(worker_media_root),
    }
    others = [name for reply in celery_app.control.ping(timeout=1.0) for name in reply]
    for name in others:
        celery_app.control.cancel_consumer("ingest", destination=[name], reply=True)
    hostname = f"s3-test-{os.getpid()}"
    command = celery_worker_command(queues="ingest", concurrency=1, hostname=f"{hostname}@%h")
    log_path = workdir / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not any(
            name.startswith(f"{hostname}@") for reply in celery_app.control.ping(timeout=0.5) for name in reply
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the S3 worker did not start:\n{log_path.read_text()[-3000:]}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        for name in others:
            celery_app.control.add_consumer("ingest", destination=[name], reply=True)


@pytest.mark.worker
def test_a_worker_on_another_disk_ingests_the_upload_from_the_bucket(
    live_worker,
    worker_media_root,
    s3_uploads,
    bucket,
    media_root,
    price_catalog,
    api_client_for,
    analyst,
    organization,
    openai_sample,
) -> None:
    gzipped = gzip.compress(openai_sample.read_bytes())  # gzip: the worker's reader seeks in its local copy
    client = api_client_for(analyst)

    response = post_file(client, "usage.csv.gz", gzipped)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    deadline = time.monotonic() + 120
    while (upload := Upload.objects.get(pk=response.json()["id"])).status == Upload.Status.QUEUED or (
        upload.status == Upload.Status.RUNNING
    ):
        assert time.monotonic() < deadline, "the worker did not ingest the upload within 120s"
        time.sleep(0.3)
    assert (upload.status, upload.errors) == (Upload.Status.SUCCEEDED, [])
    assert upload.summary["tokens"] == SAMPLE_TOKENS
    assert ledger_tokens() == {"input": 31422, "output": 29}
    assert bucket.keys() == [upload.file.name]
    assert bucket.read(upload.file.name) == gzipped
    kept = bucket.client.head_object(Bucket=BUCKET, Key=upload.file.name)
    assert (kept["ContentType"], kept.get("ContentEncoding")) == ("application/octet-stream", None)
    assert files_under(media_root) == files_under(worker_media_root) == []
