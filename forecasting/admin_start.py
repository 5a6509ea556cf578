"""Admin page "Start a forecast run" (``/admin/forecasting/forecastrun/start/``): organization, price scenario (the
built-in ones and the organization's own), migration policy, horizon and interval. The run is queued by
``forecasting.services.forecast_run_create``, the service the API's POST calls, and needs the analyst role, as
there. Hooked in by ``ForecastRunAdmin.get_urls``; the changelist links to it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from finops.models import Organization, Role
from finops.selectors import OrganizationAccessDenied, organization_for_user, organizations_for_role
from forecasting.models import PriceScenario
from forecasting.projection import POLICIES, SCENARIOS
from forecasting.services import MAX_HORIZON_DAYS, forecast_run_create

POLICY_LABELS = {
    "stay": "Stay: keep each model (its price drifts)",
    "follow_tier": "Follow the tier: move with the vendor's tier",
    "cheapest_at_bar": "Cheapest at the quality bar",
}
START_TEMPLATE = "admin/forecasting/forecastrun/start.html"


class ForecastStartForm(forms.Form):
    """What a run is started with; the scenario must be built in or the chosen organization's own."""

    organization: forms.ModelChoiceField[Organization] = forms.ModelChoiceField(
        queryset=Organization.objects.none(), to_field_name="slug"
    )
    scenario = forms.ChoiceField(help_text="A built-in price scenario, or one of the organization's own.")
    policy = forms.ChoiceField(
        choices=[(name, POLICY_LABELS.get(name, name)) for name in POLICIES],
        initial="stay",
        help_text="How the models in use migrate as prices move.",
    )
    horizon_days = forms.IntegerField(min_value=1, max_value=MAX_HORIZON_DAYS, initial=365, help_text="Days ahead.")
    interval_width = forms.FloatField(
        min_value=0.5, max_value=0.99, initial=0.8, help_text="Width of the main interval (0.8 = 80%)."
    )

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]
        only = list(organizations[:2])
        if len(only) == 1:
            self.fields["organization"].initial = only[0].slug
            self.fields["organization"].empty_label = None  # type: ignore[attr-defined]
        own: dict[str, list[tuple[str, str]]] = {}
        for scenario in PriceScenario.objects.filter(organization__in=organizations).select_related("organization"):
            own.setdefault(f"{scenario.organization.name}'s scenarios", []).append((scenario.name, scenario.name))
        self.fields["scenario"].choices = [  # type: ignore[attr-defined]
            ("Built in", [(name, name) for name in SCENARIOS]),
            *own.items(),
        ]
        self.fields["scenario"].initial = "base"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization, scenario = cleaned.get("organization"), cleaned.get("scenario")
        if organization is None or not scenario or scenario in SCENARIOS:
            return cleaned
        if not PriceScenario.objects.filter(organization=organization, name=scenario).exists():
            self.add_error("scenario", f"{scenario!r} is not a scenario of {organization.name}.")
        return cleaned


def forecast_start_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:  # type: ignore[type-arg]
    """The start page's URL, to put first in the run admin's ``get_urls``."""

    def view(request: HttpRequest) -> HttpResponse:
        return forecast_start_view(request, model_admin)

    return [path("start/", model_admin.admin_site.admin_view(view), name="forecasting_forecastrun_start")]


def forecast_start_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:  # type: ignore[type-arg]
    """Start a run: the form (the organization from ``?organization=`` when given), then the service; on success,
    the run's page."""
    organizations = organizations_for_role(user=request.user, min_role=Role.ANALYST).order_by("slug")
    initial = {"organization": request.GET["organization"]} if request.GET.get("organization") else {}
    form = ForecastStartForm(request.POST or None, organizations=organizations, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            organization = organization_for_user(
                user=request.user, slug=data["organization"].slug, min_role=Role.ANALYST
            )
            run = forecast_run_create(
                organization=organization,
                horizon_days=data["horizon_days"],
                interval_width=data["interval_width"],
                scenario=data["scenario"],
                policy=data["policy"],
                user=request.user,
            )
        except (OrganizationAccessDenied, ValueError) as error:
            form.add_error(None, str(error))
        else:
            run.refresh_from_db()
            messages.success(
                request,
                f"Forecast run #{run.pk} for {organization.name} ({run.scenario} scenario, {run.policy} policy, "
                f"{run.horizon_days} days): {run.get_status_display()}.",
            )
            return HttpResponseRedirect(reverse("admin:forecasting_forecastrun_change", args=[run.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Start a forecast run",
        "form": form,
        "allowed": organizations.exists(),
    }
    return TemplateResponse(request, START_TEMPLATE, context)
