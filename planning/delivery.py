"""Alert delivery: who hears of an alert event, and sending it to them at most once, by e-mail or signed webhook.

Each event of an alert ("opened#1", "reopened#2", "threshold 1.0#1") gets one ``AlertDelivery`` per recipient: every
budget owner's address, and every active webhook of the organization that wants the alert's kind. A delivery is
claimed with one conditional UPDATE before anything is sent, so a task that runs twice, or two workers racing on it,
send it once. A failed attempt is retried with exponential backoff (60 s doubled per attempt, at most an hour) until
``MAX_ATTEMPTS``; then, or at once for a refused e-mail address, the delivery is marked failed with its last error
and kept, so no failure goes unseen. Delivery failures are recorded, logged and never raised.

Webhook POSTs carry a Slack-compatible JSON body (a one-line ``text`` beside the full ``alert``) and, when the
webhook has a secret, a signature the receiver recomputes (see ``webhook_signature``).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join, linebreaks
from django.utils.safestring import mark_safe

from planning.models import Alert, AlertDelivery, Budget, BudgetOwner, Webhook

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = 60
MAX_BACKOFF_SECONDS = 60 * 60
MAX_ATTEMPTS = 6
WEBHOOK_TIMEOUT_SECONDS = 10
EMAIL_TIMEOUT_SECONDS = 30
ERROR_EXCERPT_CHARS = 200
EVENT_MAX_CHARS = 40  # AlertDelivery.event's max_length
# A claimed delivery still "sending" after this was abandoned by a dead worker: both timeouts are far shorter.
STUCK_SENDING_AFTER = timedelta(minutes=15)
# A pending delivery never claimed after this lost its task (e.g. the broker was down at commit): queue it again.
PENDING_REQUEUE_AFTER = timedelta(minutes=5)
STUCK_SENDING_ERROR = "worker stopped while sending; not re-sent, to send at most once"

SIGNATURE_HEADER = "X-Tokencast-Signature"
TIMESTAMP_HEADER = "X-Tokencast-Timestamp"
DELIVERY_HEADER = "X-Tokencast-Delivery"

_SENDABLE = (AlertDelivery.Status.PENDING, AlertDelivery.Status.RETRYING)


class DeliveryFailed(Exception):
    """One attempt did not deliver; ``permanent`` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def alert_deliveries_create(*, alert: Alert, event: str) -> list[AlertDelivery]:
    """Make sure the alert's ``event`` has one delivery per recipient, and queue each new one after commit.

    Recipients: the budget's owners by e-mail (for an alert without a budget, an anomaly, the owners of the
    organization's organization-wide budgets, each address once) and the organization's active webhooks that want
    the alert's kind. Evaluating the same event again creates nothing and queues nothing. Returns the event's
    deliveries, new and existing, e-mails first.
    """
    if not 0 < len(event) <= EVENT_MAX_CHARS:
        raise ValueError(f"an alert event is 1 to {EVENT_MAX_CHARS} characters, got {event!r}")
    from planning.tasks import deliver_alert  # planning.tasks imports this module

    recipients: list[tuple[str, str, Webhook | None]] = [
        (AlertDelivery.Channel.EMAIL, address, None) for address in _owner_addresses(alert=alert)
    ]
    recipients += [
        (AlertDelivery.Channel.WEBHOOK, str(webhook.pk), webhook)
        for webhook in Webhook.objects.filter(organization_id=alert.organization_id, active=True).order_by("pk")
        if webhook.wants(alert.kind)
    ]
    deliveries = []
    for channel, target, webhook in recipients:
        delivery, created = AlertDelivery.objects.get_or_create(
            alert=alert, channel=channel, target=target, event=event, defaults={"webhook": webhook}
        )
        deliveries.append(delivery)
        if created:
            transaction.on_commit(partial(deliver_alert.delay, delivery.pk))
    return deliveries


