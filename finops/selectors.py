"""Reads of the core domain, always scoped to what the caller may see."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from finops.models import ROLE_RANK, AllocationRule, Membership, ModelAlias, ModelPrice, Organization, Role


class OrganizationAccessDenied(Exception):
    """The caller is not a member of the organization, or lacks the role the action needs."""


def organizations_for_user(*, user: User | AnonymousUser) -> QuerySet[Organization]:
    """Organizations the user belongs to (all of them for a superuser)."""
    if not user.is_authenticated:
        return Organization.objects.none()
    if getattr(user, "is_superuser", False):
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user_id=user.pk).distinct()


def organization_for_user(*, user: User | AnonymousUser, slug: str, min_role: str = Role.VIEWER) -> Organization:
    """The organization ``slug`` if the user holds at least ``min_role`` in it; else OrganizationAccessDenied."""
    organization = organizations_for_user(user=user).filter(slug=slug).first()
    if organization is None:
        raise OrganizationAccessDenied(f"no organization {slug!r} among yours")
    if getattr(user, "is_superuser", False):
        return organization
    membership = Membership.objects.filter(user_id=user.pk or 0, organization=organization).first()
    if membership is None or ROLE_RANK[Role(membership.role)] < ROLE_RANK[Role(min_role)]:
        role = membership.role if membership else "none"
        raise OrganizationAccessDenied(f"your role in {slug!r} is {role}; this needs {min_role} or higher")
    return organization


def model_aliases_for(*, organization: Organization) -> dict[tuple[str, str], str]:
    """The organization's aliases keyed by (provider or "", model_raw)."""
    return {
        (alias.provider, alias.model_raw): alias.model for alias in ModelAlias.objects.filter(organization=organization)
    }


def allocation_rules_for(*, organization: Organization) -> list[AllocationRule]:
    """The organization's allocation rules in the order they apply."""
    return list(AllocationRule.objects.filter(organization=organization).select_related("team"))


class PriceBook:
    """List prices in force on a date, loaded once for a batch of lookups."""

    def __init__(self, prices: Iterable[ModelPrice]) -> None:
        self._steps: dict[tuple[str, str, str], list[tuple[date, Decimal]]] = {}
        for price in prices:
            key = (price.provider, price.model, price.token_type)
            self._steps.setdefault(key, []).append((price.effective_from, price.usd_per_million))
        for steps in self._steps.values():
            steps.sort()

    def usd_per_million(self, *, provider: str, model: str, token_type: str, on: date) -> Decimal | None:
        """The price in force on ``on``, or None when the catalog has no price for it then."""
        steps = self._steps.get((provider, model, token_type))
        if not steps:
            return None
        in_force = None
        for effective_from, price in steps:
            if effective_from > on:
                break
            in_force = price
        return in_force


def price_book() -> PriceBook:
    """The whole list-price catalog as a PriceBook (a few thousand rows: loaded once per ingest)."""
    return PriceBook(ModelPrice.objects.all())
