"""Admin for the finance team: budgets with their status in colour (import and export as CSV), alerts with
acknowledge, webhooks, and recommendations with accept, dismiss and snooze in place.

Writes go through the planning services, exactly as from the API; a member's role in the row's organization
decides what they may change (viewers read, analysts act on alerts and recommendations, admins manage budgets
and webhooks)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from finops.admin import FORM_PAGE_TEMPLATE, OrganizationListFilter, RoleScopedAdmin
from finops.models import Organization, Role, Team
from finops.selectors import FxRateMissing
from planning.models import Alert, AlertDelivery, Budget, Recommendation, Webhook
from planning.selectors import budget_status
from planning.services import BudgetInvalid, alert_acknowledge, budget_save, webhook_save

STATE_COLORS = {"ok": "#2e7d32", "at_risk": "#ef6c00", "over": "#c62828"}


class BudgetForm(forms.ModelForm):  # type: ignore[type-arg]
    """The budget's fields, checked by the budget service (the same messages as the API and the CSV import)."""

    owners_text = forms.CharField(
        label="Owners",
        required=False,
        help_text="E-mail addresses or members' usernames, separated by ';'.",
        widget=forms.TextInput(attrs={"size": 80}),
    )
    thresholds_text = forms.CharField(
        label="Thresholds", initial="0.8; 1.0", help_text="Fractions of the amount, separated by ';' (0 to 10)."
    )

    class Meta:
        model = Budget
        fields = [
            "organization",
            "name",
            "team",
            "provider",
            "model",
            "period",
            "starts_on",
            "ends_on",
            "amount",
            "currency",
            "overrun_alert_probability",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        budget = self.instance
        if budget.pk:
            self.initial["owners_text"] = "; ".join(
                owner.user.get_username() if owner.user else owner.email for owner in budget.owners.all()
            )
            self.initial["thresholds_text"] = "; ".join(f"{value:g}" for value in budget.thresholds)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization")
        if organization is None:
            return cleaned
        from planning.services import budget_clean

        data = self.service_data()
        try:
            budget_clean(organization=organization, data=data)
        except BudgetInvalid as error:
            for name, message in error.errors.items():
                field = {"owners": "owners_text", "thresholds": "thresholds_text"}.get(name, name)
                self.add_error(field if field in self.fields else None, message)
        return cleaned

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        team = data.get("team")
        return {
            "name": data.get("name", ""),
            "team": team if isinstance(team, Team) else None,
            "provider": data.get("provider", ""),
            "model": data.get("model", ""),
            "period": data.get("period", ""),
            "starts_on": data.get("starts_on"),
            "ends_on": data.get("ends_on"),
            "amount": data.get("amount"),
            "currency": data.get("currency", ""),
            "owners": data.get("owners_text", ""),
            "thresholds": data.get("thresholds_text", ""),
            "overrun_alert_probability": data.get("overrun_alert_probability"),
        }


class BudgetFileForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    file = forms.FileField(help_text="CSV: one row per budget and period (the shape the export writes).")

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


@admin.register(Budget)
class BudgetAdmin(RoleScopedAdmin):
    form = BudgetForm
    list_display = ["name", "organization", "scope", "period", "amount_text", "status_badge", "breach_date"]
    list_filter = [OrganizationListFilter, "period", "currency"]
    search_fields = ["name", "model", "provider", "team__name"]
    actions = ["export_csv"]
    change_list_template = "admin/planning/budget/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("team", "organization")

    @admin.display(description="Scope")
    def scope(self, budget: Budget) -> str:
        return budget.scope_label()

    @admin.display(description="Amount", ordering="amount")
    def amount_text(self, budget: Budget) -> str:
        return f"{budget.amount:,.2f} {budget.currency}"

    def _status(self, budget: Budget) -> Any:
        """The budget's status this period, computed once per row of the page (kept on the row's object)."""
        status = getattr(budget, "_status_this_period", None)
        if status is None:
            try:
                status = budget_status(budget=budget)
            except (FxRateMissing, ValueError) as error:
                status = str(error)
            budget._status_this_period = status  # type: ignore[attr-defined]
        return status

    @admin.display(description="This period")
    def status_badge(self, budget: Budget) -> SafeString:
        status = self._status(budget)
        if isinstance(status, str):
            return format_html('<span title="{}">-</span>', status)
        probability = "" if status.overrun_probability is None else f", {status.overrun_probability:.0%} overrun"
        return format_html(
            '<span class="budget-state budget-{}" style="color:#fff;background:{};padding:2px 6px;border-radius:3px">'
            "{}</span> actual {} / forecast {} (80%: {}-{}){}",
            status.state,
            STATE_COLORS[status.state],
            status.state.replace("_", " "),
            f"{status.actual:,.2f}",
            f"{status.forecast:,.2f}",
            f"{status.forecast_lower:,.2f}",
            f"{status.forecast_upper:,.2f}",
            probability,
        )

    @admin.display(description="Breach date")
    def breach_date(self, budget: Budget) -> str:
        status = self._status(budget)
        if isinstance(status, str) or status.projected_breach_date is None:
            return "-"
        return status.projected_breach_date.isoformat()

    def save_model(self, request: HttpRequest, obj: Budget, form: Any, change: bool) -> None:
        """Saved by the budget service (the form has checked the same rules)."""
        saved = budget_save(
            organization=form.cleaned_data["organization"], data=form.service_data(), budget=obj if change else None
        )
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Owners are saved by the budget service."""

    @admin.action(description="Export the selected budgets' organizations as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Budget]) -> HttpResponse:
        from planning.budget_csv import budgets_export

        organizations = {budget.organization for budget in queryset}
        if len(organizations) != 1:
            self.message_user(request, "Select budgets of one organization to export.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        organization = organizations.pop()
        response = HttpResponse(budgets_export(organization=organization), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="budgets-{organization.slug}.csv"'
        return response

    def get_urls(self) -> list[Any]:
        urls = [path("import/", self.admin_site.admin_view(self.import_view), name="planning_budget_import")]
        return urls + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Import budgets from a CSV: all rows or none, with each problem's row and column."""
        from planning.budget_csv import BudgetImportError, budgets_import

        writable = self.writable_organizations(request)
        if not writable.exists():
            raise PermissionDenied
        form = BudgetFileForm(request.POST or None, request.FILES or None, organizations=writable)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            incoming = form.cleaned_data["file"]
            try:
                # The bytes, not lines split here: the import decodes them itself (a binary or non-UTF-8 file is
                # named as such) and keeps the line breaks inside quoted cells.
                result = budgets_import(
                    organization=form.cleaned_data["organization"], lines=incoming.read(), filename=incoming.name
                )
            except BudgetImportError as error:
                problems = error.messages()
            else:
                messages.success(
                    request, f"Imported {incoming.name}: {result.created} created, {result.updated} updated."
                )
                return HttpResponseRedirect(reverse("admin:planning_budget_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": Budget._meta,
            "title": "Import budgets",
            "intro": "One row per budget and period: name, team, provider, model, period, starts_on, ends_on, "
            "amount, currency, owners, thresholds, overrun_alert_probability. "
            "Nothing is saved unless every row is valid.",
            "form": form,
            "problems": problems,
            "multipart": True,
            "submit_label": "Import",
        }
        return TemplateResponse(request, FORM_PAGE_TEMPLATE, context)


class AlertDeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AlertDelivery
    extra = 0
    can_delete = False
    fields = ("channel", "target", "event", "status", "attempts", "last_error", "sent_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(RoleScopedAdmin):
    write_role = Role.ANALYST
    list_display = ["opened_at", "organization", "kind", "budget", "period_start", "scope", "status", "message"]
    list_filter = [OrganizationListFilter, "status", "kind"]
    search_fields = ["message", "scope", "budget__name"]
    readonly_fields = (
        "organization",
        "budget",
        "kind",
        "period_start",
        "scope",
        "status",
        "level",
        "generation",
        "message",
        "details",
        "opened_at",
        "resolved_at",
        "acknowledged_at",
        "acknowledged_by",
    )
    fields = readonly_fields
    inlines = [AlertDeliveryInline]
    actions = ["acknowledge"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        allowed = queryset.filter(organization__in=self.writable_organizations(request))
        for alert in allowed:
            alert_acknowledge(alert=alert, user=request.user)
        self.message_user(request, f"{allowed.count()} alert(s) acknowledged.")


class WebhookForm(forms.ModelForm):  # type: ignore[type-arg]
    # A URL typed without a scheme is taken as https (explicit: Django 6 changes the default from http).
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="http(s) URL, e.g. a Slack incoming webhook.")
    kinds = forms.MultipleChoiceField(
        choices=Alert.Kind.choices, required=False, widget=forms.CheckboxSelectMultiple, help_text="None: every kind."
    )

    class Meta:
        model = Webhook
        fields = ["organization", "name", "url", "secret", "kinds", "active"]

    def clean_url(self) -> str:
        from planning.services import webhook_clean_url

        try:
            return webhook_clean_url(self.cleaned_data["url"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error


@admin.register(Webhook)
class WebhookAdmin(RoleScopedAdmin):
    form = WebhookForm
    list_display = ["name", "organization", "url", "kinds", "active"]
    list_filter = [OrganizationListFilter, "active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(organization__in=self.writable_organizations(request))

    def save_model(self, request: HttpRequest, obj: Webhook, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = webhook_save(
            organization=data["organization"],
            name=data["name"],
            url=data["url"],
            secret=data.get("secret", ""),
            kinds=data.get("kinds") or [],
            active=data.get("active", True),
            webhook=obj if change else None,
        )
        obj.pk = saved.pk


class DismissForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class SnoozeForm(forms.Form):
    until = forms.DateField(help_text="YYYY-MM-DD, in the future.")


@admin.register(Recommendation)
class RecommendationAdmin(RoleScopedAdmin):
    write_role = Role.ANALYST
    list_display = [
        "title",
        "organization",
        "kind",
        "team",
        "monthly_text",
        "twelve_month_text",
        "confidence",
        "quality",
        "status",
        "act",
    ]
    list_filter = [OrganizationListFilter, "kind", "status", "confidence"]
    search_fields = ["title", "team", "model", "to_model"]
    readonly_fields = (
        "organization",
        "kind",
        "title",
        "team",
        "provider",
        "model",
        "to_model",
        "monthly_savings",
        "twelve_month_savings",
        "currency",
        "confidence",
        "lower_quality",
        "quality_gap",
        "evidence",
        "status",
        "dismiss_reason",
        "snoozed_until",
        "forecast_run",
        "what_if_run",
        "acted_by",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Monthly savings", ordering="monthly_savings")
    def monthly_text(self, item: Recommendation) -> str:
        return "-" if item.monthly_savings is None else f"{item.monthly_savings:,.2f} {item.currency}"

    @admin.display(description="12-month savings", ordering="twelve_month_savings")
    def twelve_month_text(self, item: Recommendation) -> str:
        return "-" if item.twelve_month_savings is None else f"{item.twelve_month_savings:,.2f} {item.currency}"

    @admin.display(description="Quality")
    def quality(self, item: Recommendation) -> str:
        if item.lower_quality:
            return f"lower by {item.quality_gap:g}" if item.quality_gap is not None else "lower"
        return "same or better" if item.kind == Recommendation.Kind.MODEL_SWITCH else ""

    @admin.display(description="Act")
    def act(self, item: Recommendation) -> SafeString:
        if item.status != Recommendation.Status.OPEN:
            return format_html("{}", item.get_status_display())
        return format_html(
            '<a class="button" href="{}">Accept</a> <a class="button" href="{}">Dismiss</a> '
            '<a class="button" href="{}">Snooze</a>',
            reverse("admin:planning_recommendation_accept", args=[item.pk]),
            reverse("admin:planning_recommendation_dismiss", args=[item.pk]),
            reverse("admin:planning_recommendation_snooze", args=[item.pk]),
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        urls = [
            path("<int:pk>/accept/", view(self.accept_view), name="planning_recommendation_accept"),
            path("<int:pk>/dismiss/", view(self.dismiss_view), name="planning_recommendation_dismiss"),
            path("<int:pk>/snooze/", view(self.snooze_view), name="planning_recommendation_snooze"),
        ]
        return urls + super().get_urls()

    def _acted(self, request: HttpRequest, pk: int) -> Recommendation:
        item = self.get_queryset(request).filter(pk=pk).first()
        if item is None or not self.has_change_permission(request, item):
            raise PermissionDenied
        return item

    def accept_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Accept: a confirmation page, then a what-if forecast run with the change."""
        from planning.recommendations import recommendation_accept

        item = self._acted(request, pk)
        if request.method == "POST":
            try:
                run = recommendation_accept(recommendation=item, user=request.user)
            except ValueError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Accepted: what-if forecast run #{run.pk} started.")
            return HttpResponseRedirect(reverse("admin:planning_recommendation_changelist"))
        return self._form_page(request, item, forms.Form(), "Accept", f"Accept: {item.title}")

    def dismiss_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from planning.recommendations import recommendation_dismiss

        item = self._acted(request, pk)
        form = DismissForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                recommendation_dismiss(recommendation=item, reason=form.cleaned_data["reason"], user=request.user)
            except ValueError as error:  # e.g. it was accepted meanwhile
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"Dismissed: {item.title}")
                return HttpResponseRedirect(reverse("admin:planning_recommendation_changelist"))
        return self._form_page(request, item, form, "Dismiss", f"Dismiss: {item.title}")

    def snooze_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from planning.recommendations import recommendation_snooze

        item = self._acted(request, pk)
        form = SnoozeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            until: date = form.cleaned_data["until"]
            try:
                recommendation_snooze(recommendation=item, until=until, user=request.user)
            except ValueError as error:
                form.add_error("until", str(error))
            else:
                self.message_user(request, f"Snoozed until {until}: {item.title}")
                return HttpResponseRedirect(reverse("admin:planning_recommendation_changelist"))
        return self._form_page(request, item, form, "Snooze", f"Snooze: {item.title}")

    def _form_page(
        self, request: HttpRequest, item: Recommendation, form: forms.Form, label: str, title: str
    ) -> HttpResponse:
        savings = "-" if item.twelve_month_savings is None else f"{item.twelve_month_savings:,.2f} {item.currency}"
        context = {
            **self.admin_site.each_context(request),
            "opts": Recommendation._meta,
            "title": title,
            "intro": f"12-month savings: {savings}; confidence {item.confidence}.",
            "form": form,
            "problems": [],
            "submit_label": label,
        }
        return TemplateResponse(request, FORM_PAGE_TEMPLATE, context)


from planning import admin_email  # noqa: E402, F401, I001  (the monthly forecast e-mails and their preview)
from planning import admin_pages  # noqa: E402, F401  (the dashboard on the index and the model pages)
