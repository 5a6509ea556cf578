"""The monthly forecast e-mail itself: its text and HTML parts, one inline PNG chart per budget, the CSV of its
numbers, its headers (a deterministic Message-ID, List-Unsubscribe) and the signed unsubscribe link.

``forecast_email_compose`` is the one way an owner's e-mail is made: the sending service, the management command
(also for ``--dry-run`` and ``--to``) and the admin preview all call it. The figures come from
``planning.monthly_report``; this module only words and formats them. Money is shown at its currency's minor unit
(``finops.money``): budget figures in the budget's currency (as the API gives them, normally the organization's
reporting currency), the spend by month and the savings in the reporting currency.

The MIME shape is what mail clients expect of a message with pictures in its HTML::

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html            (img src="cid:chart-<budget id>@tokencast")
          image/png            (Content-ID: <chart-<budget id>@tokencast>, inline)
      text/csv                 (attachment)

The HTML uses tables and inline styles only: no scripts, no stylesheets, no remote images.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.template.loader import render_to_string
from django.urls import reverse

from finops.api.renderers import export_cell
from finops.models import Organization
from finops.money import money_display, money_str
from planning.charts import monthly_spend_chart_png
from planning.models import Budget
from planning.monthly_report import (
    UPCOMING_MONTHS,
    BudgetReport,
    MonthFigures,
    OwnerReport,
    Recipient,
    RecommendationLine,
    UpcomingMonth,
    add_months,
    owner_report,
)
from planning.selectors import BudgetStatus

UNSUBSCRIBE_SALT = "planning.monthly_email.unsubscribe"
STATE_LABELS = {"over": "Over budget", "at_risk": "At risk", "ok": "On track"}
STATE_COLORS = {"over": "#c62828", "at_risk": "#ef6c00", "ok": "#2e7d32"}
PERIOD_WORDS = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}
CSV_COLUMNS = [
    "section",
    "budget",
    "scope",
    "period_start",
    "period_end",
    "currency",
    "amount",
    "actual",
    "actual_through",
    "forecast",
    "forecast_lower",
    "forecast_upper",
    "overrun_probability",
    "projected_breach_date",
    "monthly_savings",
    "twelve_month_savings",
    "detail",
]


@dataclass(frozen=True)
class InlineImage:
    """A picture the HTML shows through ``cid:<cid>``."""

    cid: str
    content: bytes
    filename: str


@dataclass(frozen=True)
class ForecastEmail:
    """One owner's e-mail, ready to send (``forecast_email_message``) or to preview."""

    organization: Organization
    month: date
    to: str
    subject: str
    text: str
    html: str
    csv: str
    csv_filename: str
    images: list[InlineImage] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    budgets: int = 0

    @property
    def message_id(self) -> str:
        return self.headers["Message-ID"]


# Identity and links.


def forecast_email_message_id(*, organization: Organization, month: date, address: str) -> str:
    """The same Message-ID for every attempt at one owner's e-mail of one month, so a copy sent again after a crash
    is recognizable as the same message (and collapsed by clients that deduplicate on it)."""
    digest = hashlib.sha256(f"{organization.pk}:{month:%Y-%m}:{address.lower()}".encode()).hexdigest()[:24]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "tokencast.invalid"
    return f"<forecast-{organization.pk}-{month:%Y%m}-{digest}@{domain}>"