def _owner_addresses(*, alert: Alert) -> list[str]:
    """The e-mail addresses that hear of the alert, in a stable order, each once (compared case-insensitively)."""
    if alert.budget_id is not None:
        owners = BudgetOwner.objects.filter(budget_id=alert.budget_id)
    else:
        budgets = Budget.objects.filter(organization_id=alert.organization_id)
        owners = BudgetOwner.objects.filter(budget__in=[budget.pk for budget in budgets if budget.is_organization_wide])
    addresses: dict[str, str] = {}
    for owner in owners.select_related("user").order_by("budget_id", "pk"):
        address = owner.address.strip()
        if address:
            addresses.setdefault(address.lower(), address)
    return list(addresses.values())


def alert_delivery_send(*, delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else is sending it; return its status afterwards.

    The claim is one conditional UPDATE (pending or retrying, due -> sending, one more attempt), so of two runs of
    the task only one sends. While sending, ``next_attempt_at`` holds when the attempt began, which is how
    ``deliveries_retry_due`` recognizes a delivery abandoned by a dead worker. A failed attempt is recorded and
    scheduled again, or given up; it never raises.
    """
    now = timezone.now()
    claimed = (
        AlertDelivery.objects.filter(pk=delivery_id, status__in=_SENDABLE)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=AlertDelivery.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now)
    )
    if not claimed:
        status = AlertDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return status or "missing"
    delivery = AlertDelivery.objects.select_related("alert__organization", "alert__budget__team", "webhook").get(
        pk=delivery_id
    )
    try:
        if delivery.channel == AlertDelivery.Channel.EMAIL:
            _email_send(delivery=delivery)
        else:
            _webhook_post(delivery=delivery)
    except DeliveryFailed as failure:
        return _failure_record(delivery=delivery, error=str(failure), permanent=failure.permanent)
    except Exception as error:
        # A fault of ours, not of the recipient: whether anything went out is unknown, so it is not sent again.
        logger.exception(
            "alert %s: %s delivery to %s failed unexpectedly", delivery.alert_id, delivery.channel, delivery.target
        )
        return _failure_record(delivery=delivery, error=f"internal error: {error}", permanent=True)
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.SENT, sent_at=timezone.now(), next_attempt_at=None
    )
    return AlertDelivery.Status.SENT


def retry_delay_seconds(*, attempts: int) -> int:
    """How long to wait after the ``attempts``-th failed attempt: 60 s, doubled each attempt, at most an hour."""
    return min(BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def _failure_record(*, delivery: AlertDelivery, error: str, permanent: bool) -> str:
    """Store a failed attempt: schedule the next one (and queue it), or give up after the last one."""
    from planning.tasks import deliver_alert  # planning.tasks imports this module

    if permanent or delivery.attempts >= MAX_ATTEMPTS:
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED, last_error=error, next_attempt_at=None
        )
        logger.error(
            "alert %s: gave up the %s delivery to %s after %s attempt(s): %s",
            delivery.alert_id,
            delivery.channel,
            delivery.target,
            delivery.attempts,
            error,
        )
        return AlertDelivery.Status.FAILED
    delay = retry_delay_seconds(attempts=delivery.attempts)
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.RETRYING,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    logger.warning(
        "alert %s: %s delivery to %s failed (attempt %s of %s), retrying in %s s: %s",
        delivery.alert_id,
        delivery.channel,
        delivery.target,
        delivery.attempts,
        MAX_ATTEMPTS,
        delay,
        error,
    )
    transaction.on_commit(partial(deliver_alert.apply_async, args=[delivery.pk], countdown=delay))
    return AlertDelivery.Status.RETRYING


def deliveries_retry_due() -> int:
    """Queue every delivery whose retry is due (and every pending one whose task was lost); give up the ones a dead
    worker left "sending", since they may have gone out. Returns how many deliveries were queued."""
    from planning.tasks import deliver_alert  # planning.tasks imports this module

    now = timezone.now()
    _stuck_deliveries_fail(now=now)
    due = list(
        AlertDelivery.objects.filter(
            Q(status=AlertDelivery.Status.RETRYING, next_attempt_at__lte=now)
            | Q(status=AlertDelivery.Status.PENDING, created_at__lte=now - PENDING_REQUEUE_AFTER)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for delivery_id in due:
        transaction.on_commit(partial(deliver_alert.delay, delivery_id))
    return len(due)


def _stuck_deliveries_fail(*, now: datetime) -> None:
    cutoff = now - STUCK_SENDING_AFTER
    stuck = Q(status=AlertDelivery.Status.SENDING) & (
        Q(next_attempt_at__lte=cutoff) | Q(next_attempt_at__isnull=True, created_at__lte=cutoff)
    )
    for delivery in AlertDelivery.objects.filter(stuck).order_by("pk"):
        # Conditional again: the send may have finished since the rows were read.
        if AlertDelivery.objects.filter(stuck, pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED, last_error=STUCK_SENDING_ERROR, next_attempt_at=None
        ):
            logger.error(
                "alert %s: %s delivery to %s stuck sending since %s: %s",
                delivery.alert_id,
                delivery.channel,
                delivery.target,
                delivery.next_attempt_at or delivery.created_at,
                STUCK_SENDING_ERROR,
            )


# What the messages say.


def alert_summary(*, alert: Alert) -> str:
    """One line saying what happened, e.g. "Budget 'Search monthly' forecast to overrun: 72% likely"."""
    budget_name = alert.budget.name if alert.budget is not None else ""
    if alert.kind == Alert.Kind.FORECAST_OVERRUN:
        likely = f": {alert.level:.0%} likely" if alert.level is not None else ""
        return f"Budget '{budget_name}' forecast to overrun{likely}"
    if alert.kind == Alert.Kind.THRESHOLD:
        crossed = f"{alert.level:.0%} of its amount" if alert.level is not None else "a threshold"
        return f"Budget '{budget_name}' crossed {crossed}"
    scope = f" in {alert.scope}" if alert.scope else ""
    return f"Unusual spend{scope} on {alert.period_start.isoformat()}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _alert_scope(alert: Alert) -> str:
    if alert.scope or alert.budget is None:
        return alert.scope
    return alert.budget.scope_label()


def _alert_facts(*, delivery: AlertDelivery) -> list[tuple[str, str]]:
    alert = delivery.alert
    facts = [("Organization", alert.organization.name)]
    if alert.budget is not None:
        facts.append(("Budget", alert.budget.name))
    facts += [
        ("Scope", _alert_scope(alert) or "organization"),
        ("Period starting" if alert.budget is not None else "Day", alert.period_start.isoformat()),
        ("Opened", f"{alert.opened_at:%Y-%m-%d %H:%M %Z}"),
        ("Status", alert.get_status_display()),
        ("Event", delivery.event),
    ]
    return facts


def _email_send(*, delivery: AlertDelivery) -> None:
    alert = delivery.alert
    summary = alert_summary(alert=alert)
    reopened = " (reopened)" if delivery.event.startswith("reopened") else ""
    facts = _alert_facts(delivery=delivery)
    text = "\n".join(
        [
            summary + reopened,
            "",
            alert.message,
            "",
            *(f"{label}: {value}" for label, value in facts),
            "",
            "You receive this as an owner of a Tokencast budget.",
        ]
    )
    html = format_html(
        '<div style="font-family: Helvetica, Arial, sans-serif; font-size: 14px; color: #1f2933; max-width: 640px;">'
        '<h2 style="font-size: 18px; margin: 0 0 12px 0; color: #b42318;">{}{}</h2>'
        '<div style="margin: 0 0 16px 0; line-height: 1.5;">{}</div>'
        '<table style="border-collapse: collapse; font-size: 13px;">{}</table>'
        '<p style="margin: 16px 0 0 0; font-size: 12px; color: #616e7c;">'
        "You receive this as an owner of a Tokencast budget.</p></div>",
        summary,
        reopened,
        mark_safe(linebreaks(alert.message, autoescape=True)),  # linebreaks escaped the message
        format_html_join(
            "",
            '<tr><td style="padding: 2px 12px 2px 0; color: #616e7c;">{}</td>'
            '<td style="padding: 2px 0; font-weight: 600;">{}</td></tr>',
            facts,
        ),
    )
    message = EmailMultiAlternatives(
        subject=f"[Tokencast] {summary}{reopened}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.target],
        headers={"X-Tokencast-Alert": str(alert.pk), DELIVERY_HEADER: str(delivery.pk)},
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT or EMAIL_TIMEOUT_SECONDS),
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        refusals = "; ".join(
            f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for address, (code, reply) in error.recipients.items()
        )
        raise DeliveryFailed(f"address refused: {refusals}", permanent=True) from error
    except smtplib.SMTPResponseException as error:
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        raise DeliveryFailed(f"SMTP {error.smtp_code}: {reply[:ERROR_EXCERPT_CHARS]}") from error
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"SMTP error: {error or type(error).__name__}") from error


# Webhooks.


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Tokencast-Signature`` of a webhook POST: ``sha256=`` and the hex HMAC-SHA256, keyed by the webhook's
    secret, of the ``X-Tokencast-Timestamp`` value (unix seconds), a dot, and the raw body bytes.

    A receiver recomputes it from the raw body and compares with ``hmac.compare_digest``, and rejects an old
    timestamp (say, more than five minutes off) so a captured request cannot be replayed. A webhook without a secret
    sends no signature.
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_payload(*, delivery: AlertDelivery) -> dict[str, Any]:
    """The JSON POSTed for a delivery: Slack-compatible ``text`` (one line, no links, &, < and > escaped as Slack
    requires) and the ``alert`` itself for receivers that act on it."""
    alert = delivery.alert
    text = f"[Tokencast] {alert_summary(alert=alert)}. {_one_line(alert.message)}"
    return {
        "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        "alert": {
            "id": alert.pk,
            "kind": alert.kind,
            "status": alert.status,
            "organization": alert.organization.slug,
            "budget_id": alert.budget_id,
            "budget_name": alert.budget.name if alert.budget is not None else None,
            "period_start": alert.period_start.isoformat(),
            "scope": _alert_scope(alert),
            "level": alert.level,
            "message": alert.message,
            "details": alert.details,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "event": delivery.event,
        },
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the signed POST into a GET without its body: count it as a failed answer instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _webhook_post(*, delivery: AlertDelivery) -> None:
    webhook = delivery.webhook
    if webhook is None:
        raise DeliveryFailed("the webhook was deleted", permanent=True)
    if not webhook.active:
        raise DeliveryFailed("the webhook was deactivated", permanent=True)
    if urllib.parse.urlsplit(webhook.url).scheme not in ("http", "https"):
        raise DeliveryFailed(f"not an http(s) URL: {webhook.url}", permanent=True)
    body = json.dumps(webhook_payload(delivery=delivery), cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tokencast",
        TIMESTAMP_HEADER: timestamp,
        DELIVERY_HEADER: str(delivery.pk),
    }
    if webhook.secret:
        headers[SIGNATURE_HEADER] = webhook_signature(secret=webhook.secret, timestamp=timestamp, body=body)
    request = urllib.request.Request(webhook.url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
            answer = response.read(ERROR_EXCERPT_CHARS)
    except urllib.error.HTTPError as error:
        with error:
            status, answer = error.code, error.read(ERROR_EXCERPT_CHARS)
    except urllib.error.URLError as error:
        raise DeliveryFailed(f"connection failed: {error.reason}") from error
    except TimeoutError as error:
        raise DeliveryFailed(f"no answer within {WEBHOOK_TIMEOUT_SECONDS} s") from error
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryFailed(f"connection failed: {error or type(error).__name__}") from error
    if not 200 <= status < 300:
        excerpt = answer.decode(errors="replace")[:ERROR_EXCERPT_CHARS]
        raise DeliveryFailed(f"HTTP {status}: {excerpt}")
