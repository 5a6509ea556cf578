"""Sending the monthly forecast e-mails: each owner of an organization's budgets gets one per month, on the 1st in
the organization's time zone, and opt-outs and the unsubscribe link.

Exactly once. Each (organization, owner address, month) has one ``ForecastEmailDelivery`` row, under a unique
constraint, and nothing is sent before the row is claimed:

* the first sender claims with a conditional insert (INSERT ... ON CONFLICT DO NOTHING, status "sending",
  attempt 1, a fresh ``claim_token``), committed at once; a second sender's insert does nothing (PostgreSQL makes it
  wait until the first commits), and reading the row back it finds another sender's token; so two beat processes,
  a retried task, or the command run beside the task, cannot both send;
* a row is claimed again only by one conditional UPDATE: from "retrying" (a temporary failure: SMTP 4xx, the
  server unreachable, an e-mail that could not be composed), or from "sending" older than ``STALE_CLAIM_AFTER`` (its
  worker died), each claim adding one to ``attempts`` and writing a new token; a sender finishes (sent, retrying,
  failed) only the claim it still holds (its token unchanged);
* a refused address (SMTP 5xx, e.g. 550 user unknown) or an invalid one is marked "failed" at once, logged, and the
  others are sent on; so is an unexpected error while sending (whether the message went out is unknown); after
  ``MAX_ATTEMPTS`` a retrying or stale row fails too, so nothing retries forever.

What is not exactly once. A worker that dies after claiming leaves a "sending" row; ``STALE_CLAIM_AFTER`` later
the next run claims it again and sends, so a crash before the send skips no owner. But a worker that dies after the
SMTP server accepted the message and before "sent" is committed (the time between the server's final "250" and one
UPDATE: milliseconds) cannot be told apart from one that died before sending, and its owner gets a second copy.
Likewise a sender stuck for longer than ``STALE_CLAIM_AFTER`` (composing, say; the SMTP timeout itself is 30 s) can
be overtaken, and both send. Choosing at-least-once in that window, over skipping the owner, is deliberate (the
alternative, giving up stale claims as alert deliveries do, would lose a month's e-mail to every crash before the
send). The duplicate is visible and deduplicable: every attempt carries the same ``Message-ID``
(``forecast_email_message_id``), which some mail stores (Gmail, for one) use to drop a second copy and anyone can
compare; the row's ``attempts`` shows the retry; and a sender whose claim was taken over logs a warning.

When. ``forecast_emails_send_due`` runs hourly from beat: for an organization whose local date is the 1st it sends
the month's e-mails (each later run that day sends to owners the earlier ones missed, e.g. after beat was down,
and changes nothing for the others); on other days it only finishes the month's retrying and stale deliveries.

Run the senders outside a transaction (tasks and commands do): a claim must be committed before its send.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from finops.models import Organization, Role
from finops.selectors import role_require
from planning.models import ForecastEmailDelivery, ForecastEmailOptOut
from planning.monthly_email import (
    ForecastEmail,
    forecast_email_compose,
    forecast_email_message,
    forecast_email_message_id,
    unsubscribe_token_read,
)
from planning.monthly_report import (
    MonthFigures,
    Recipient,
    forecast_email_month,
    forecast_email_recipients,
    organization_local_date,
)

logger = logging.getLogger(__name__)

STALE_CLAIM_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 24
EMAIL_TIMEOUT_SECONDS = 30
ERROR_EXCERPT_CHARS = 300

Status = ForecastEmailDelivery.Status


class SendFailed(Exception):
    """One attempt did not deliver; ``permanent`` failures (a refused or invalid address) are not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OwnerOutcome:
    """What one run did for one owner: ``outcome`` is one of sent, failed, retrying, already sent, in progress,
    opted out, would send (dry run) or redirected (``--to``)."""

    address: str
    budgets: int
    outcome: str
    detail: str = ""


@dataclass
class SendResult:
    """One organization's run for one month."""

    organization: Organization
    month: date
    outcomes: list[OwnerOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.outcomes:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
        return counts

    def summary(self) -> str:
        counts = self.counts()
        parts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items())) or "no owners"
        return f"{self.organization.slug} {self.month:%Y-%m}: {parts}"


