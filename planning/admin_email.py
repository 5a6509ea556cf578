"""The admin of the monthly forecast e-mails: the delivery records (read only; an organization's admin may delete one
so the next run sends that e-mail again), the opt-outs (admins add and remove them), and a preview of any owner's
e-mail for the organizations the user belongs to, the HTML part shown as a browser renders it (charts inlined as
data: URIs) beside the text part.

Loaded by ``planning/admin.py``. Scoping is ``RoleScopedAdmin``'s, as everywhere in the admin: members see their
organizations' rows and owners; an organization nobody let them see is a 404, never a page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from finops.admin import OrganizationListFilter, RoleScopedAdmin
from finops.models import Organization
from finops.selectors import organizations_for_user
from planning.models import ForecastEmailDelivery, ForecastEmailOptOut
from planning.monthly_delivery import forecast_email_opt_in, forecast_email_opt_out
from planning.monthly_email import forecast_email_compose, forecast_email_preview_html
from planning.monthly_report import (
    MonthFigures,
    forecast_email_month,
    forecast_email_recipient,
    forecast_email_recipients,
)


def _month_param(request: HttpRequest) -> date | None:
    raw = request.GET.get("month", "")
    try:
        return date.fromisoformat(f"{raw}-01") if raw else None
    except ValueError:
        return None


@admin.register(ForecastEmailDelivery)
class ForecastEmailDeliveryAdmin(RoleScopedAdmin):
    """Who got which month's e-mail; deleting a record lets the next run send that e-mail again."""

    list_display = ["month_label", "organization", "address", "status", "attempts", "sent_at", "last_error"]
    list_filter = [OrganizationListFilter, "status", "month"]
    search_fields = ["address"]
    readonly_fields = (
        "organization",
        "month",
        "address",
        "user",
        "status",
        "attempts",
        "budgets",
        "claimed_at",
        "sent_at",
        "message_id",
        "last_error",
        "created_at",
    )
    fields = readonly_fields
    change_list_template = "admin/planning/forecastemaildelivery/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Month", ordering="month")
    def month_label(self, delivery: ForecastEmailDelivery) -> str:
        return f"{delivery.month:%Y-%m}"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        pages = [
            path("preview/", view(self.preview_list_view), name="planning_forecastemaildelivery_previews"),
            path(
                "preview/<int:organization_id>/",
                view(self.preview_view),
                name="planning_forecastemaildelivery_preview",
            ),
        ]
        return [*pages, *super().get_urls()]

    def _organizations(self, request: HttpRequest) -> QuerySet[Organization]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return organizations_for_user(user=request.user).order_by("slug")

    def preview_list_view(self, request: HttpRequest) -> HttpResponse:
        """Every owner of the user's organizations for the month (default: each organization's current one)."""
        month = _month_param(request)
        sections = []
        for organization in self._organizations(request):
            organization_month = month or forecast_email_month(organization=organization)
            deliveries = {
                item.address: item
                for item in ForecastEmailDelivery.objects.filter(organization=organization, month=organization_month)
            }
            opted_out = set(
                ForecastEmailOptOut.objects.filter(organization=organization).values_list("address", flat=True)
            )
            owners = [
                {
                    "recipient": recipient,
                    "budgets": ", ".join(budget.name for budget in recipient.budgets),
                    "opted_out": recipient.key in opted_out,
                    "delivery": deliveries.get(recipient.key),
                }
                for recipient in forecast_email_recipients(organization=organization, month=organization_month)
            ]
            sections.append({"organization": organization, "month": organization_month, "owners": owners})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Monthly forecast e-mails: preview",
            "sections": sections,
        }
        return TemplateResponse(request, "admin/planning/forecastemaildelivery/preview_list.html", context)

    def preview_view(self, request: HttpRequest, organization_id: int) -> HttpResponse:
        """One owner's e-mail (``?address=``, ``?month=YYYY-MM``) exactly as it would be sent, without sending it."""
        organization = self._organizations(request).filter(pk=organization_id).first()
        if organization is None:
            raise Http404("no such organization among yours")
        month = _month_param(request) or forecast_email_month(organization=organization)
        recipient = forecast_email_recipient(
            organization=organization, month=month, address=request.GET.get("address", "")
        )
        if recipient is None:
            raise Http404("no budget owner with this address in the organization")
        email = forecast_email_compose(
            recipient=recipient, figures=MonthFigures(organization=organization, month=month)
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Preview: {email.subject}",
            "organization": organization,
            "month": month,
            "email": email,
            "preview_html": forecast_email_preview_html(email=email),
        }
        return TemplateResponse(request, "admin/planning/forecastemaildelivery/preview.html", context)


class OptOutForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ForecastEmailOptOut
        fields = ["organization", "address"]

    def clean_address(self) -> str:
        from django.core.validators import validate_email

        address = str(self.cleaned_data["address"]).strip().lower()
        try:
            validate_email(address)
        except ValidationError as error:
            raise forms.ValidationError(f"{address!r} is not an e-mail address") from error
        return address


@admin.register(ForecastEmailOptOut)
class ForecastEmailOptOutAdmin(RoleScopedAdmin):
    """Owners who do not get the monthly forecast e-mail: add one to stop it, delete one to send it again."""

    form = OptOutForm
    list_display = ["address", "organization", "source", "created_at"]
    list_filter = [OrganizationListFilter, "source"]
    search_fields = ["address"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ForecastEmailOptOut, form: Any, change: bool) -> None:
        saved = forecast_email_opt_out(
            organization=form.cleaned_data["organization"], address=form.cleaned_data["address"], actor=request.user
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: ForecastEmailOptOut) -> None:
        forecast_email_opt_in(organization=obj.organization, address=obj.address, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ForecastEmailOptOut]) -> None:
        for item in queryset.select_related("organization"):
            self.delete_model(request, item)
