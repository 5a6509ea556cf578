"""Request ids: one id per HTTP request, carried into the Celery tasks it enqueues and into every log line.

``RequestIdMiddleware`` takes the caller's ``X-Request-ID`` when it is safe to log (at most 128 characters of
letters, digits and ``.``, ``_``, ``:``, ``-``), else makes one (uuid4 hex), keeps it in a context variable until
the response is closed and returns it in the response's ``X-Request-ID`` header. ``RequestContextFilter`` puts
it on every log record as ``request_id``, with ``task_id`` and ``task_name`` inside a Celery task.

Into tasks: ``before_task_publish`` copies the current id into the message headers, and ``task_prerun`` /
``task_postrun`` set and restore the context variables in the process that runs the task, so the task's own
log lines (and the tasks it enqueues in turn) carry the id of the request that started the chain. In eager mode
no message is published; the task runs inside the request's context and keeps its id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from celery import signals
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# The key under which the id travels in a Celery message's headers (and so in the task's ``request``).
TASK_HEADER = "request_id"
MAX_LENGTH = 128
_SAFE_ID = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}")

request_id_var: ContextVar[str | None] = ContextVar("tokencast_request_id", default=None)
# (task id, task name) of the Celery task running in this context, if any.
task_var: ContextVar[tuple[str, str] | None] = ContextVar("tokencast_task", default=None)


def request_id_from_header(value: str | None) -> str:
    """The caller's id when it is safe to log and pass on (bounded, no spaces or quotes), else a new one."""
    if value and _SAFE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request (or of the request that enqueued the task) this code runs for, if any."""
    return request_id_var.get()


class RequestIdMiddleware:
    """Gives each request an id, until the response is closed, and echoes it in ``X-Request-ID``.

    First in ``MIDDLEWARE``, so the log lines of every later middleware and of the view carry the id. The id is
    forgotten on ``request_finished`` rather than when this middleware returns: Django logs 4xx and 5xx answers
    (``django.request``) after the middleware chain, and a streamed response is written after it too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        request_finished.connect(_forget_request_id, dispatch_uid="tokencast-request-id")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get(HEADER))
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget_request_id(**_: Any) -> None:
    request_id_var.set(None)


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``task_id`` and ``task_name`` to every record that reaches the handler.

    ``missing`` is what a record outside a request or a task gets: ``None`` (JSON ``null``) for the JSON
    format, ``"-"`` for the text format.
    """

    def __init__(self, name: str = "", missing: str | None = None) -> None:
        super().__init__(name)
        self.missing = missing

    def filter(self, record: logging.LogRecord) -> bool:
        task = task_var.get()
        record.request_id = request_id_var.get() or self.missing
        record.task_id = task[0] if task else self.missing
        record.task_name = task[1] if task else self.missing
        return True


def _add_request_id_to_message(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


# Tokens to restore the context variables when a task ends, by task id (eager tasks can nest).
_task_tokens: dict[str, tuple[Token[str | None], Token[tuple[str, str] | None]]] = {}


def _enter_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id is None or task is None:
        return
    # A worker finds the id in the message headers; an eager task runs inside the request and keeps its id.
    request_id = task.request.get(TASK_HEADER) or request_id_var.get()
    _task_tokens[task_id] = (request_id_var.set(request_id), task_var.set((task_id, task.name)))


def _leave_task(task_id: str | None = None, **_: Any) -> None:
    tokens = _task_tokens.pop(task_id, None) if task_id else None
    if tokens is None:
        return
    request_token, task_token = tokens
    try:
        task_var.reset(task_token)
        request_id_var.reset(request_token)
    except ValueError:  # the task ended in another context than it started in (a thread pool): just clear
        task_var.set(None)
        request_id_var.set(None)


def connect_task_signals() -> None:
    """Carry request ids through Celery: into published messages, and into the context of running tasks."""
    signals.before_task_publish.connect(_add_request_id_to_message, weak=False, dispatch_uid="tokencast-request-id")
    signals.task_prerun.connect(_enter_task, weak=False, dispatch_uid="tokencast-request-id")
    signals.task_postrun.connect(_leave_task, weak=False, dispatch_uid="tokencast-request-id")
