"""Member endpoints for organization admins: list the members of the organizations you administer, add an existing
user (by username) or invite someone (by e-mail), change a member's role, remove a member. The membership services
hold the rules (admins only, the last admin stays); this module translates HTTP."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from finops.models import Membership, Role
from finops.permissions import organization_from_request
from finops.selectors import organizations_for_role
from finops.services import membership_add, membership_remove, membership_role_change


class MemberOutputSerializer(serializers.ModelSerializer[Membership]):
    organization = serializers.CharField(source="organization.slug", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "organization", "username", "email", "role"]


class MemberAddSerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False, help_text="One of the organizations you administer.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)
    username = serializers.CharField(
        required=False, allow_blank=True, help_text="An existing user who shares one of your organizations."
    )
    email = serializers.CharField(
        required=False, allow_blank=True, help_text="Invite by e-mail (an account is made when none has it)."
    )


class MemberRoleSerializer(serializers.Serializer[None]):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")
    username = django_filters.CharFilter(field_name="user__username")

    class Meta:
        model = Membership
        fields = ["organization", "role", "username"]


class MemberViewSet(ModelViewSet[Membership]):
    """Members of the organizations you administer (admins only)."""

    serializer_class = MemberOutputSerializer
    filterset_class = MemberFilter
    ordering_fields = ["id", "role", "user__username"]
    ordering = ["organization__slug", "user__username"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        admin_of = organizations_for_role(user=self.request.user, min_role=Role.ADMIN)
        return Membership.objects.filter(organization__in=admin_of).select_related("organization", "user")

    @extend_schema(request=MemberAddSerializer, responses={201: MemberOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        organization = organization_from_request(request, slug=values.get("organization"), min_role=Role.ADMIN)
        membership = membership_add(
            organization=organization,
            actor=request.user,
            role=values["role"],
            username=values.get("username") or None,
            email=values.get("email") or None,
        )
        return Response(MemberOutputSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRoleSerializer, responses=MemberOutputSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        data = MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_role_change(membership=membership, actor=request.user, role=data.validated_data["role"])
        return Response(MemberOutputSerializer(membership).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership_remove(membership=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
