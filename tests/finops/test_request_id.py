"""Request ids: taken or made per request, echoed, in every log line, and carried into the tasks a request enqueues."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import shared_task
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.utils.module_loading import import_string

from finops.request_id import current_request_id
from ingest.tasks import reestimate_ledger_costs

logger = logging.getLogger("tests.request_id")


@shared_task(name="tests.finops.test_request_id.log_from_task")
def log_from_task() -> None:
    logger.warning("inside the task")


def enqueue_view(request: HttpRequest) -> HttpResponse:
    """Logs, enqueues a task that logs, logs again: the three lines must carry the same request id."""
    logger.warning("before the task")
    log_from_task.delay()
    logger.warning("after the task")
    return HttpResponse("ok")


def enqueue_for_worker_view(request: HttpRequest) -> HttpResponse:
    result = reestimate_ledger_costs.delay(None)
    return HttpResponse(result.id)


urlpatterns = [path("enqueue/", enqueue_view), path("enqueue-for-worker/", enqueue_for_worker_view)]


def built(spec: dict[str, Any]) -> Any:
    """An object from a ``LOGGING`` entry with a ``()`` factory, as ``logging.config.dictConfig`` builds it."""
    arguments = {key: value for key, value in spec.items() if key != "()"}
    return import_string(spec["()"])(**arguments)


@pytest.fixture
def json_log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """What the settings' JSON formatter and request filter have written so far, parsed line by line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(built(settings.LOGGING["formatters"]["json"]))
    handler.addFilter(built({**settings.LOGGING["filters"]["request_context"], "missing": None}))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_safe_request_id_from_the_caller_is_echoed(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a:01.b_c")

    assert response["X-Request-ID"] == "edge-7f3a:01.b_c"


def test_a_request_without_an_id_gets_a_new_one(client: Client) -> None:
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, 'quote"', "new\nline", "semi;colon", "ümlaut"])
def test_an_unsafe_request_id_is_replaced(client: Client, unsafe: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=unsafe)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.urls(__name__)
def test_the_request_id_is_in_every_json_line_of_the_request_and_its_eager_task(client: Client, json_log_lines) -> None:
    # given a request that logs, enqueues a task that logs (eagerly, as in the tests and the embedded mode), logs
    response = client.get("/enqueue/", HTTP_X_REQUEST_ID="req-eager-1")
    logging.getLogger("tests.request_id").warning("after the request")

    # then every line of the request and of its task carries the id, and the task's lines name the task
    assert response["X-Request-ID"] == "req-eager-1"
    lines = {line["message"]: line for line in json_log_lines() if line["logger"] == "tests.request_id"}
    assert [lines[m]["request_id"] for m in ("before the task", "inside the task", "after the task")] == [
        "req-eager-1"
    ] * 3
    task_line = lines["inside the task"]
    assert task_line["task_name"] == "tests.finops.test_request_id.log_from_task"
    assert re.fullmatch(r"[0-9a-f-]{36}", task_line["task_id"])
    assert lines["after the task"]["task_id"] is None
    assert lines["before the task"]["level"] == "WARNING"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", lines["before the task"]["time"])
    # and outside the request there is no id
    assert lines["after the request"]["request_id"] is None
    assert current_request_id() is None


def test_django_logs_a_4xx_answer_with_the_request_id(client: Client, json_log_lines) -> None:
    # Django logs "Not Found" after the middleware chain has returned: the id must still be there.
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")

    [line] = [line for line in json_log_lines() if line["logger"] == "django.request"]
    assert (line["level"], line["message"], line["request_id"]) == ("WARNING", "Not Found: /no-such-page/", "req-404")


def worker_log(process) -> Path:
    """The file the ``celery_worker_process`` fixture sends the worker's output to (its stdout)."""
    return Path(os.readlink(f"/proc/{process.pid}/fd/1"))


@pytest.mark.worker
@pytest.mark.urls(__name__)
def test_a_task_enqueued_by_a_request_logs_the_request_id_in_the_real_worker(live_worker) -> None:
    request_id = f"req-live-{uuid.uuid4().hex[:12]}"

    response = Client().get("/enqueue-for-worker/", HTTP_X_REQUEST_ID=request_id)

    task_id = response.content.decode()
    log = worker_log(live_worker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = [line for line in log.read_text().splitlines() if task_id in line and "succeeded" in line]
        if done:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the worker did not log task {task_id} succeeding:\n{log.read_text()[-3000:]}")
    assert f"[{request_id}]" in done[0]
    assert "celery.app.trace" in done[0]
