"""Access rules shared by the API: resolve the organization a request names, with the role it needs."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request

from finops.models import Organization, Role
from finops.selectors import (
    OrganizationAccessDenied,
    organization_for_user,
    organization_only_for_user,
    organizations_for_user,
)


def organization_from_request(request: Request, *, slug: str | None, min_role: str = Role.VIEWER) -> Organization:
    """The organization ``slug`` (or the caller's only one when omitted), checked against the caller's role."""
    if not slug:
        try:
            only = organization_only_for_user(user=request.user, min_role=min_role)
        except OrganizationAccessDenied as error:
            raise PermissionDenied(str(error)) from error
        if only is None:
            raise ValidationError({"organization": "required: the slug of one of your organizations"})
        return only
    try:
        return organization_for_user(user=request.user, slug=slug, min_role=min_role)
    except OrganizationAccessDenied as error:
        if organizations_for_user(user=request.user).filter(slug=slug).exists():
            raise PermissionDenied(str(error)) from error
        raise NotFound(str(error)) from error
