"""Team endpoints: every member reads the teams of their organizations; organization admins create, rename and
delete them. A team with budgets cannot be deleted (409): move or delete its budgets first."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from finops.models import Organization, Role, Team
from finops.permissions import organization_from_request
from finops.selectors import organizations_for_user
from finops.services import team_delete, team_save


class TeamOutputSerializer(serializers.ModelSerializer[Team]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Team
        fields = ["id", "organization", "slug", "name", "owner_email"]


class TeamInputSerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(
        required=False, help_text="On create: one of your organizations (where you are an admin)."
    )
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=50, required=False, help_text="Default: made from the name.")
    owner_email = serializers.EmailField(required=False, allow_blank=True)


class TeamFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")

    class Meta:
        model = Team
        fields = ["organization", "slug"]


class TeamViewSet(ModelViewSet[Team]):
    """Teams of your organizations; admins create, change and delete them."""

    serializer_class = TeamOutputSerializer
    filterset_class = TeamFilter
    ordering_fields = ["id", "slug", "name"]
    ordering = ["organization__slug", "slug"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Team.objects.filter(organization__in=organizations_for_user(user=self.request.user)).select_related(
            "organization"
        )

    @extend_schema(request=TeamInputSerializer, responses={201: TeamOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = TeamInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = organization_from_request(
            request, slug=data.validated_data.get("organization"), min_role=Role.ADMIN
        )
        team = team_save(team=Team(organization=organization), values=data.validated_data, actor=request.user)
        return Response(TeamOutputSerializer(team).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TeamInputSerializer, responses=TeamOutputSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        team = self.get_object()
        data = TeamInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        values = {key: value for key, value in data.validated_data.items() if key != "organization"}
        return Response(TeamOutputSerializer(team_save(team=team, values=values, actor=request.user)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        team = self.get_object()
        team_delete(team=team, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
