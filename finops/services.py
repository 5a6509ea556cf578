"""Writes of the core domain: organizations, memberships, teams."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import slugify

from finops.models import Membership, ModelPrice, Organization, Role, Team


def organization_create(*, slug: str, name: str | None = None) -> tuple[Organization, bool]:
    """Create the organization ``slug`` unless it exists; return it and whether it was created."""
    clean_slug = slugify(slug)
    if not clean_slug or clean_slug != slug:
        raise ValueError(f"invalid organization slug {slug!r}: use lower-case letters, digits and hyphens")
    organization, created = Organization.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return organization, created


def membership_set(*, user: User, organization: Organization, role: str = Role.VIEWER) -> Membership:
    """Give ``user`` the ``role`` in ``organization`` (creating or updating the membership)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    membership, _ = Membership.objects.update_or_create(user=user, organization=organization, defaults={"role": role})
    return membership


@transaction.atomic
def team_get_or_create(*, organization: Organization, name: str, owner_email: str = "") -> Team:
    """Return the team named ``name`` in the organization, creating it if needed."""
    team, _ = Team.objects.get_or_create(
        organization=organization,
        slug=slugify(name),
        defaults={"name": name, "owner_email": owner_email},
    )
    return team


def price_catalog_load() -> int:
    """Load the shipped list-price catalog (finops/data/price_history.csv); returns prices added.

    Idempotent: prices already present (same provider, model, token type and date) are kept.
    Migration 0002 does the same on a fresh database.
    """
    from finops.catalog import catalog_price_fields

    existing = set(ModelPrice.objects.values_list("provider", "model", "token_type", "effective_from"))
    new_prices = [ModelPrice(**fields) for key, fields in catalog_price_fields().items() if key not in existing]
    ModelPrice.objects.bulk_create(new_prices, batch_size=1000)
    return len(new_prices)