def forecast_emails_send(
    *,
    organization: Organization,
    month: date | None = None,
    dry_run: bool = False,
    to: str | None = None,
    unfinished_only: bool = False,
    progress: Callable[[OwnerOutcome], None] | None = None,
) -> SendResult:
    """Send ``month``'s e-mail (default: the organization's current local month) to each owner who has not had it.

    ``dry_run`` composes every e-mail and sends and records nothing; ``to`` sends every owner's e-mail to that one
    address instead and records nothing; ``unfinished_only`` sends only to owners whose delivery is retrying or
    stale. ``progress`` hears of each owner as they are done. Failures are recorded and logged, never raised.
    """
    month = (month or forecast_email_month(organization=organization)).replace(day=1)
    result = SendResult(organization=organization, month=month)
    _exhausted_fail(organization=organization, month=month)
    recipients = forecast_email_recipients(organization=organization, month=month)
    if unfinished_only:
        unfinished = set(_reclaimable(organization, month).values_list("address", flat=True))
        recipients = [recipient for recipient in recipients if recipient.key in unfinished]
    opted_out = set(ForecastEmailOptOut.objects.filter(organization=organization).values_list("address", flat=True))
    figures = MonthFigures(organization=organization, month=month)
    for recipient in recipients:
        if recipient.key in opted_out:
            outcome = OwnerOutcome(recipient.address, len(recipient.budgets), "opted out")
        elif dry_run or to:
            outcome = _rehearse(recipient=recipient, figures=figures, to=to)
        else:
            outcome = _owner_send(recipient=recipient, figures=figures)
        result.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return result


def _rehearse(*, recipient: Recipient, figures: MonthFigures, to: str | None) -> OwnerOutcome:
    """``--dry-run`` (compose only) or ``--to`` (send to another address): nothing is recorded."""
    budgets = len(recipient.budgets)
    try:
        email = forecast_email_compose(recipient=recipient, figures=figures)
    except Exception as error:
        logger.exception("forecast e-mail for %s could not be composed", recipient.address)
        return OwnerOutcome(recipient.address, budgets, "failed", f"could not compose: {error}")
    if to is None:
        existing = ForecastEmailDelivery.objects.filter(
            organization=figures.organization, address=recipient.key, month=figures.month
        ).first()
        detail = f"{email.subject}; delivery {existing.status}" if existing else email.subject
        return OwnerOutcome(recipient.address, budgets, "would send", detail)
    try:
        _smtp_send(email=email, to=to)
    except SendFailed as failure:
        return OwnerOutcome(recipient.address, budgets, "failed", f"to {to}: {failure}")
    return OwnerOutcome(recipient.address, budgets, "redirected", f"sent to {to}")


def _reclaimable(organization: Organization, month: date) -> QuerySet[ForecastEmailDelivery]:
    """The month's deliveries another attempt may claim: retrying, or left "sending" by a dead worker."""
    stale = Q(status=Status.SENDING, claimed_at__lte=timezone.now() - STALE_CLAIM_AFTER)
    return ForecastEmailDelivery.objects.filter(
        Q(status=Status.RETRYING) | stale, organization=organization, month=month, attempts__lt=MAX_ATTEMPTS
    )


def _claim(*, recipient: Recipient, organization: Organization, month: date) -> ForecastEmailDelivery | None:
    """The owner's delivery of the month, claimed for this sender; None when it is sent, failed, or held by
    another sender.

    First a conditional insert (INSERT ... ON CONFLICT DO NOTHING): of any number of senders exactly one inserts
    the row. Otherwise one conditional UPDATE takes over a retrying or stale claim: PostgreSQL re-checks the
    condition on the locked row, so of two senders only one gets it. Either way the sender reads its own
    ``claim_token`` back to know it holds the claim.
    """
    now = timezone.now()
    token = uuid.uuid4()
    key = {"organization": organization, "address": recipient.key, "month": month}
    ForecastEmailDelivery.objects.bulk_create(
        [
            ForecastEmailDelivery(
                **key,
                user=recipient.user,
                status=Status.SENDING,
                attempts=1,
                claim_token=token,
                claimed_at=now,
                budgets=len(recipient.budgets),
                message_id=forecast_email_message_id(organization=organization, month=month, address=recipient.key),
            )
        ],
        ignore_conflicts=True,
    )
    delivery = ForecastEmailDelivery.objects.select_related("organization").get(**key)
    if delivery.claim_token == token:
        return delivery
    taken = (
        _reclaimable(organization, month)
        .filter(pk=delivery.pk)
        .update(
            status=Status.SENDING,
            attempts=F("attempts") + 1,
            claim_token=token,
            claimed_at=now,
            budgets=len(recipient.budgets),
        )
    )
    return ForecastEmailDelivery.objects.select_related("organization").get(pk=delivery.pk) if taken else None


