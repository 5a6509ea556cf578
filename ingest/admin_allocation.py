"""The allocation rule's preview in the admin: what saving the rule as it stands on the form (or deleting it) would
re-allocate, before anything is saved: rows, tokens and cost, and each from-team -> to-team move
(``ingest.allocation.allocation_rule_preview``).

The change form (``admin/finops/allocationrule/change_form.html``) posts itself here with its Preview button; with
JavaScript the answer is shown under the form, without it as a page of its own. Hooked in by
``AllocationRuleAdmin.get_urls``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from ingest.allocation import allocation_rule_preview

PAGE_TEMPLATE = "admin/ingest/allocation_preview.html"
RESULT_TEMPLATE = "admin/ingest/allocation_preview_result.html"
FRAGMENT_HEADER = "X-Tokencast-Fragment"


def allocation_preview_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:  # type: ignore[type-arg]
    """The preview's URL (``?rule=<id>`` for an existing rule), to put first in the rule admin's ``get_urls``."""

    def view(request: HttpRequest) -> HttpResponse:
        return allocation_preview_view(request, model_admin)

    return [path("preview/", model_admin.admin_site.admin_view(view), name="finops_allocationrule_preview")]


def allocation_preview_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:  # type: ignore[type-arg]
    """POST: the change form's fields (and ``_preview=delete`` to preview deleting the rule). The form is checked as
    saving would check it; a rule of another organization is a 404, a rule the user may not change a 403."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    rule_id = request.GET.get("rule", "")
    rule = model_admin.get_object(request, rule_id) if rule_id else None
    if rule_id and rule is None:
        raise Http404("no such allocation rule among yours")
    allowed = model_admin.has_change_permission(request, rule) if rule else model_admin.has_add_permission(request)
    if not allowed:
        raise PermissionDenied
    delete = request.POST.get("_preview") == "delete" and rule is not None
    form_class = model_admin.get_form(request, rule, change=rule is not None)
    form = form_class(request.POST, instance=rule)
    context: dict[str, Any] = {"form": form, "delete": delete, "rule": rule}
    if delete:
        assert rule is not None
        context["preview"] = allocation_rule_preview(rule=rule, delete=True)
    elif form.is_valid():
        proposed = form.instance  # the unsaved rule with the form's values
        try:
            context["preview"] = allocation_rule_preview(rule=proposed)
        except ValidationError as error:
            context["problems"] = error.messages
        context["proposed"] = proposed
    if request.headers.get(FRAGMENT_HEADER):
        return TemplateResponse(request, RESULT_TEMPLATE, context)
    context.update(
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": "Preview of the allocation rule",
        }
    )
    return TemplateResponse(request, PAGE_TEMPLATE, context)
