"""Fixtures for the planning tests: a real SMTP server (aiosmtpd) and a real HTTP server receiving webhooks, both on
loopback, recording what reached them."""

from __future__ import annotations

import email
import email.message
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.factories import TeamFactory
from tests.harness import free_port
from tests.planning.helpers import cell, forecast_run, ledger_days


class RecordingSMTPHandler:
    """Accepts every message, except for the recipients it was told to refuse (550), and keeps the envelopes."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class SMTPServer:
    """What a test sees of the SMTP server: where it listens, what arrived, and whom to refuse."""

    host: str
    port: int
    handler: RecordingSMTPHandler

    @property
    def envelopes(self) -> list[Envelope]:
        with self.handler.lock:
            return list(self.handler.envelopes)

    def messages(self) -> list[email.message.EmailMessage]:
        """The received messages, parsed, in arrival order."""
        return [
            email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)  # type: ignore[misc]
            for envelope in self.envelopes
        ]

    def refuse(self, address: str) -> None:
        """Answer 550 to RCPT TO of this address from now on."""
        self.handler.refused.add(address.lower())

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.envelopes.clear()
        self.handler.refused.clear()


@pytest.fixture(scope="session")
def _smtp_controller() -> Iterator[SMTPServer]:
    handler = RecordingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SMTPServer(host="127.0.0.1", port=controller.port, handler=handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(_smtp_controller: SMTPServer, settings: Any) -> Iterator[SMTPServer]:
    """A real SMTP server on loopback that Django's SMTP backend sends to for this test; starts empty."""
    _smtp_controller.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = _smtp_controller.host
    settings.EMAIL_PORT = _smtp_controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    yield _smtp_controller
    _smtp_controller.reset()


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class WebhookReceiver:
    """A real HTTP server on loopback recording each request; answers 500 to the first ``fail_next(n)`` ones."""

    url: str = ""
    requests: list[ReceivedRequest] = field(default_factory=list)
    failures_left: int = 0
    delay_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, count: int) -> None:
        with self.lock:
            self.failures_left = count

    @property
    def accepted(self) -> list[ReceivedRequest]:
        """The requests answered 200."""
        return [request for request in self.requests if request.answered == 200]

    def answer_status(self) -> int:
        with self.lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return 500
            return 200


def _receiver_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if receiver.delay_seconds:
                threading.Event().wait(receiver.delay_seconds)
            status = receiver.answer_status()
            with receiver.lock:
                receiver.requests.append(
                    ReceivedRequest(
                        method=self.command, path=self.path, headers=dict(self.headers), body=body, answered=status
                    )
                )
            answer = b"ok" if status == 200 else b"internal error: receiver is down"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
            pass

    return Handler


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 (a free port) in a thread, recording the webhook POSTs it receives."""
    receiver = WebhookReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/tokencast"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def search(organization):
    """The Search team of "acme"."""
    return TeamFactory(organization=organization, name="Search", slug="search")


@pytest.fixture
def known_run(organization, search):
    """A run with known sampled paths: 200 USD of Search actuals by March 10 (20 a day); the run starts March 11 for
    40 days: March's remaining 21 days cost 10 a day on average (210), April's 19 days 20 a day; March's sampled
    paths are 100, 200, ..., 1000 and April's all 50."""
    ledger_days(organization, search, date(2026, 3, 1), [20.0] * 10)
    run = forecast_run(organization, date(2026, 3, 10), 40)
    cell(
        run,
        team="Search",
        daily_cost=[10.0] * 21 + [20.0] * 19,
        monthly_paths=[[100.0 * (index + 1), 50.0] for index in range(10)],
    )
    return run