NOT_CLAIMED = {Status.SENT: "already sent", Status.FAILED: "failed before", Status.SENDING: "in progress"}


def _owner_send(*, recipient: Recipient, figures: MonthFigures) -> OwnerOutcome:
    """Claim the owner's delivery, compose and send the e-mail, and record how it went."""
    organization, month = figures.organization, figures.month
    budgets = len(recipient.budgets)
    delivery = _claim(recipient=recipient, organization=organization, month=month)
    if delivery is None:
        existing = ForecastEmailDelivery.objects.get(organization=organization, address=recipient.key, month=month)
        outcome = NOT_CLAIMED.get(Status(existing.status), "in progress")
        return OwnerOutcome(recipient.address, budgets, outcome, f"{existing.attempts} attempt(s)")
    try:
        email = forecast_email_compose(recipient=recipient, figures=figures)
    except Exception as error:
        # Nothing went out: recorded and logged, tried again by the next run; the other owners are still sent.
        logger.exception("forecast e-mail of %s for %s could not be composed", organization.slug, recipient.address)
        status = _failure_record(delivery=delivery, error=f"could not compose: {error}", permanent=False)
        return OwnerOutcome(recipient.address, budgets, status, f"could not compose: {error}")
    try:
        _smtp_send(email=email, to=None)
    except SendFailed as failure:
        status = _failure_record(delivery=delivery, error=str(failure), permanent=failure.permanent)
        return OwnerOutcome(recipient.address, budgets, status, str(failure))
    except Exception as error:
        # A fault of ours while sending: whether anything went out is unknown, so it is not sent again.
        logger.exception("forecast e-mail of %s to %s failed unexpectedly", organization.slug, recipient.address)
        status = _failure_record(delivery=delivery, error=f"internal error: {error}", permanent=True)
        return OwnerOutcome(recipient.address, budgets, status, f"internal error: {error}")
    finished = ForecastEmailDelivery.objects.filter(pk=delivery.pk, claim_token=delivery.claim_token).update(
        status=Status.SENT, sent_at=timezone.now(), last_error=""
    )
    if not finished:  # another sender took the claim over as stale while this one was still sending
        logger.warning("forecast e-mail to %s sent, but its claim had been taken over", recipient.address)
    return OwnerOutcome(recipient.address, budgets, "sent", email.message_id)


def _failure_record(*, delivery: ForecastEmailDelivery, error: str, permanent: bool) -> str:
    """Store a failed attempt of the claim held: retrying (the next run sends again) or failed (given up)."""
    give_up = permanent or delivery.attempts >= MAX_ATTEMPTS
    status = Status.FAILED if give_up else Status.RETRYING
    ForecastEmailDelivery.objects.filter(pk=delivery.pk, claim_token=delivery.claim_token).update(
        status=status, last_error=error[:ERROR_EXCERPT_CHARS]
    )
    log = logger.error if give_up else logger.warning
    log(
        "forecast e-mail of %s for %s to %s: %s after attempt %s: %s",
        delivery.organization.slug,
        f"{delivery.month:%Y-%m}",
        delivery.address,
        "gave up" if give_up else "will retry",
        delivery.attempts,
        error,
    )
    return str(status)


def _exhausted_fail(*, organization: Organization, month: date) -> None:
    """Stale claims that used up their attempts fail, with why, instead of staying "sending"."""
    stale = timezone.now() - STALE_CLAIM_AFTER
    ForecastEmailDelivery.objects.filter(
        organization=organization, month=month, status=Status.SENDING, claimed_at__lte=stale, attempts__gte=MAX_ATTEMPTS
    ).update(status=Status.FAILED, last_error=f"gave up after {MAX_ATTEMPTS} attempts (workers stopped while sending)")


def _smtp_reply(reply: bytes | str) -> str:
    return (reply.decode(errors="replace") if isinstance(reply, bytes) else reply)[:ERROR_EXCERPT_CHARS]


