"""Admin for the core domain, plus the mixin that scopes every admin list to the user's organizations.

The price book: catalog models (with their price-history table and chart), list prices (filter by
the day they are in force on, a price-in-force lookup, a CSV import), the change log, multipliers,
organization overrides and FX rates (with a CSV import). Every write goes through a service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from rest_framework.authtoken.models import TokenProxy

from finops.catalog import FileRejected, text_lines
from finops.charts import price_history_chart_svg
from finops.models import (
    CatalogModel,
    CatalogModelAlias,
    FxRate,
    Membership,
    ModelPrice,
    ModelQualityScore,
    Organization,
    PriceChange,
    PriceMultiplier,
    PriceOverride,
    Role,
    Team,
)
from finops.selectors import (
    PriceQuote,
    catalog_model_prices,
    organizations_for_role,
    organizations_for_user,
    price_quotes,
    prices_in_force,
)
from finops.services import (
    ImportResult,
    fx_rates_import,
    membership_add,
    membership_remove,
    membership_role_change,
    membership_validate,
    model_price_delete,
    model_price_save,
    price_override_delete,
    price_override_save,
    prices_import,
    team_delete,
    team_save,
)

FORM_PAGE_TEMPLATE = "admin/finops/form_page.html"


class OrganizationListFilter(admin.SimpleListFilter):
    """Filter by organization, offering only the organizations the user belongs to."""

    title = "organization"
    parameter_name = "organization"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(org.pk), org.name) for org in organizations_for_user(user=request.user)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value():
            return queryset.filter(organization_id=self.value())
        return queryset


def users_of(organizations: QuerySet[Organization]) -> QuerySet[Any]:
    """Users who are members of any of these organizations."""
    return get_user_model().objects.filter(memberships__organization__in=organizations).distinct()


class RoleScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The one rule of the admin for an organization's data, the same as the API's.

    Staff see the rows of the organizations they are members of (superusers see all). Adding, changing
    and deleting need ``write_role`` (deleting: ``delete_role``, default the same) in the row's
    organization; Django's model permissions play no part. Every foreign-key choice (organization, team,
    user, run, budget...) lists only what belongs to the organizations the user may write to, and the
    organization starts chosen when there is only one.
    """

    organization_field = "organization"
    write_role: str = Role.ADMIN
    delete_role: str | None = None

    def writable_organizations(self, request: HttpRequest, *, role: str | None = None) -> QuerySet[Organization]:
        return organizations_for_role(user=request.user, min_role=role or self.write_role)

    def organization_id_of(self, obj: Any) -> int | None:
        if self.organization_field == "pk":
            return int(obj.pk)
        value = obj
        for part in self.organization_field.split("__"):
            value = getattr(value, part, None)
        return value.pk if value is not None else None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organization_field}__in": organizations_for_user(user=request.user)})

    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and (user.is_superuser or user.memberships.exists()))  # type: ignore[union-attr]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not self.has_module_permission(request):
            return False
        return (
            obj is None
            or organizations_for_user(user=request.user).filter(pk=self.organization_id_of(obj) or 0).exists()
        )

    def _may(self, request: HttpRequest, obj: Any, role: str) -> bool:
        if request.user.is_active and request.user.is_superuser:
            return True
        writable = self.writable_organizations(request, role=role)
        if obj is None:
            return writable.exists()
        return writable.filter(pk=self.organization_id_of(obj) or 0).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may(request, None, self.write_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj, self.write_role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj, self.delete_role or self.write_role)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        writable = list(self.writable_organizations(request)[:2])
        if len(writable) == 1 and self.organization_field == "organization":
            initial.setdefault("organization", str(writable[0].pk))
        return initial

    def scoped_choices(self, request: HttpRequest, related_model: Any) -> QuerySet[Any] | None:
        """The choices of a foreign key to ``related_model``: only what the user's writable organizations hold."""
        writable = self.writable_organizations(request)
        if related_model is Organization:
            return writable
        if related_model is get_user_model():
            return users_of(writable)
        field_names = {field.name for field in related_model._meta.get_fields()}
        if "organization" in field_names:
            return related_model._default_manager.filter(organization__in=writable)
        if "run" in field_names:
            return related_model._default_manager.filter(run__organization__in=writable)
        return None

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = self.scoped_choices(request, db_field.related_model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = self.scoped_choices(request, db_field.related_model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class SharedDataAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Data every organization shares (the catalog, list prices, multipliers, quality scores, FX rates):
    any staff member reads it; only superusers change it, since a change re-prices every organization."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


class OrganizationInline(admin.TabularInline):  # type: ignore[type-arg]
    """An inline on the organization page, writable by that organization's admins only."""

    extra = 0

    def _admin_of(self, request: HttpRequest, organization: Any) -> bool:
        if organization is None:
            return bool(request.user.is_superuser)
        return organizations_for_role(user=request.user, min_role=Role.ADMIN).filter(pk=organization.pk).exists()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin_of(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin_of(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin_of(request, obj)


class TeamInline(OrganizationInline):
    model = Team


class MembershipInline(OrganizationInline):
    """Members, read-only here: they are managed on the Memberships page, through the membership services."""

    model = Membership
    fields = ["user", "role"]
    readonly_fields = ["user", "role"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._admin_of(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(RoleScopedAdmin):
    """An organization's settings and teams (its admins change them); creating or deleting one is for
    superusers."""

    organization_field = "pk"
    list_display = ["slug", "name", "reporting_currency", "holiday_country", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [TeamInline, MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(Team)
class TeamAdmin(RoleScopedAdmin):
    """Teams: their organization's admins manage them through ``team_save`` and ``team_delete``."""

    list_display = ["name", "organization", "owner_email"]
    list_filter = [OrganizationListFilter]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        save_through_service(request, form, lambda: team_save(team=obj, values={}, actor=request.user))

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        team_delete(team=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        for team in queryset.select_related("organization"):
            team_delete(team=team, actor=request.user)


class MembershipForm(forms.ModelForm):  # type: ignore[type-arg]
    """Add a member (a user of your organizations, or anyone invited by e-mail) or change a role."""

    email = forms.EmailField(required=False, help_text="Invite by e-mail instead of choosing a user.")

    class Meta:
        model = Membership
        fields = ["organization", "user", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            self.fields["user"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        adding = self.instance.pk is None
        if adding and bool(cleaned.get("user")) == bool(cleaned.get("email")):
            raise ValidationError("Choose a user or give an e-mail address to invite, not both.")
        organization = cleaned.get("organization") if adding else self.instance.organization
        if organization is not None and cleaned.get("role"):
            membership_validate(
                organization=organization,
                role=cleaned["role"],
                user=cleaned.get("user") if adding else None,
                membership=None if adding else Membership.objects.get(pk=self.instance.pk),
            )
        return cleaned

    def validate_unique(self) -> None:
        """Duplicates are refused by the membership service, with its message."""


@admin.register(Membership)
class MembershipAdmin(RoleScopedAdmin):
    """Members and their roles: only an organization's admins see and manage them, through the membership
    services."""

    form = MembershipForm
    list_display = ["user", "email", "organization", "role"]
    list_filter = [OrganizationListFilter, "role"]
    search_fields = ["user__username", "user__email"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Members are listed to their organization's admins only, as in the API."""
        return super().get_queryset(request).filter(organization__in=self.writable_organizations(request))

    @admin.display(description="e-mail")
    def email(self, membership: Membership) -> str:
        return str(membership.user.email)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["role"] if obj is not None else ["organization", "user", "email", "role"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["organization", "user"] if obj is not None else []

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["organization", "user", "role"] if obj is not None else self.get_fields(request)
        return [(None, {"fields": fields})]

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        save_through_service(request, form, lambda: self._save(request, obj, form, change))

    def _save(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        if change:
            membership_role_change(membership=obj, actor=request.user, role=form.cleaned_data["role"])
            return
        user = form.cleaned_data.get("user")
        saved = membership_add(
            organization=form.cleaned_data["organization"],
            actor=request.user,
            role=form.cleaned_data["role"],
            username=user.get_username() if user else None,
            email=form.cleaned_data.get("email") or None,
        )
        obj.pk, obj.user, obj.role = saved.pk, saved.user, saved.role

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            membership_remove(membership=membership, actor=request.user)


def save_through_service(request: HttpRequest, form: Any, save: Callable[[], object]) -> None:
    """Run a service from ``save_model``; a rule it refuses is shown on the page instead of a server error.

    The forms check the same rules first, so this only catches what changed in between (a race)."""
    try:
        save()
    except ValidationError as error:
        messages.error(request, "Not saved: " + "; ".join(error.messages))
        raise PermissionDenied("; ".join(error.messages)) from error


class InForceOnFilter(admin.SimpleListFilter):
    """Only the prices in force on a day: ``today``, or any ``YYYY-MM-DD`` in the URL (``?in_force_on=2025-03-01``)."""

    title = "in force on"
    parameter_name = "in_force_on"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [("today", "today")]
        value = self.value()
        if value and value != "today":
            choices.append((value, value))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            on = timezone.now().date() if value == "today" else date.fromisoformat(value)
        except ValueError:
            messages.warning(request, f"'in force on' needs a date as YYYY-MM-DD, not {value!r}.")
            return queryset
        return queryset.filter(pk__in=prices_in_force(on=on).values("pk"))


class PriceFileForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, wide (provider,model,effective_date,input_per_mtok,output_per_mtok,cached_input_per_mtok,"
        "currency,source) or long (provider,model,token_type,usd_per_million,effective_from,currency,source). "
        "Rejected whole on any problem."
    )


class FxFileForm(forms.Form):
    file = forms.FileField(help_text="CSV: date,from_currency,to_currency,rate,source (1 from_currency = rate to).")


class PriceInForceForm(forms.Form):
    model = forms.CharField(max_length=160, help_text="As the ledger or a price source spells it.")
    provider = forms.CharField(max_length=60, required=False, help_text="Empty: every route.")
    on = forms.DateField(required=False, help_text="YYYY-MM-DD; empty: today.")
    organization: forms.ModelChoiceField[Organization] = forms.ModelChoiceField(
        queryset=Organization.objects.none(), required=False, to_field_name="slug", help_text="Apply its overrides."
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations_for_user(user=user)  # type: ignore[attr-defined]


def _file_import_page(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,  # type: ignore[type-arg]
    *,
    form_class: type[forms.Form],
    run: Callable[..., ImportResult],
    title: str,
    intro: str,
) -> HttpResponse:
    """Shared import page: the file goes to ``run(lines=..., filename=...)``; problems are listed one per row."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    form = form_class(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        incoming = form.cleaned_data["file"]
        try:
            result = run(lines=text_lines(incoming.read()), filename=incoming.name)
        except FileRejected as error:
            problems = [str(problem) for problem in error.errors]
        else:
            messages.success(
                request,
                f"Imported {incoming.name}: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged.",
            )
            opts = model_admin.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "intro": intro,
        "form": form,
        "problems": problems,
        "multipart": True,
        "submit_label": "Import",
    }
    return TemplateResponse(request, FORM_PAGE_TEMPLATE, context)


def _quotes_table(quotes: list[PriceQuote], *, with_organization: bool) -> SafeString:
    if not quotes:
        return mark_safe("<p>No price in force for this model on that day.</p>")
    header = "<tr><th>Route</th><th>Token type</th><th>TTL</th><th>USD / M</th><th>From</th><th>To</th>"
    header += "<th>Catalog id</th><th>Source</th>"
    header += "<th>Your price</th><th>Adjustment</th></tr>" if with_organization else "</tr>"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
        (
            (
                quote.provider,
                quote.token_type,
                quote.cache_ttl or "",
                quote.list_usd_per_million if quote.list_usd_per_million is not None else "none",
                quote.effective_from or "",
                quote.effective_to or "",
                quote.priced_model,
                quote.source,
                format_html("<td>{}</td><td>{}</td>", quote.usd_per_million, quote.override or "list price")
                if with_organization
                else "",
            )
            for quote in quotes
        ),
    )
    return format_html('<table id="prices-in-force" style="width:100%">{}{}</table>', mark_safe(header), rows)


@admin.register(ModelPrice)
class ModelPriceAdmin(SharedDataAdmin):
    """List prices: filter by route, token type, start date or the day in force; import a file; look up a price."""

    list_display = ["provider", "model", "token_type", "cache_ttl", "usd_per_million", "effective_from", "effective_to"]
    list_filter = ["provider", "token_type", ("effective_from", admin.DateFieldListFilter), InForceOnFilter]
    search_fields = ["model"]
    date_hierarchy = "effective_from"

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: Any, change: bool) -> None:
        model_price_save(price=obj, user=request.user)

    def delete_model(self, request: HttpRequest, obj: ModelPrice) -> None:
        model_price_delete(price=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ModelPrice]) -> None:
        for price in queryset:
            model_price_delete(price=price, user=request.user)

    def get_urls(self) -> list[Any]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="finops_modelprice_import"),
            path("in-force/", self.admin_site.admin_view(self.in_force_view), name="finops_modelprice_in_force"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Price-file import: the same service as ``manage.py prices_import``."""
        return _file_import_page(
            request,
            self,
            form_class=PriceFileForm,
            run=lambda lines, filename: prices_import(lines=lines, filename=filename, user=request.user),
            title="Import list prices",
            intro="Every row is checked first; one problem rejects the whole file and the catalog stays as it was. "
            "Each change is kept in the price change log with your name.",
        )

    def in_force_view(self, request: HttpRequest) -> HttpResponse:
        """Price-in-force lookup: the prices of a model on a day (aliases and overrides as at ingest)."""
        form = PriceInForceForm(request.GET or None, user=request.user)
        result = None
        if form.is_bound and form.is_valid():
            organization = form.cleaned_data["organization"]
            quotes = price_quotes(
                model=form.cleaned_data["model"],
                on=form.cleaned_data["on"] or timezone.now().date(),
                provider=form.cleaned_data["provider"] or None,
                organization=organization,
            )
            result = _quotes_table(quotes, with_organization=organization is not None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Price in force",
            "intro": "The list price of each token type on a day, per route, as the price book applies it.",
            "form": form,
            "method": "get",
            "submit_label": "Look up",
            "result": result,
        }
        return TemplateResponse(request, FORM_PAGE_TEMPLATE, context)


@admin.register(PriceChange)
class PriceChangeAdmin(SharedDataAdmin):
    """The change log of the list-price catalog: read-only, kept forever."""

    list_display = [
        "changed_at",
        "action",
        "provider",
        "model",
        "token_type",
        "cache_ttl",
        "effective_from",
        "old_usd_per_million",
        "new_usd_per_million",
        "via",
        "changed_by",
        "source",
    ]
    list_filter = ["action", "via", "provider", "token_type"]
    search_fields = ["model", "source"]
    date_hierarchy = "changed_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CatalogModelAliasInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CatalogModelAlias
    extra = 0
    fields = ["provider", "alias", "priority", "derived"]
    readonly_fields = ["derived"]


class QualityScoreInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ModelQualityScore
    extra = 0
    fields = ("model", "score_name", "score", "as_of", "source")
    readonly_fields = ("model", "score_name", "score", "as_of", "source")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CatalogModel)
class CatalogModelAdmin(SharedDataAdmin):
    """Catalog models with aliases, quality scores, and their price history as a table and a chart."""

    list_display = ["provider", "model_id", "canonical_id", "family", "tier", "release_date", "deprecation_date"]
    list_filter = ["provider", "tier", "family"]
    search_fields = ["model_id", "canonical_id"]
    raw_id_fields = ["successor", "long_context_base"]
    readonly_fields = ["canonical_id", "price_history_chart", "price_history_table"]
    inlines = [CatalogModelAliasInline, QualityScoreInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("provider", "model_id", "canonical_id"),
                    ("family", "tier"),
                    ("release_date", "deprecation_date", "successor"),
                    ("context_window", "long_context_base", "long_context_above_tokens"),
                ]
            },
        ),
        ("Price history", {"fields": ["price_history_chart", "price_history_table"]}),
    ]

    @admin.display(description="chart")
    def price_history_chart(self, catalog_model: CatalogModel) -> SafeString:
        series: dict[str, list[tuple[date, Any]]] = {}
        for price in catalog_model_prices(catalog_model=catalog_model):
            label = f"{price.token_type} ({price.cache_ttl})" if price.cache_ttl else price.token_type
            series.setdefault(label, []).append((price.effective_from, price.usd_per_million))
        if not series:
            return mark_safe("no prices")
        svg = price_history_chart_svg(series=series, title=str(catalog_model), until=timezone.now().date())
        return format_html('<div id="price-history-chart" style="background:#fff">{}</div>', mark_safe(svg))

    @admin.display(description="steps")
    def price_history_table(self, catalog_model: CatalogModel) -> SafeString:
        prices = list(catalog_model_prices(catalog_model=catalog_model))
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="{}">{}</a></td></tr>',
            (
                (
                    price.token_type,
                    price.cache_ttl,
                    price.effective_from,
                    price.effective_to or "",
                    price.usd_per_million,
                    reverse("admin:finops_pricechange_changelist") + f"?q={price.model}",
                    price.source,
                )
                for price in prices
            ),
        )
        return format_html(
            '<table id="price-history"><tr><th>Token type</th><th>TTL</th><th>From</th><th>To</th>'
            "<th>USD / M</th><th>Source (change log)</th></tr>{}</table>",
            rows,
        )


@admin.register(PriceMultiplier)
class PriceMultiplierAdmin(SharedDataAdmin):
    list_display = ["provider", "kind", "multiplier", "token_types", "source"]
    list_filter = ["kind", "provider"]


@admin.register(ModelQualityScore)
class ModelQualityScoreAdmin(SharedDataAdmin):
    list_display = ["model", "provider", "score_name", "score", "as_of", "catalog_model"]
    list_filter = ["score_name", "as_of", "provider"]
    search_fields = ["model", "canonical_id"]
    raw_id_fields = ["catalog_model"]


@admin.register(PriceOverride)
class PriceOverrideAdmin(RoleScopedAdmin):
    """Negotiated prices per organization: a discount per provider or model, or a custom price. Its admins
    manage them; every change re-prices the organization's ledger (``price_override_save``)."""

    list_display = ["organization", "describe", "provider", "model", "token_type", "effective_from", "effective_to"]
    list_filter = [OrganizationListFilter, "provider"]
    search_fields = ["model", "note"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: PriceOverride, form: Any, change: bool) -> None:
        save_through_service(request, form, lambda: price_override_save(override=obj, user=request.user))

    def delete_model(self, request: HttpRequest, obj: PriceOverride) -> None:
        price_override_delete(override=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for override in queryset:
            price_override_delete(override=override, user=request.user)


@admin.register(FxRate)
class FxRateAdmin(SharedDataAdmin):
    """Dated exchange rates: enter one, or import a CSV (the same service as ``manage.py fx_import``)."""

    list_display = ["rate_date", "from_currency", "to_currency", "rate", "source"]
    list_filter = ["from_currency", "to_currency"]
    date_hierarchy = "rate_date"

    def get_urls(self) -> list[Any]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="finops_fxrate_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        return _file_import_page(
            request,
            self,
            form_class=FxFileForm,
            run=fx_rates_import,
            title="Import FX rates",
            intro="Every row is checked first; one problem rejects the whole file. A rate for a pair and day "
            "already present is replaced.",
        )


class SuperuserOnly:
    """Accounts and groups span every organization: only superusers manage them (members are managed per
    organization, on the Memberships page)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


class SuperuserOnlyUserAdmin(SuperuserOnly, UserAdmin):  # type: ignore[type-arg]
    pass


class SuperuserOnlyGroupAdmin(SuperuserOnly, GroupAdmin):
    pass


for _model, _admin_class in ((get_user_model(), SuperuserOnlyUserAdmin), (Group, SuperuserOnlyGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
# API tokens are secrets: no admin page lists them (each user gets theirs from ``user_create --token`` or the
# token endpoint).
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)

admin.site.site_header = "Tokencast"
admin.site.site_title = "Tokencast"
admin.site.index_title = "Token FinOps"
