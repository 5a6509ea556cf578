"""Alert delivery against a real SMTP server and a real HTTP receiver: recipients, messages, signatures, retries with
backoff, at most one send per delivery, refused addresses and deliveries a dead worker left behind."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from planning import delivery as delivery_module
from planning.delivery import (
    STUCK_SENDING_ERROR,
    alert_deliveries_create,
    alert_delivery_send,
    deliveries_retry_due,
    webhook_signature,
)
from planning.models import Alert, AlertDelivery, Budget, BudgetOwner, Webhook
from planning.tasks import deliver_alert
from tests.factories import OrganizationFactory, TeamFactory, UserFactory
from tests.harness import free_port

pytestmark = pytest.mark.django_db

OPENED_AT = datetime(2026, 8, 12, 6, 30, tzinfo=UTC)
OVERRUN_MESSAGE = "Forecast 12,400.00 USD > budget 10,000.00 USD for August 2026 (72% likely)."


def make_budget(organization, name="Search monthly", **scope) -> Budget:
    return Budget.objects.create(
        organization=organization, name=name, starts_on=date(2026, 1, 1), amount=Decimal("10000.00"), **scope
    )


def make_alert(organization, budget=None, **fields) -> Alert:
    defaults = {
        "kind": Alert.Kind.FORECAST_OVERRUN,
        "period_start": date(2026, 8, 1),
        "level": 0.72,
        "message": OVERRUN_MESSAGE,
        "details": {"forecast": "12400.00", "amount": "10000.00"},
        "opened_at": OPENED_AT,
    }
    return Alert.objects.create(organization=organization, budget=budget, **{**defaults, **fields})


def make_delivery(alert, webhook=None, **fields) -> AlertDelivery:
    if webhook is not None:
        fields |= {"channel": AlertDelivery.Channel.WEBHOOK, "target": str(webhook.pk), "webhook": webhook}
    else:
        fields.setdefault("channel", AlertDelivery.Channel.EMAIL)
        fields.setdefault("target", "lead@example.com")
    return AlertDelivery.objects.create(alert=alert, event=fields.pop("event", "opened#1"), **fields)


def make_webhook(organization, url, name="Slack #finops", **fields) -> Webhook:
    return Webhook.objects.create(organization=organization, name=name, url=url, **fields)


def reload(delivery: AlertDelivery) -> AlertDelivery:
    delivery.refresh_from_db()
    return delivery


def make_due(delivery: AlertDelivery) -> None:
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# Who hears of an alert.


def test_an_event_gets_one_delivery_per_budget_owner_and_per_active_webhook_wanting_its_kind(
    organization, django_capture_on_commit_callbacks
):
    # Given a budget with three owners (one a user, one sharing an address with that user), and four webhooks
    budget = make_budget(organization)
    BudgetOwner.objects.create(budget=budget, user=UserFactory.create(email="lead@example.com"))
    BudgetOwner.objects.create(budget=budget, email="finance@example.com")
    BudgetOwner.objects.create(budget=budget, email="LEAD@example.com")
    everything = make_webhook(organization, "https://hooks.example.com/a", name="everything")
    overruns = make_webhook(organization, "https://hooks.example.com/b", name="overruns", kinds=["forecast_overrun"])
    make_webhook(organization, "https://hooks.example.com/c", name="anomalies only", kinds=["anomaly"])
    make_webhook(organization, "https://hooks.example.com/d", name="switched off", active=False)
    make_webhook(OrganizationFactory(slug="other"), "https://hooks.example.com/e", name="another organization")
    alert = make_alert(organization, budget)

    # When the alert opens
    with django_capture_on_commit_callbacks() as callbacks:
        deliveries = alert_deliveries_create(alert=alert, event="opened#1")

    # Then each owner's address gets an e-mail once, and the wanting active webhooks a POST, each queued once
    assert [(d.channel, d.target, d.webhook_id) for d in deliveries] == [
        ("email", "lead@example.com", None),
        ("email", "finance@example.com", None),
        ("webhook", str(everything.pk), everything.pk),
        ("webhook", str(overruns.pk), overruns.pk),
    ]
    assert {(d.event, d.status, d.attempts) for d in deliveries} == {("opened#1", "pending", 0)}
    assert AlertDelivery.objects.count() == 4
    assert len(callbacks) == 4


def test_the_same_event_twice_creates_and_queues_nothing_new_but_a_new_event_does(
    organization, django_capture_on_commit_callbacks
):
    # Given an alert whose opening was delivered to one owner and one webhook
    budget = make_budget(organization)
    BudgetOwner.objects.create(budget=budget, email="lead@example.com")
    make_webhook(organization, "https://hooks.example.com/a")
    alert = make_alert(organization, budget, kind=Alert.Kind.THRESHOLD, level=0.8)
    with django_capture_on_commit_callbacks():
        first = alert_deliveries_create(alert=alert, event="opened#1")

    # When the same evaluation runs again, then the alert escalates
    with django_capture_on_commit_callbacks() as again_callbacks:
        again = alert_deliveries_create(alert=alert, event="opened#1")
    with django_capture_on_commit_callbacks() as escalated_callbacks:
        escalated = alert_deliveries_create(alert=alert, event="threshold 1#1")

    # Then the repeat returns the same deliveries and queues nothing; the escalation has deliveries of its own
    assert [d.pk for d in again] == [d.pk for d in first]
    assert len(again_callbacks) == 0
    assert {d.event for d in escalated} == {"threshold 1#1"}
    assert not {d.pk for d in escalated} & {d.pk for d in first}
    assert len(escalated_callbacks) == 2
    assert AlertDelivery.objects.filter(alert=alert).count() == 4


def test_an_anomaly_goes_to_the_owners_of_the_organization_wide_budgets_once_each(
    organization, django_capture_on_commit_callbacks
):
    # Given two organization-wide budgets sharing an owner, budgets narrower than the organization, another's budget
    monthly = make_budget(organization, name="All of Acme")
    yearly = make_budget(organization, name="Acme yearly", period=Budget.Period.YEAR)
    BudgetOwner.objects.create(budget=monthly, email="cfo@example.com")
    BudgetOwner.objects.create(budget=yearly, email="cfo@example.com")
    BudgetOwner.objects.create(budget=yearly, email="controller@example.com")
    team_budget = make_budget(organization, name="Search", team=TeamFactory(organization=organization, name="search"))
    BudgetOwner.objects.create(budget=team_budget, email="search-lead@example.com")
    model_budget = make_budget(organization, name="GPT-4.1", model="gpt-4.1")
    BudgetOwner.objects.create(budget=model_budget, email="ml-lead@example.com")
    other_budget = make_budget(OrganizationFactory(slug="other"), name="All of Other")
    BudgetOwner.objects.create(budget=other_budget, email="other-cfo@example.com")
    anomaly = make_alert(
        organization, kind=Alert.Kind.ANOMALY, period_start=date(2026, 8, 11), scope="organization", level=None
    )

    # When the anomaly opens
    with django_capture_on_commit_callbacks():
        deliveries = alert_deliveries_create(alert=anomaly, event="opened#1")

    # Then the owners of the organization-wide budgets hear of it, each once
    assert sorted(d.target for d in deliveries) == ["cfo@example.com", "controller@example.com"]


def test_an_event_name_longer_than_the_column_is_refused(organization):
    alert = make_alert(organization, make_budget(organization))

    with pytest.raises(ValueError, match="1 to 40 characters"):
        alert_deliveries_create(alert=alert, event="x" * 41)

    assert AlertDelivery.objects.count() == 0


def test_new_deliveries_are_sent_after_commit(
    organization, smtp_server, webhook_receiver, django_capture_on_commit_callbacks
):
    # Given a budget with an owner and a webhook
    budget = make_budget(organization)
    BudgetOwner.objects.create(budget=budget, email="lead@example.com")
    make_webhook(organization, webhook_receiver.url, secret="s3cret")
    alert = make_alert(organization, budget)

    # When the alert's deliveries are created and the transaction commits (Celery eager: the tasks run at once)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = alert_deliveries_create(alert=alert, event="opened#1")

    # Then both went out
    assert [reload(d).status for d in deliveries] == ["sent", "sent"]
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [["lead@example.com"]]
    assert len(webhook_receiver.accepted) == 1


# E-mail.


def test_an_email_delivery_reaches_the_smtp_server_with_text_and_html(organization, smtp_server, settings):
    # Given a pending e-mail delivery of a forecast-overrun alert
    alert = make_alert(organization, make_budget(organization))
    delivery = make_delivery(alert, target="lead@example.com")

    # When it is sent
    status = alert_delivery_send(delivery_id=delivery.pk)

    # Then the SMTP server received one message to the owner, with the summary as subject and the message in both parts
    assert status == "sent"
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    assert delivery.sent_at is not None
    assert delivery.next_attempt_at is None
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == settings.DEFAULT_FROM_EMAIL
    assert envelope.rcpt_tos == ["lead@example.com"]
    [message] = smtp_server.messages()
    assert message["To"] == "lead@example.com"
    assert message["Subject"] == "[Tokencast] Budget 'Search monthly' forecast to overrun: 72% likely"
    assert message["X-Tokencast-Alert"] == str(alert.pk)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert OVERRUN_MESSAGE in text
    assert "Budget 'Search monthly' forecast to overrun: 72% likely" in text
    assert "Period starting: 2026-08-01" in text
    assert "Forecast 12,400.00 USD &gt; budget 10,000.00 USD for August 2026 (72% likely)." in html
    assert "Budget &#x27;Search monthly&#x27; forecast to overrun: 72% likely" in html
    assert 'style="' in html


def test_a_refused_address_fails_at_once_while_another_owner_still_gets_the_email(
    organization, smtp_server, caplog, django_capture_on_commit_callbacks
):
    # Given two owners, one of whose addresses the mail server refuses
    budget = make_budget(organization)
    BudgetOwner.objects.create(budget=budget, email="gone@example.com")
    BudgetOwner.objects.create(budget=budget, email="lead@example.com")
    smtp_server.refuse("gone@example.com")
    alert = make_alert(organization, budget)
    with django_capture_on_commit_callbacks():
        gone, lead = alert_deliveries_create(alert=alert, event="opened#1")

    # When both are sent
    with caplog.at_level(logging.WARNING, logger="planning.delivery"):
        statuses = [alert_delivery_send(delivery_id=gone.pk), alert_delivery_send(delivery_id=lead.pk)]

    # Then the refused one is given up after one attempt, with the server's answer; the other arrived
    assert statuses == ["failed", "sent"]
    gone = reload(gone)
    assert (gone.status, gone.attempts, gone.next_attempt_at) == ("failed", 1, None)
    assert gone.last_error == (
        "address refused: gone@example.com: 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown"
    )
    assert reload(lead).status == "sent"
    assert [envelope.rcpt_tos for envelope in smtp_server.envelopes] == [["lead@example.com"]]
    [record] = caplog.records
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith(f"alert {alert.pk}: gave up the email delivery to gone@example.com after 1")


def test_an_unreachable_mail_server_is_retried_later(organization, settings, django_capture_on_commit_callbacks):
    # Given Django sends by SMTP to a port nobody listens on
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    delivery = make_delivery(make_alert(organization, make_budget(organization)))

    # When it is sent
    with django_capture_on_commit_callbacks() as callbacks:
        status = alert_delivery_send(delivery_id=delivery.pk)

    # Then the failure is recorded, nothing raised, and the next attempt scheduled and queued
    assert status == "retrying"
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert delivery.last_error.startswith("SMTP error: ")
    assert "Connection refused" in delivery.last_error
    assert len(callbacks) == 1


# Webhooks.


def test_a_webhook_delivery_posts_signed_slack_compatible_json(organization, webhook_receiver):
    # Given a pending delivery to a webhook with a secret
    budget = make_budget(organization)
    webhook = make_webhook(organization, webhook_receiver.url, secret="s3cret")
    alert = make_alert(organization, budget)
    delivery = make_delivery(alert, webhook)

    # When it is sent
    status = alert_delivery_send(delivery_id=delivery.pk)

    # Then the receiver got one POST: JSON, signed over the timestamp and the raw body
    assert status == "sent"
    assert (reload(delivery).status, reload(delivery).attempts) == ("sent", 1)
    [request] = webhook_receiver.requests
    assert (request.method, request.path, request.answered) == ("POST", "/hooks/tokencast", 200)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "Tokencast"
    assert request.headers["X-Tokencast-Delivery"] == str(delivery.pk)
    timestamp = request.headers["X-Tokencast-Timestamp"]
    assert abs(int(timestamp) - timezone.now().timestamp()) < 60
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Tokencast-Signature"] == f"sha256={expected}"
    assert webhook_signature(secret="s3cret", timestamp=timestamp, body=request.body) == f"sha256={expected}"
    assert json.loads(request.body) == {
        "text": (
            "[Tokencast] Budget 'Search monthly' forecast to overrun: 72% likely. "
            "Forecast 12,400.00 USD &gt; budget 10,000.00 USD for August 2026 (72% likely)."
        ),
        "alert": {
            "id": alert.pk,
            "kind": "forecast_overrun",
            "status": "open",
            "organization": "acme",
            "budget_id": budget.pk,
            "budget_name": "Search monthly",
            "period_start": "2026-08-01",
            "scope": "whole organization",
            "level": 0.72,
            "message": OVERRUN_MESSAGE,
            "details": {"forecast": "12400.00", "amount": "10000.00"},
            "opened_at": "2026-08-12T06:30:00+00:00",
            "resolved_at": None,
            "event": "opened#1",
        },
    }


def test_a_webhook_without_a_secret_is_posted_unsigned(organization, webhook_receiver):
    alert = make_alert(
        organization, kind=Alert.Kind.ANOMALY, period_start=date(2026, 8, 11), scope="search | gpt-4.1", level=None
    )
    delivery = make_delivery(alert, make_webhook(organization, webhook_receiver.url))

    assert alert_delivery_send(delivery_id=delivery.pk) == "sent"

    [request] = webhook_receiver.requests
    assert "X-Tokencast-Signature" not in request.headers
    body = json.loads(request.body)
    assert body["text"].startswith("[Tokencast] Unusual spend in search | gpt-4.1 on 2026-08-11. ")
    assert (body["alert"]["budget_id"], body["alert"]["scope"]) == (None, "search | gpt-4.1")


def test_a_failing_webhook_is_retried_with_backoff_until_it_accepts(
    organization, webhook_receiver, caplog, django_capture_on_commit_callbacks
):
    # Given a receiver that answers 500 twice, then 200
    webhook_receiver.fail_next(2)
    webhook = make_webhook(organization, webhook_receiver.url, secret="s3cret")
    alert = make_alert(organization, make_budget(organization))
    delivery = make_delivery(alert, webhook)

    # When the first attempt fails (its re-queued task runs at once, Celery being eager)
    before = timezone.now()
    with (
        caplog.at_level(logging.WARNING, logger="planning.delivery"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        first = alert_delivery_send(delivery_id=delivery.pk)
    after = timezone.now()

    # Then it waits 60 s: the re-queued task found it not yet due and sent nothing
    assert first == "retrying"
    assert len(callbacks) == 1
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert delivery.last_error == "HTTP 500: internal error: receiver is down"
    assert delivery.next_attempt_at is not None
    assert before + timedelta(seconds=60) <= delivery.next_attempt_at <= after + timedelta(seconds=60)
    assert len(webhook_receiver.requests) == 1
    [warning] = caplog.records
    assert warning.levelname == "WARNING"
    assert warning.getMessage().startswith(
        f"alert {alert.pk}: webhook delivery to {webhook.pk} failed (attempt 1 of 6), retrying in 60 s"
    )
    assert alert_delivery_send(delivery_id=delivery.pk) == "retrying"
    assert len(webhook_receiver.requests) == 1

    # When it is due, it fails again and waits twice as long
    make_due(delivery)
    before = timezone.now()
    with django_capture_on_commit_callbacks():
        assert alert_delivery_send(delivery_id=delivery.pk) == "retrying"
    after = timezone.now()
    delivery = reload(delivery)
    assert delivery.attempts == 2
    assert delivery.next_attempt_at is not None
    assert before + timedelta(seconds=120) <= delivery.next_attempt_at <= after + timedelta(seconds=120)

    # When it is due again, the receiver accepts it
    make_due(delivery)
    with django_capture_on_commit_callbacks() as callbacks:
        assert alert_delivery_send(delivery_id=delivery.pk) == "sent"

    # Then three attempts made, one request accepted, nothing more queued
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("sent", 3, None)
    assert delivery.sent_at is not None
    assert [request.answered for request in webhook_receiver.requests] == [500, 500, 200]
    assert len(webhook_receiver.accepted) == 1
    assert len(callbacks) == 0


def test_the_backoff_doubles_from_a_minute_up_to_an_hour():
    assert [delivery_module.retry_delay_seconds(attempts=n) for n in range(1, 9)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


def test_a_webhook_is_given_up_after_the_last_attempt(organization, webhook_receiver, caplog):
    # Given a delivery that failed five times, now due, and a receiver still failing
    webhook_receiver.fail_next(1)
    webhook = make_webhook(organization, webhook_receiver.url)
    alert = make_alert(organization, make_budget(organization))
    delivery = make_delivery(alert, webhook, status="retrying", attempts=5, last_error="HTTP 500: earlier")
    make_due(delivery)

    # When the sixth attempt fails
    with caplog.at_level(logging.WARNING, logger="planning.delivery"):
        status = alert_delivery_send(delivery_id=delivery.pk)

    # Then it is failed for good, with the last error, and said loudly
    assert status == "failed"
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 6, None)
    assert delivery.last_error == "HTTP 500: internal error: receiver is down"
    [record] = caplog.records
    assert record.levelname == "ERROR"
    assert record.getMessage() == (
        f"alert {alert.pk}: gave up the webhook delivery to {webhook.pk} after 6 attempt(s): "
        "HTTP 500: internal error: receiver is down"
    )


def test_an_unreachable_webhook_is_retried_later(organization, django_capture_on_commit_callbacks):
    delivery = make_delivery(
        make_alert(organization, make_budget(organization)),
        make_webhook(organization, f"http://127.0.0.1:{free_port()}/hook"),
    )

    with django_capture_on_commit_callbacks():
        status = alert_delivery_send(delivery_id=delivery.pk)

    assert status == "retrying"
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert delivery.last_error.startswith("connection failed: ")
    assert "Connection refused" in delivery.last_error


def test_a_webhook_deactivated_before_sending_is_not_posted(organization, webhook_receiver):
    webhook = make_webhook(organization, webhook_receiver.url)
    delivery = make_delivery(make_alert(organization, make_budget(organization)), webhook)
    Webhook.objects.filter(pk=webhook.pk).update(active=False)

    assert alert_delivery_send(delivery_id=delivery.pk) == "failed"

    assert reload(delivery).last_error == "the webhook was deactivated"
    assert webhook_receiver.requests == []


# At most once.


def test_a_sent_delivery_is_never_sent_again(organization, webhook_receiver):
    # Given a delivery already sent
    delivery = make_delivery(
        make_alert(organization, make_budget(organization)), make_webhook(organization, webhook_receiver.url)
    )
    assert alert_delivery_send(delivery_id=delivery.pk) == "sent"

    # When the send runs again, directly and as the task
    again = alert_delivery_send(delivery_id=delivery.pk)
    as_task = deliver_alert.delay(delivery.pk).get()

    # Then nothing more was posted
    assert (again, as_task) == ("sent", "sent")
    assert len(webhook_receiver.requests) == 1
    assert reload(delivery).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_delivery_send_it_once(organization, webhook_receiver):
    # Given a pending delivery and a slow receiver, so the two sends overlap
    webhook_receiver.delay_seconds = 0.3
    delivery = make_delivery(
        make_alert(organization, make_budget(organization)), make_webhook(organization, webhook_receiver.url)
    )
    start = threading.Barrier(2)
    statuses: list[str] = []

    def worker() -> None:
        try:
            start.wait()
            statuses.append(alert_delivery_send(delivery_id=delivery.pk))
        finally:
            connection.close()

    # When two threads, each with its own database connection, send it at the same moment
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then exactly one POST went out; the loser saw the delivery already claimed
    assert len(webhook_receiver.requests) == 1
    assert sorted(statuses) in (["sending", "sent"], ["sent", "sent"])
    delivery = reload(delivery)
    assert (delivery.status, delivery.attempts) == ("sent", 1)


# The sweep.


def test_the_sweep_queues_due_retries_and_lost_tasks_and_gives_up_deliveries_a_dead_worker_left(
    organization, webhook_receiver, caplog, django_capture_on_commit_callbacks
):
    # Given deliveries in every state the sweep looks at
    now = timezone.now()
    alert = make_alert(organization, make_budget(organization))
    webhook = make_webhook(organization, webhook_receiver.url)
    due = make_delivery(alert, webhook, event="opened#1", status="retrying", attempts=1, last_error="HTTP 500: x")
    make_due(due)
    later = make_delivery(
        alert, webhook, event="reopened#2", status="retrying", attempts=1, next_attempt_at=now + timedelta(minutes=2)
    )
    lost = make_delivery(alert, webhook, event="threshold 1#1")
    AlertDelivery.objects.filter(pk=lost.pk).update(created_at=now - timedelta(minutes=10))
    fresh = make_delivery(alert, webhook, event="threshold 1.2#1")
    stuck = make_delivery(
        alert, target="stuck@example.com", status="sending", attempts=1, next_attempt_at=now - timedelta(minutes=16)
    )
    busy = make_delivery(
        alert, target="busy@example.com", status="sending", attempts=1, next_attempt_at=now - timedelta(minutes=5)
    )

    # When the sweep runs and its queued tasks run (Celery eager)
    with (
        caplog.at_level(logging.WARNING, logger="planning.delivery"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        queued = deliveries_retry_due()

    # Then the due retry and the lost pending delivery were sent; the rest waits; the stuck one is given up, unsent
    assert queued == 2
    assert (reload(due).status, reload(due).attempts) == ("sent", 2)
    assert (reload(lost).status, reload(lost).attempts) == ("sent", 1)
    assert len(webhook_receiver.accepted) == 2
    assert (reload(later).status, reload(later).attempts) == ("retrying", 1)
    assert (reload(fresh).status, reload(fresh).attempts) == ("pending", 0)
    stuck = reload(stuck)
    assert (stuck.status, stuck.attempts, stuck.last_error) == ("failed", 1, STUCK_SENDING_ERROR)
    assert STUCK_SENDING_ERROR == "worker stopped while sending; not re-sent, to send at most once"
    assert reload(busy).status == "sending"
    [record] = caplog.records
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith(f"alert {alert.pk}: email delivery to stuck@example.com stuck sending since")
