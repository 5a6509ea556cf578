"""Admin for uploads (with an upload form that takes the same path as the API) and the ledger."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from finops.admin import OrganizationListFilter, RoleScopedAdmin
from finops.models import AllocationRule, ModelAlias, Organization, Role
from finops.selectors import OrganizationAccessDenied, organization_for_user, organizations_for_role
from ingest.admin_allocation import allocation_preview_urls
from ingest.allocation import (
    allocation_rule_delete,
    allocation_rule_save,
    allocation_rule_validate,
    model_alias_delete,
    model_alias_save,
)
from ingest.models import LedgerEntry, Upload
from ingest.parsers import FORMATS, IngestError, RowError
from ingest.services import upload_create, upload_delete


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
        organizations = organizations_for_role(user=user, min_role=Role.ANALYST)
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]
        only = list(organizations[:2])
        if len(only) == 1:  # a member of one organization starts with it chosen
            self.fields["organization"].initial = only[0].slug


@admin.register(Upload)
class UploadAdmin(RoleScopedAdmin):
    """Uploads: analysts upload (the upload page), nobody edits one, admins delete one with its ledger lines
    (``upload_delete``, logged)."""

    write_role = Role.ANALYST
    delete_role = Role.ADMIN
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

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Upload) -> None:
        removed = upload_delete(upload=obj, user=request.user)
        messages.info(request, f"Removed {removed:,} ledger lines of upload #{obj.pk}.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Upload]) -> None:
        for upload in queryset.select_related("organization"):
            upload_delete(upload=upload, user=request.user)

    def get_urls(self) -> list[Any]:
        upload_url = path("upload/", self.admin_site.admin_view(self.upload_view), name="ingest_upload_upload")
        return [upload_url, *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:ingest_upload_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Upload form: the file is checked at once; ingest runs on the worker. Analysts and admins only."""
        if not self.has_add_permission(request):
            raise PermissionDenied
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


class AllocationRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    """Checks the rule as the service will (the team must be the rule's organization's)."""

    class Meta:
        model = AllocationRule
        fields = ["organization", "dimension", "value", "team", "priority"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("organization") and cleaned.get("team"):
            proposed = AllocationRule(**{name: cleaned.get(name) for name in self.Meta.fields})
            proposed.pk = self.instance.pk
            proposed._state.adding = self.instance.pk is None
            allocation_rule_validate(rule=proposed)
        return cleaned


@admin.register(AllocationRule)
class AllocationRuleAdmin(RoleScopedAdmin):
    """Rules that map ledger rows to teams (analysts edit them); a change re-allocates the organization's ledger
    through ``allocation_rule_save``."""

    form = AllocationRuleForm
    write_role = Role.ANALYST
    list_display = ["organization", "dimension", "value", "team", "priority"]
    list_filter = [OrganizationListFilter, "dimension"]

    def save_model(self, request: HttpRequest, obj: AllocationRule, form: Any, change: bool) -> None:
        matched = allocation_rule_save(rule=obj, user=request.user)
        messages.info(request, f"Re-allocated the ledger of {obj.organization}: {matched:,} rows matched a rule.")

    def delete_model(self, request: HttpRequest, obj: AllocationRule) -> None:
        allocation_rule_delete(rule=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AllocationRule]) -> None:
        for rule in queryset.select_related("organization"):
            allocation_rule_delete(rule=rule, user=request.user)

    def get_urls(self) -> list[Any]:
        return [*allocation_preview_urls(self), *super().get_urls()]


@admin.register(ModelAlias)
class ModelAliasAdmin(RoleScopedAdmin):
    """Your own names for exported models (analysts edit them); a change re-derives the model of existing
    ledger rows through ``model_alias_save``."""

    write_role = Role.ANALYST
    list_display = ["organization", "provider", "model_raw", "model"]
    list_filter = [OrganizationListFilter, "provider"]
    search_fields = ["model_raw", "model"]

    def save_model(self, request: HttpRequest, obj: ModelAlias, form: Any, change: bool) -> None:
        changed = model_alias_save(alias=obj, user=request.user)
        messages.info(request, f"Re-mapped models in the ledger of {obj.organization}: {changed:,} rows changed.")

    def delete_model(self, request: HttpRequest, obj: ModelAlias) -> None:
        model_alias_delete(alias=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelAlias]) -> None:
        for alias in queryset.select_related("organization"):
            model_alias_delete(alias=alias, user=request.user)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RoleScopedAdmin):
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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from ingest import admin_reconciliation  # noqa: E402, F401  (the reconciliation page)
