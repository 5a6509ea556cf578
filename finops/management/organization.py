"""The one way management commands resolve ``--org SLUG``: the organization, or a CommandError that lists the
slugs there are."""

from __future__ import annotations

from django.core.management.base import CommandError

from finops.models import Organization


def organization_for_command(slug: str) -> Organization:
    """The organization with ``slug``; a CommandError naming the known slugs otherwise."""
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        known = ", ".join(Organization.objects.order_by("slug").values_list("slug", flat=True)[:20]) or "none yet"
        raise CommandError(f"no organization {slug!r} (known: {known}); create one with manage.py org_create")
    return organization
