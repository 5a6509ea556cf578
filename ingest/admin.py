"""Admin for uploads (with an upload form that takes the same path as the API) and the ledger."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from finops.admin import OrganizationListFilter, OrganizationScopedAdmin
from finops.models import AllocationRule, ModelAlias, Organization, Role
from finops.selectors import OrganizationAccessDenied, organization_for_user, organizations_for_user
from ingest.models import LedgerEntry, Upload
from ingest.parsers import FORMATS, IngestError, RowError
from ingest.services import ledger_reallocate, ledger_renormalize_models, upload_create


class UploadForm(forms.Form):
    organization: forms.ModelChoiceField[Organization] = forms.ModelChoiceField(
        queryset=Organization.objects.none(), to_field_name="slug"
    )
    file = forms.FileField(help_text="An export file from your provider (CSV).", allow_empty_file=True)
    format = forms.ChoiceField(
        choices=[("", "Detect from the header")] + [(name, module.LABEL) for name, module in sorted(FORMATS.items())],
        required=False,
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations_for_user(user=user)  # type: ignore[attr-defined]


@admin.register(Upload)
class UploadAdmin(OrganizationScopedAdmin):
    list_display = ["id", "original_name", "organization", "format", "version", "status", "records", "created_at"]
    list_filter = ["status", "format", OrganizationListFilter]
    search_fields = ["original_name", "sha256"]
    readonly_fields = [
        "organization",
        "original_name",
        "file",
        "sha256",
        "size_bytes",
        "format",
        "status",
        "duplicate_of",
        "problems",
        "summary",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    exclude = ["errors"]

    @admin.display(description="problems")
    def problems(self, upload: Upload) -> str:
        """The upload's errors, one line each: where (row, column) and what was expected."""
        if not upload.errors:
            return "none"
        lines = [str(RowError(row=e.get("row"), column=e.get("column"), message=e["message"])) for e in upload.errors]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    @admin.display(description="records")
    def records(self, upload: Upload) -> object:
        return upload.summary.get("records", "")

    @admin.display(description="version")
    def version(self, upload: Upload) -> object:
        return upload.summary.get("format_version", "")

    def get_urls(self) -> list[Any]:
        upload_url = path("upload/", self.admin_site.admin_view(self.upload_view), name="ingest_upload_upload")
        return [upload_url, *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:ingest_upload_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload form: the file is checked at once; ingest runs on the worker."""
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            organization = form.cleaned_data["organization"]
            try:
                organization_for_user(user=request.user, slug=organization.slug, min_role=Role.ANALYST)
                incoming = form.cleaned_data["file"]
                upload = upload_create(
                    organization=organization,
                    source=incoming,
                    filename=incoming.name,
                    user=request.user,
                    format_name=form.cleaned_data["format"] or None,
                )
            except (IngestError, OrganizationAccessDenied) as error:
                errors = error.errors if isinstance(error, IngestError) else []
                form.add_error("file", str(error) if not errors else "; ".join(str(e) for e in errors))
            else:
                upload.refresh_from_db()
                messages.success(request, f"Upload #{upload.pk} {upload.original_name}: {upload.get_status_display()}.")
                return HttpResponseRedirect(reverse("admin:ingest_upload_change", args=[upload.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Upload an export",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ingest/upload_form.html", context)


class LedgerRecomputingAdmin(OrganizationScopedAdmin):
    """An admin whose every save or delete re-derives something in the organization's ledger."""

    recompute_message = "Updated the ledger of {organization}: {count:,} rows."

    def recompute(self, organization: Organization) -> int:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        count = self.recompute(obj.organization)
        messages.info(request, self.recompute_message.format(organization=obj.organization, count=count))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        organization = obj.organization
        super().delete_model(request, obj)
        self.recompute(organization)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        organizations = {row.organization for row in queryset.select_related("organization")}
        super().delete_queryset(request, queryset)
        for organization in organizations:
            self.recompute(organization)


@admin.register(AllocationRule)
class AllocationRuleAdmin(LedgerRecomputingAdmin):
    """Rules that map ledger rows to teams; any change re-allocates the organization's whole ledger."""

    list_display = ["organization", "dimension", "value", "team", "priority"]
    list_filter = [OrganizationListFilter, "dimension"]
    recompute_message = "Re-allocated the ledger of {organization}: {count:,} rows matched a rule."

    def recompute(self, organization: Organization) -> int:
        return ledger_reallocate(organization=organization)


@admin.register(ModelAlias)
class ModelAliasAdmin(LedgerRecomputingAdmin):
    """Your own names for exported models; any change re-derives the model of existing ledger rows."""

    list_display = ["organization", "provider", "model_raw", "model"]
    list_filter = [OrganizationListFilter, "provider"]
    search_fields = ["model_raw", "model"]
    recompute_message = "Re-mapped models in the ledger of {organization}: {count:,} rows changed."

    def recompute(self, organization: Organization) -> int:
        return ledger_renormalize_models(organization=organization)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(OrganizationScopedAdmin):
    list_display = [
        "date",
        "provider",
        "model",
        "token_type",
        "quantity",
        "cost",
        "currency",
        "cost_basis",
        "team",
        "upload",
        "source_row",
    ]
    list_filter = ["provider", "token_type", "cost_basis", OrganizationListFilter]
    search_fields = ["model", "model_raw", "project", "api_key"]
    date_hierarchy = "date"
    list_select_related = ["team", "upload"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from ingest import admin_reconciliation  # noqa: E402, F401  (the reconciliation page)
