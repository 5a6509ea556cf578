"""Allocation-rule endpoints: every member reads the rules of their organizations; analysts create, change and
delete them (the ledger is re-allocated on save), and ``preview/`` says what a proposed change would move between
teams (rows, tokens, cost) before anything is saved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet

from finops.models import AllocationRule, Organization, Role, Team
from finops.money import money_str
from finops.permissions import organization_from_request
from finops.selectors import organizations_for_user, role_require
from ingest.allocation import (
    RULE_WRITE_ROLE,
    AllocationPreview,
    allocation_rule_delete,
    allocation_rule_preview,
    allocation_rule_save,
)


class AllocationRuleOutputSerializer(serializers.ModelSerializer[AllocationRule]):
    organization = serializers.CharField(source="organization.slug", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)
    team_name = serializers.CharField(source="team.name", read_only=True)

    class Meta:
        model = AllocationRule
        fields = ["id", "organization", "team", "team_name", "dimension", "value", "priority"]


class AllocationRuleSavedSerializer(AllocationRuleOutputSerializer):
    rows_allocated = serializers.SerializerMethodField(
        help_text="Ledger rows a rule matches after the change (the whole organization)."
    )

    class Meta(AllocationRuleOutputSerializer.Meta):
        fields = [*AllocationRuleOutputSerializer.Meta.fields, "rows_allocated"]

    def get_rows_allocated(self, rule: AllocationRule) -> int:
        return int(self.context.get("rows_allocated", 0))


class AllocationRuleInputSerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False, help_text="On create: one of your organizations.")
    team = serializers.SlugField(help_text="The slug of one of the organization's teams.")
    dimension = serializers.ChoiceField(choices=AllocationRule.Dimension.choices)
    value = serializers.CharField(max_length=255, help_text="The dimension's value; for a tag, key=value.")
    priority = serializers.IntegerField(min_value=0, max_value=2_147_483_647, default=100, help_text="Lower wins.")


class AllocationPreviewInputSerializer(AllocationRuleInputSerializer):
    id = serializers.IntegerField(required=False, help_text="The rule to change (or delete); omit for a new rule.")
    delete = serializers.BooleanField(default=False, help_text="Preview deleting rule ``id``.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("team", "dimension", "value"):
            self.fields[name].required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("delete") and "id" not in attrs:
            raise serializers.ValidationError({"id": "give the id of the rule to delete"})
        if "id" not in attrs:
            missing = {name: "required for a new rule" for name in ("team", "dimension", "value") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class AllocationMoveSerializer(serializers.Serializer[dict[str, Any]]):
    from_team = serializers.CharField(allow_null=True, help_text="Team name; null: unallocated.")
    to_team = serializers.CharField(allow_null=True, help_text="Team name; null: unallocated.")
    rows = serializers.IntegerField()
    tokens = serializers.IntegerField()
    cost = serializers.CharField(help_text="Rounded to the currency's minor unit.")
    cost_exact = serializers.CharField(help_text="Unrounded.")


class AllocationPreviewOutputSerializer(serializers.Serializer[dict[str, Any]]):
    organization = serializers.CharField()
    rows = serializers.IntegerField()
    tokens = serializers.IntegerField()
    cost = serializers.CharField(help_text="Rounded to the currency's minor unit.")
    cost_exact = serializers.CharField(help_text="Unrounded.")
    moves = AllocationMoveSerializer(many=True)


class AllocationRuleFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")
    team = django_filters.CharFilter(field_name="team__slug", help_text="A team's slug.")

    class Meta:
        model = AllocationRule
        fields = ["organization", "team", "dimension", "value"]


def _team(organization: Organization, slug: str) -> Team:
    team = Team.objects.filter(organization=organization, slug=slug).first()
    if team is None:
        raise serializers.ValidationError({"team": f"no team {slug!r} in {organization.slug}"})
    return team


def _apply(rule: AllocationRule, values: dict[str, Any]) -> AllocationRule:
    """The rule with the given fields changed (not saved)."""
    if "team" in values:
        rule.team = _team(rule.organization, values["team"])
    for name in ("dimension", "value", "priority"):
        if name in values:
            setattr(rule, name, values[name])
    return rule


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"cost": money_str(amount, currency), "cost_exact": format(amount, "f")}


def _preview_data(organization: Organization, preview: AllocationPreview) -> dict[str, Any]:
    # Ledger costs are summed as booked; the organization's currency only sets the rounding.
    currency = organization.reporting_currency
    return {
        "organization": organization.slug,
        "rows": preview.rows,
        "tokens": preview.tokens,
        **_money(preview.cost, currency),
        "moves": [
            {
                "from_team": move.from_team,
                "to_team": move.to_team,
                "rows": move.rows,
                "tokens": move.tokens,
                **_money(move.cost, currency),
            }
            for move in preview.moves
        ],
    }


class AllocationRuleViewSet(ModelViewSet[AllocationRule]):
    """Allocation rules of your organizations, in the order they apply; analysts write them."""

    serializer_class = AllocationRuleOutputSerializer
    filterset_class = AllocationRuleFilter
    ordering_fields = ["id", "priority", "dimension", "value"]
    ordering = ["organization__slug", "priority", "id"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return AllocationRule.objects.filter(
            organization__in=organizations_for_user(user=self.request.user)
        ).select_related("organization", "team")

    def _saved(self, rule: AllocationRule, rows: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(AllocationRuleSavedSerializer(rule, context={"rows_allocated": rows}).data, status=code)

    @extend_schema(request=AllocationRuleInputSerializer, responses={201: AllocationRuleSavedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = AllocationRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = organization_from_request(
            request, slug=data.validated_data.get("organization"), min_role=RULE_WRITE_ROLE
        )
        rule = _apply(AllocationRule(organization=organization), data.validated_data)
        rows = allocation_rule_save(rule=rule, user=request.user)
        return self._saved(rule, rows, status.HTTP_201_CREATED)

    @extend_schema(request=AllocationRuleInputSerializer, responses=AllocationRuleSavedSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        role_require(user=request.user, organization=rule.organization, min_role=RULE_WRITE_ROLE)
        data = AllocationRuleInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        rule = _apply(rule, data.validated_data)
        rows = allocation_rule_save(rule=rule, user=request.user)
        return self._saved(rule, rows)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        allocation_rule_delete(rule=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=AllocationPreviewInputSerializer, responses=AllocationPreviewOutputSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        """What saving the proposed rule (new, or a change to rule ``id``), or deleting rule ``id``, would move
        between teams; nothing is saved."""
        data = AllocationPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "id" in values:
            rule = self.get_queryset().filter(pk=values["id"]).first()
            if rule is None:
                raise serializers.ValidationError({"id": f"no rule {values['id']} among yours"})
            role_require(user=request.user, organization=rule.organization, min_role=RULE_WRITE_ROLE)
        else:
            organization = organization_from_request(request, slug=values.get("organization"), min_role=Role.ANALYST)
            rule = AllocationRule(organization=organization)
        if not values["delete"]:
            rule = _apply(rule, values)
        preview = allocation_rule_preview(rule=rule, delete=values["delete"])
        return Response(AllocationPreviewOutputSerializer(_preview_data(rule.organization, preview)).data)
