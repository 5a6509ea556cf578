"""Admin page for the reconciliation: billed vs list cost per provider, model and month, flagged drift first.

Served under the ledger's admin (``/admin/ingest/ledgerentry/reconciliation/``): this module replaces
the ledger's admin registration with a subclass that adds the page, and is loaded by ``ingest/admin.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from finops.models import Organization
from finops.selectors import organizations_for_user
from ingest.admin import LedgerEntryAdmin
from ingest.models import LedgerEntry
from ingest.reconciliation import DEFAULT_THRESHOLD, ReconciliationLine, ledger_reconciliation
from ingest.selectors import TOKEN_TYPES

RECONCILIATION_TEMPLATE = "admin/ingest/reconciliation.html"


class ReconciliationForm(forms.Form):
    organization: forms.ModelChoiceField[Organization] = forms.ModelChoiceField(
        queryset=Organization.objects.none(), to_field_name="slug"
    )
    threshold = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=6,
        decimal_places=4,
        initial=DEFAULT_THRESHOLD,
        required=False,
        help_text="Flag drift larger than this fraction (0.1 = 10%).",
    )
    date_from = forms.DateField(required=False, help_text="YYYY-MM-DD")
    date_to = forms.DateField(required=False, help_text="YYYY-MM-DD")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations_for_user(user=user)  # type: ignore[attr-defined]


def _money(value: Decimal | None) -> str:
    return "none" if value is None else f"{value:,.6f}"


def _reconciliation_table(lines: list[ReconciliationLine]) -> SafeString:
    if not lines:
        return mark_safe("<p>No token or billed rows in the ledger for this selection.</p>")
    ordered = sorted(lines, key=lambda line: not line.flagged)
    header = "".join(f"<th>{token_type}</th>" for token_type in TOKEN_TYPES)
    rows = format_html_join(
        "",
        '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
        "<td>{}</td><td>{}</td></tr>",
        (
            (
                "flagged" if line.flagged else "",
                line.month.isoformat()[:7],
                line.provider,
                line.model,
                format_html_join("", "<td>{}</td>", ((f"{line.tokens[t]:,}",) for t in TOKEN_TYPES)),
                ", ".join(f"{amount:,.6f} {currency}" for currency, amount in sorted(line.billed.items())) or "none",
                _money(line.billed_usd),
                _money(line.list_cost),
                "none" if line.drift is None else f"{line.drift * 100:+.2f}%",
                "yes" if line.flagged else "",
                format_html_join(mark_safe("<br>"), "{}", ((reason,) for reason in line.reasons)),
            )
            for line in ordered
        ),
    )
    return format_html(
        '<table id="reconciliation" style="width:100%"><tr><th>Month</th><th>Route</th><th>Model</th>{}'
        "<th>Billed</th><th>Billed (USD)</th><th>List (USD)</th><th>Drift</th><th>Flagged</th><th>Why</th></tr>"
        "{}</table>",
        mark_safe(header),
        rows,
    )


class LedgerEntryReconciliationAdmin(LedgerEntryAdmin):
    """The ledger admin plus its reconciliation page."""

    def get_urls(self) -> list[Any]:
        page = path(
            "reconciliation/",
            self.admin_site.admin_view(self.reconciliation_view),
            name="ingest_ledgerentry_reconciliation",
        )
        return [page, *super().get_urls()]

    def reconciliation_view(self, request: HttpRequest) -> HttpResponse:
        """Pick an organization (and a threshold); the table lists flagged lines first with their reasons."""
        form = ReconciliationForm(request.GET or None, user=request.user)
        result = None
        if form.is_bound and form.is_valid():
            lines = ledger_reconciliation(
                organization=form.cleaned_data["organization"],
                threshold=form.cleaned_data["threshold"]
                if form.cleaned_data["threshold"] is not None
                else DEFAULT_THRESHOLD,
                date_from=form.cleaned_data["date_from"],
                date_to=form.cleaned_data["date_to"],
            )
            result = _reconciliation_table(lines)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Reconciliation: billed vs list price",
            "intro": "Per provider, model and month: billed cost against tokens x the list price in force each day. "
            "Drift = billed / list - 1.",
            "form": form,
            "method": "get",
            "submit_label": "Reconcile",
            "result": result,
        }
        return TemplateResponse(request, RECONCILIATION_TEMPLATE, context)


admin.site.unregister(LedgerEntry)
admin.site.register(LedgerEntry, LedgerEntryReconciliationAdmin)
