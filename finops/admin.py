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
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

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
    Team,
)
from finops.selectors import (
    PriceQuote,
    catalog_model_prices,
    organizations_for_user,
    price_quotes,
    prices_in_force,
)
from finops.services import ImportResult, fx_rates_import, model_price_delete, model_price_save, prices_import
from finops.signals import send_prices_changed

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


class OrganizationScopedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Shows staff only the rows of organizations they are members of (superusers see all)."""

    organization_field = "organization"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organization_field}__in": organizations_for_user(user=request.user)})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "organization" and not request.user.is_superuser:
            kwargs["queryset"] = organizations_for_user(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0


class TeamInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Team
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    organization_field = "pk"
    list_display = ["slug", "name", "reporting_currency", "holiday_country", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [TeamInline, MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=organizations_for_user(user=request.user))


@admin.register(Team)
class TeamAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "owner_email"]
    list_filter = [OrganizationListFilter]
    search_fields = ["name"]


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
class ModelPriceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
class PriceChangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
class CatalogModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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
class PriceMultiplierAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["provider", "kind", "multiplier", "token_types", "source"]
    list_filter = ["kind", "provider"]


@admin.register(ModelQualityScore)
class ModelQualityScoreAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["model", "provider", "score_name", "score", "as_of", "catalog_model"]
    list_filter = ["score_name", "as_of", "provider"]
    search_fields = ["model", "canonical_id"]
    raw_id_fields = ["catalog_model"]


@admin.register(PriceOverride)
class PriceOverrideAdmin(OrganizationScopedAdmin):
    """Negotiated prices per organization: a discount per provider or model, or a custom price."""

    list_display = ["organization", "describe", "provider", "model", "token_type", "effective_from", "effective_to"]
    list_filter = [OrganizationListFilter, "provider"]
    search_fields = ["model", "note"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: PriceOverride, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user if request.user.is_authenticated else None  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        send_prices_changed(organization_id=obj.organization_id)

    def delete_model(self, request: HttpRequest, obj: PriceOverride) -> None:
        organization_id = obj.organization_id
        super().delete_model(request, obj)
        send_prices_changed(organization_id=organization_id)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        organization_ids = set(queryset.values_list("organization_id", flat=True))
        super().delete_queryset(request, queryset)
        for organization_id in organization_ids:
            send_prices_changed(organization_id=organization_id)


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
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


admin.site.site_header = "Tokencast"
admin.site.site_title = "Tokencast"
admin.site.index_title = "Token FinOps"
