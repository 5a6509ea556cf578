"""Admin for the core domain, plus the mixin that scopes every admin list to the user's organizations."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from finops.models import Membership, ModelPrice, Organization, Team
from finops.selectors import organizations_for_user


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
    list_display = ["slug", "name", "reporting_currency", "created_at"]
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


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["provider", "model", "token_type", "usd_per_million", "effective_from"]
    list_filter = ["provider", "token_type"]
    search_fields = ["model"]


admin.site.site_header = "Tokencast"
admin.site.site_title = "Tokencast"
admin.site.index_title = "Token FinOps"