def unsubscribe_token(*, organization: Organization, address: str) -> str:
    """A signed token naming the organization and the owner's address (no expiry: old e-mails' links keep
    working); ``unsubscribe_token_read`` refuses any change to it."""
    return signing.dumps({"organization": organization.pk, "address": address.lower()}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token_read(token: str) -> tuple[int, str]:
    """The organization id and address of a token; ``signing.BadSignature`` when it was tampered with."""
    payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    if not isinstance(payload, dict) or not isinstance(payload.get("organization"), int):
        raise signing.BadSignature("not an unsubscribe token")
    return payload["organization"], str(payload.get("address", ""))


def unsubscribe_url(*, organization: Organization, address: str) -> str:
    token = unsubscribe_token(organization=organization, address=address)
    return settings.TOKENCAST_BASE_URL + reverse("forecast-email-unsubscribe", args=[token])


# What the e-mail says, as text for both parts.


def _money(amount: Decimal | None, currency: str) -> str:
    return "-" if amount is None else money_display(amount, currency)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _month_label(month: date) -> str:
    return month.strftime("%B %Y")


def _period_label(status: BudgetStatus) -> str:
    """ "April 2026" for a month, "2026-04-01 to 2026-06-30" for a quarter or a year."""
    if status.budget.period == Budget.Period.MONTH:
        return _month_label(status.period_start)
    return f"{status.period_start.isoformat()} to {status.period_end.isoformat()}"


def _last_period_view(status: BudgetStatus) -> dict[str, Any]:
    difference = status.actual - status.amount
    used = float(status.actual / status.amount) if status.amount else None
    return {
        "label": _period_label(status),
        "amount": _money(status.amount, status.currency),
        "actual": _money(status.actual, status.currency),
        "through": status.actual_through.isoformat() if status.actual_through else "no actuals",
        "used": _percent(used),
        "difference": (
            f"over by {_money(difference, status.currency)}"
            if difference > 0
            else f"{_money(-difference, status.currency)} left"
        ),
        "over": difference > 0,
    }


def _current_view(status: BudgetStatus) -> dict[str, Any]:
    currency = status.currency
    return {
        "label": _period_label(status),
        "amount": _money(status.amount, currency),
        "actual": _money(status.actual, currency),
        "forecast": _money(status.forecast, currency),
        "interval": f"{_money(status.forecast_lower, currency)} to {_money(status.forecast_upper, currency)}",
        "probability": _percent(status.overrun_probability),
        "breach": status.projected_breach_date.isoformat() if status.projected_breach_date else "none projected",
        "state": status.state,
        "state_label": STATE_LABELS[status.state],
        "state_color": STATE_COLORS[status.state],
        "notes": status.notes,
    }


def _budget_view(report: BudgetReport) -> dict[str, Any]:
    budget = report.budget
    currency = report.spend.currency if report.spend else ""
    upcoming = [
        {
            "label": _month_label(item.month),
            "forecast": _money(item.spend.forecast, currency) if item.spend else "not covered by the forecast",
            "interval": (
                f"{_money(item.spend.lower, currency)} to {_money(item.spend.upper, currency)}" if item.spend else ""
            ),
        }
        for item in report.upcoming
    ]
    return {
        "id": budget.pk,
        "name": budget.name,
        "scope": budget.scope_label(),
        "amount": f"{money_display(budget.amount, budget.currency)} {PERIOD_WORDS.get(budget.period, budget.period)}",
        "last": _last_period_view(report.last_period) if report.last_period else None,
        "current": _current_view(report.current) if report.current else None,
        "upcoming": upcoming,
        "interval_label": report.spend.interval_label if report.spend else "80% interval",
        "problems": report.problems,
        "chart_cid": "",
    }


def _context(report: OwnerReport, *, unsubscribe: str) -> dict[str, Any]:
    organization = report.organization
    budgets = [_budget_view(item) for item in report.budgets]
    run = report.forecast_run
    return {
        "organization": organization.name,
        "month": _month_label(report.month),
        "last_month": _month_label(report.last_month),
        "greeting": f"Hello {report.recipient.greeting_name}," if report.recipient.greeting_name else "Hello,",
        "budgets": budgets,
        "alerts": [
            {
                "kind": alert.get_kind_display(),
                "subject": alert.budget.name if alert.budget else (alert.scope or "organization"),
                "opened": alert.opened_at.date().isoformat(),
                "message": alert.message,
            }
            for alert in report.alerts
        ],
        "more_alerts": report.open_alerts - len(report.alerts),
        "recommendations": [
            {
                "title": line.recommendation.title,
                "scope": _recommendation_scope_label(line),
                "monthly": _money(line.monthly_savings, line.currency),
                "yearly": _money(line.twelve_month_savings, line.currency),
                "confidence": line.recommendation.get_confidence_display(),
            }
            for line in report.recommendations
        ],
        "forecast": (
            f"forecast run #{run.pk} (history to {run.history_end})" if run is not None else "no forecast run yet"
        ),
        "address": report.recipient.address,
        "unsubscribe_url": unsubscribe,
        "base_url": settings.TOKENCAST_BASE_URL,
    }


def _recommendation_scope_label(line: RecommendationLine) -> str:
    item = line.recommendation
    return " / ".join(part for part in (item.team, item.provider, item.model) if part) or "organization"


def _subject(report: OwnerReport) -> str:
    states = [item.current.state for item in report.budgets if item.current is not None]
    counts = [
        f"{states.count(state)} {STATE_LABELS[state].lower()}" for state in ("over", "at_risk") if state in states
    ]
    summary = f" ({', '.join(counts)})" if counts else ""
    return f"[Tokencast] {report.organization.name}: your forecast for {_month_label(report.month)}{summary}"


def _text_budget(view: dict[str, Any]) -> list[str]:
    lines = [view["name"], "-" * len(view["name"]), f"Scope: {view['scope']}; budget {view['amount']}"]
    last = view["last"]
    if last is not None:
        lines.append(
            f"Last month ({last['label']}): actual {last['actual']} of {last['amount']} ({last['used']}), "
            f"{last['difference']}; actuals through {last['through']}"
        )
    current = view["current"]
    if current is not None:
        lines += [
            f"This period ({current['label']}): {current['state_label']}",
            f"  Forecast {current['forecast']} against {current['amount']}",
            f"  80% interval: {current['interval']}",
            f"  Overrun probability: {current['probability']}",
            f"  Projected breach date: {current['breach']}",
            *(f"  Note: {note}" for note in current["notes"]),
        ]
    lines.append(f"Next three months ({view['interval_label']}):")
    lines += [
        f"  {item['label']}: {item['forecast']}" + (f" ({item['interval']})" if item["interval"] else "")
        for item in view["upcoming"]
    ]
    lines += [f"Could not be shown: {problem}" for problem in view["problems"]]
    return [*lines, ""]


def _text(context: dict[str, Any]) -> str:
    lines = [
        context["greeting"],
        "",
        f"Here is the forecast of your {len(context['budgets'])} budget(s) in {context['organization']} "
        f"for {context['month']}, with how {context['last_month']} ended. From {context['forecast']}.",
        "",
    ]
    for view in context["budgets"]:
        lines += _text_budget(view)
    lines.append(f"Open alerts: {len(context['alerts']) + context['more_alerts']}")
    lines += [
        f"  [{item['kind']}] {item['subject']} (opened {item['opened']}): {item['message']}"
        for item in context["alerts"]
    ]
    if context["more_alerts"]:
        lines.append(f"  ... and {context['more_alerts']} more in Tokencast")
    lines += ["", "Top recommendations (savings per month / over 12 months):"]
    lines += [
        f"  {item['title']} ({item['scope']}): {item['monthly']} / {item['yearly']}, {item['confidence']} confidence"
        for item in context["recommendations"]
    ] or ["  none open"]
    lines += [
        "",
        "The numbers are attached as CSV. Open Tokencast: " + context["base_url"] + "/admin/",
        "",
        f"You receive this as an owner of budgets in {context['organization']} ({context['address']}).",
        f"Unsubscribe: {context['unsubscribe_url']}",
    ]
    return "\n".join(lines) + "\n"


# The CSV of the numbers.


def _csv_status_row(section: str, budget: Budget, status: BudgetStatus) -> dict[str, Any]:
    currency = status.currency
    return {
        "section": section,
        "budget": budget.name,
        "scope": budget.scope_label(),
        "period_start": status.period_start,
        "period_end": status.period_end,
        "currency": currency,
        "amount": money_str(status.amount, currency),
        "actual": money_str(status.actual, currency),
        "actual_through": status.actual_through,
        "forecast": money_str(status.forecast, currency),
        "forecast_lower": money_str(status.forecast_lower, currency),
        "forecast_upper": money_str(status.forecast_upper, currency),
        "overrun_probability": status.overrun_probability,
        "projected_breach_date": status.projected_breach_date,
        "detail": "; ".join(status.notes),
    }


def _csv_month_row(item: BudgetReport, upcoming: UpcomingMonth, currency: str) -> dict[str, Any]:
    spend = upcoming.spend
    return {
        "section": "next_month",
        "budget": item.budget.name,
        "scope": item.budget.scope_label(),
        "period_start": upcoming.month,
        "period_end": add_months(upcoming.month, 1) - timedelta(days=1),
        "currency": currency,
        "forecast": money_str(spend.forecast, currency) if spend and spend.forecast is not None else None,
        "forecast_lower": money_str(spend.lower, currency) if spend and spend.lower is not None else None,
        "forecast_upper": money_str(spend.upper, currency) if spend and spend.upper is not None else None,
        "detail": "" if spend else "not covered by the forecast",
    }


def _csv_recommendation_row(line: RecommendationLine) -> dict[str, Any]:
    def amount(value: Decimal | None) -> str | None:
        return money_str(value, line.currency) if value is not None else None

    return {
        "section": "recommendation",
        "scope": _recommendation_scope_label(line),
        "currency": line.currency,
        "monthly_savings": amount(line.monthly_savings),
        "twelve_month_savings": amount(line.twelve_month_savings),
        "detail": line.recommendation.title,
    }


def _csv(report: OwnerReport) -> str:
    """The e-mail's numbers, one row per figure set, money as plain decimal strings (as the API gives them); text
    cells escaped (``export_cell``, the exports' rule) so no spreadsheet runs them as formulas."""
    rows: list[dict[str, Any]] = []
    for item in report.budgets:
        if item.last_period is not None:
            rows.append(_csv_status_row("last_month", item.budget, item.last_period))
        if item.current is not None:
            rows.append(_csv_status_row("current_period", item.budget, item.current))
        currency = item.spend.currency if item.spend else report.currency
        rows += [_csv_month_row(item, upcoming, currency) for upcoming in item.upcoming]
    rows += [_csv_recommendation_row(line) for line in report.recommendations]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = [export_cell(row.get(column)) for column in CSV_COLUMNS]
        writer.writerow(
            ["" if cell is None else format(cell, "f") if isinstance(cell, Decimal) else cell for cell in cells]
        )
    return buffer.getvalue()


# Charts, the message and the preview.


def _charts(report: OwnerReport, figures: MonthFigures, views: list[dict[str, Any]]) -> list[InlineImage]:
    """One PNG per budget with any spend: its scope's months up to the last one the e-mail names, rendered once
    per month's figures; each budget's view learns its chart's ``cid``."""
    images = []
    last_month_shown = add_months(report.month, UPCOMING_MONTHS)
    for item, view in zip(report.budgets, views, strict=True):
        spend = item.spend
        months = [month for month in spend.months if month.month <= last_month_shown] if spend else []
        if spend is None or not months:
            continue
        budget = item.budget
        if budget.pk not in figures.charts:
            figures.charts[budget.pk] = monthly_spend_chart_png(
                months=[(month.month, month.actual, month.forecast, month.lower, month.upper) for month in months],
                title=f"{budget.name}: spend by month, actual and forecast",
                interval_label=spend.interval_label,
                currency=spend.currency,
                budget=item.chart_budget,
            )
        cid = f"chart-{budget.pk}@tokencast"
        view["chart_cid"] = cid
        images.append(InlineImage(cid=cid, content=figures.charts[budget.pk], filename=f"budget-{budget.pk}.png"))
    return images


def forecast_email_build(*, report: OwnerReport, figures: MonthFigures) -> ForecastEmail:
    """The e-mail of an owner's report: both parts, the charts, the CSV and the headers."""
    organization, recipient = report.organization, report.recipient
    link = unsubscribe_url(organization=organization, address=recipient.key)
    context = _context(report, unsubscribe=link)
    images = _charts(report, figures, context["budgets"])
    return ForecastEmail(
        organization=organization,
        month=report.month,
        to=recipient.address,
        subject=_subject(report),
        text=_text(context),
        html=render_to_string("planning/email/monthly_forecast.html", context),
        csv=_csv(report),
        csv_filename=f"tokencast-forecast-{organization.slug}-{report.month:%Y-%m}.csv",
        images=images,
        headers={
            "Message-ID": forecast_email_message_id(
                organization=organization, month=report.month, address=recipient.key
            ),
            "List-Unsubscribe": f"<{link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "X-Tokencast-Forecast-Email": f"{organization.slug} {report.month:%Y-%m}",
        },
        budgets=len(report.budgets),
    )


def forecast_email_compose(*, recipient: Recipient, figures: MonthFigures) -> ForecastEmail:
    """An owner's e-mail for the month of ``figures``: what the sending service, the command and the admin
    preview all call."""
    return forecast_email_build(report=owner_report(recipient=recipient, figures=figures), figures=figures)


class RelatedEmail(EmailMultiAlternatives):
    """``EmailMultiAlternatives`` whose HTML alternative travels in a multipart/related with its inline images."""

    def __init__(self, *args: Any, related: list[MIMEBase] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.related = related or []

    def _create_alternatives(self, msg: Any) -> Any:
        msg = super()._create_alternatives(msg)  # type: ignore[misc]  # private in Django 5.2, absent from the stubs
        if not self.related or not self.alternatives:
            return msg
        parts = msg.get_payload()
        related = SafeMIMEMultipart(_subtype="related", encoding=self.encoding or settings.DEFAULT_CHARSET)
        related.attach(parts[-1])  # the HTML alternative, attached last
        for part in self.related:
            related.attach(part)
        msg.set_payload([*parts[:-1], related])
        return msg


def forecast_email_message(*, email: ForecastEmail, to: str | None = None, connection: Any = None) -> RelatedEmail:
    """The message to send: to the owner, or to ``to`` instead (a rehearsal, with a Message-ID of its own so it is
    not mistaken for the owner's copy)."""
    related: list[MIMEBase] = []
    for image in email.images:
        part = MIMEImage(image.content, _subtype="png")
        part.add_header("Content-ID", f"<{image.cid}>")
        part.add_header("Content-Disposition", "inline", filename=image.filename)
        related.append(part)
    headers = dict(email.headers)
    if to is not None:
        headers.pop("Message-ID")
        headers["X-Tokencast-Original-Recipient"] = email.to
    message = RelatedEmail(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to or email.to],
        headers=headers,
        connection=connection,
        related=related,
    )
    message.attach_alternative(email.html, "text/html")
    message.attach(email.csv_filename, email.csv, "text/csv")
    return message


def forecast_email_preview_html(*, email: ForecastEmail) -> str:
    """The HTML part as a browser shows it without the message around it: each ``cid:`` image as a data: URI."""
    html = email.html
    for image in email.images:
        data = base64.b64encode(image.content).decode()
        html = html.replace(f"cid:{image.cid}", f"data:image/png;base64,{data}")
    return html
