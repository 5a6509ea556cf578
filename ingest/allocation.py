"""Services for the rules that shape an organization's ledger: allocation rules (which team a row belongs to)
and model aliases (which model id an exported name is booked under).

Every write checks the caller's role (analysts and up), that each reference belongs to the rule's own
organization, then re-derives the ledger. The admin, the API and the commands all call these; the
preview says what a change would move before anything is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum

from finops.models import AllocationRule, ModelAlias, Role, Team
from finops.selectors import allocation_rules_for, role_require
from ingest.ledger_writer import Allocator
from ingest.models import COUNTED_COST_BASES, LedgerEntry
from ingest.services import ledger_reallocate, ledger_renormalize_models

Caller = User | AnonymousUser | None
RULE_WRITE_ROLE = Role.ANALYST
DIMENSION_FIELDS = ("project", "workspace", "api_key", "account", "model")


@dataclass(frozen=True)
class AllocationMove:
    """Rows that would leave one team (None: unallocated) for another."""

    from_team: str | None
    to_team: str | None
    rows: int
    tokens: int
    cost: Decimal


@dataclass(frozen=True)
class AllocationPreview:
    """What saving (or deleting) a rule would re-allocate: totals and each from-team -> to-team move."""

    rows: int
    tokens: int
    cost: Decimal
    moves: list[AllocationMove] = field(default_factory=list)


def allocation_rule_validate(*, rule: AllocationRule) -> None:
    """Field checks plus tenancy: the team must be one of the rule's own organization's teams."""
    errors: dict[str, str] = {}
    if rule.team_id is not None and rule.organization_id is not None:
        owner = Team.objects.filter(pk=rule.team_id).values_list("organization_id", flat=True).first()
        if owner != rule.organization_id:
            errors["team"] = "choose one of this organization's teams"
    if rule.dimension == AllocationRule.Dimension.TAG and "=" not in (rule.value or ""):
        errors["value"] = "a tag rule needs key=value, e.g. env=prod"
    if errors:
        raise ValidationError(errors)
    rule.full_clean()


def allocation_rule_save(*, rule: AllocationRule, user: Caller) -> int:
    """Check and save the rule, then re-allocate the organization's ledger; returns rows matched by a rule."""
    role_require(user=user, organization=rule.organization, min_role=RULE_WRITE_ROLE)
    allocation_rule_validate(rule=rule)
    with transaction.atomic():
        rule.save()
        return ledger_reallocate(organization=rule.organization)


def allocation_rule_delete(*, rule: AllocationRule, user: Caller) -> int:
    """Delete the rule, then re-allocate the organization's ledger; returns rows still matched by a rule."""
    organization = rule.organization
    role_require(user=user, organization=organization, min_role=RULE_WRITE_ROLE)
    with transaction.atomic():
        rule.delete()
        return ledger_reallocate(organization=organization)


def _proposed_rules(rule: AllocationRule, *, delete: bool) -> list[AllocationRule]:
    """The organization's rules as they would be after the change, in the order they apply."""
    rules = [existing for existing in allocation_rules_for(organization=rule.organization) if existing.pk != rule.pk]
    if not delete:
        rules.append(rule)
    return sorted(rules, key=lambda item: (item.priority, item.pk if item.pk is not None else float("inf")))


def _ledger_groups(rule: AllocationRule) -> Any:
    """The ledger grouped by every value a rule can match, with its current team and totals."""
    return (
        LedgerEntry.objects.filter(organization_id=rule.organization_id)
        .values(*DIMENSION_FIELDS, "tags", "team_id")
        .annotate(
            rows=Count("line_id", distinct=True),
            tokens=Sum("quantity", filter=~Q(token_type="other") & Q(unit="tokens")),
            cost=Sum("cost", filter=Q(cost_basis__in=COUNTED_COST_BASES)),
        )
        .order_by()
    )


def allocation_rule_preview(*, rule: AllocationRule, delete: bool = False) -> AllocationPreview:
    """What saving ``rule`` (new or changed, not yet saved), or deleting it, would move between teams."""
    if not delete:
        allocation_rule_validate(rule=rule)
    allocator = Allocator(_proposed_rules(rule, delete=delete))
    moved: dict[tuple[int | None, int | None], list[Any]] = {}
    for group in _ledger_groups(rule):
        values = {name: group[name] or "" for name in DIMENSION_FIELDS}
        new_team = allocator.team_id_for_dimensions(values, group["tags"] or {})
        if new_team == group["team_id"]:
            continue
        totals = moved.setdefault((group["team_id"], new_team), [0, 0, Decimal(0)])
        totals[0] += group["rows"]
        totals[1] += int(group["tokens"] or 0)
        totals[2] += group["cost"] or Decimal(0)
    names = dict(Team.objects.filter(organization_id=rule.organization_id).values_list("pk", "name"))
    moves = [
        AllocationMove(
            from_team=names.get(old) if old else None,
            to_team=names.get(new) if new else None,
            rows=rows,
            tokens=tokens,
            cost=cost,
        )
        for (old, new), (rows, tokens, cost) in sorted(moved.items(), key=lambda item: -item[1][0])
    ]
    return AllocationPreview(
        rows=sum(move.rows for move in moves),
        tokens=sum(move.tokens for move in moves),
        cost=sum((move.cost for move in moves), Decimal(0)),
        moves=moves,
    )


def model_alias_save(*, alias: ModelAlias, user: Caller) -> int:
    """Check and save the alias, then re-derive the model of the organization's ledger; returns rows changed."""
    role_require(user=user, organization=alias.organization, min_role=RULE_WRITE_ROLE)
    alias.full_clean()
    with transaction.atomic():
        alias.save()
        return ledger_renormalize_models(organization=alias.organization)


def model_alias_delete(*, alias: ModelAlias, user: Caller) -> int:
    """Delete the alias, then re-derive the model of the organization's ledger; returns rows changed."""
    organization = alias.organization
    role_require(user=user, organization=organization, min_role=RULE_WRITE_ROLE)
    with transaction.atomic():
        alias.delete()
        return ledger_renormalize_models(organization=organization)