def _smtp_send(*, email: ForecastEmail, to: str | None) -> None:
    """Send through the configured backend; SMTP answers become ``SendFailed`` (5xx permanent, 4xx temporary)."""
    address = to or email.to
    try:
        validate_email(address)
    except ValidationError as error:
        raise SendFailed(f"invalid address {address!r}", permanent=True) from error
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT or EMAIL_TIMEOUT_SECONDS)
    message = forecast_email_message(email=email, to=to, connection=connection)
    try:
        # Opened here, so sending leaves it open: an error at QUIT, after the server accepted the message, is not
        # taken for a failed send (and sent again).
        connection.open()
        message.send()
    except smtplib.SMTPRecipientsRefused as error:
        refusals = "; ".join(f"{rcpt}: {code} {_smtp_reply(reply)}" for rcpt, (code, reply) in error.recipients.items())
        permanent = all(code >= 500 for code, _ in error.recipients.values())
        raise SendFailed(f"address refused: {refusals}", permanent=permanent) from error
    except smtplib.SMTPResponseException as error:
        reply = _smtp_reply(error.smtp_error)
        raise SendFailed(f"SMTP {error.smtp_code}: {reply}", permanent=error.smtp_code >= 500) from error
    except (smtplib.SMTPException, OSError) as error:
        raise SendFailed(f"SMTP error: {error or type(error).__name__}", permanent=False) from error
    finally:
        _connection_close(connection)


def _connection_close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # the message's fate was decided before; a failed goodbye changes nothing
        logger.warning("closing the SMTP connection failed", exc_info=True)


def forecast_emails_send_due(*, now: datetime | None = None) -> int:
    """Hourly from beat: queue the month's e-mails of every organization whose local date is the 1st, and the
    unfinished ones (retrying, stale) of the others' current month. Returns how many organizations were queued."""
    from planning.tasks import send_forecast_emails  # planning.tasks imports this module

    now = now or timezone.now()
    queued = 0
    for organization in Organization.objects.order_by("pk"):
        try:
            local_day = organization_local_date(organization=organization, now=now)
            month = local_day.replace(day=1)
            unfinished_only = local_day.day != 1
            if unfinished_only and not _reclaimable(organization, month).exists():
                continue
            send_forecast_emails.delay(organization.pk, month.isoformat(), unfinished_only)
        except Exception:  # one organization's failure (say, a time zone saved around validation) stops no other
            logger.exception("forecast e-mails of %s not queued", organization.slug)
            continue
        queued += 1
    return queued


# Opting out and in.


def forecast_email_opt_out(
    *,
    organization: Organization,
    address: str,
    source: str = ForecastEmailOptOut.Source.ADMIN,
    actor: User | AnonymousUser | None = None,
) -> ForecastEmailOptOut:
    """Stop the monthly e-mail to ``address`` (any case) in ``organization``; doing it again changes nothing.
    ``actor``: the user acting in the admin (an admin of the organization), None for the signed link."""
    role_require(user=actor, organization=organization, min_role=Role.ADMIN)
    validate_email(address.strip())
    opt_out, _ = ForecastEmailOptOut.objects.get_or_create(
        organization=organization, address=address.strip().lower(), defaults={"source": source}
    )
    return opt_out


def forecast_email_opt_in(
    *, organization: Organization, address: str, actor: User | AnonymousUser | None = None
) -> bool:
    """Send the monthly e-mail to ``address`` again; True when it had opted out."""
    role_require(user=actor, organization=organization, min_role=Role.ADMIN)
    deleted, _ = ForecastEmailOptOut.objects.filter(organization=organization, address=address.strip().lower()).delete()
    return bool(deleted)


class UnsubscribeInvalid(ValueError):
    """The unsubscribe token was tampered with, or names an organization that no longer exists."""


def forecast_email_unsubscribe(*, token: str, subscribe: bool = False) -> tuple[Organization, str]:
    """Opt the token's owner out (or back in with ``subscribe``); returns their organization and address.
    Raises ``UnsubscribeInvalid`` for a token that does not verify."""
    try:
        organization_id, address = unsubscribe_token_read(token)
    except signing.BadSignature as error:
        raise UnsubscribeInvalid("this unsubscribe link is not valid") from error
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None or not address:
        raise UnsubscribeInvalid("this unsubscribe link is no longer valid")
    if subscribe:
        forecast_email_opt_in(organization=organization, address=address)
    else:
        forecast_email_opt_out(organization=organization, address=address, source=ForecastEmailOptOut.Source.LINK)
    return organization, address
