"""Allocation rules and model aliases: applied at ingest, and re-applied to existing rows when they change."""

from __future__ import annotations

import io

import pytest

from finops.models import AllocationRule, ModelAlias
from ingest.models import LedgerEntry
from ingest.services import ledger_reallocate, ledger_renormalize_models, upload_create, upload_ingest
from tests.factories import TeamFactory, UserFactory
from tests.ingest.test_services import HEADER, usage_row

pytestmark = pytest.mark.django_db


def load(organization, *rows: str) -> None:
    content = (HEADER + "\n" + "\n".join(rows) + "\n").encode()
    upload = upload_create(organization=organization, source=io.BytesIO(content), filename="usage.csv")
    upload_ingest(upload_id=upload.pk)


def teams_by_project(organization) -> dict[str, str | None]:
    rows = LedgerEntry.objects.filter(organization=organization, token_type="input").select_related("team")
    return {row.project: (row.team.name if row.team else None) for row in rows}


def test_changing_rules_reallocates_existing_rows(organization) -> None:
    search, support = (
        TeamFactory(organization=organization, name="Search"),
        TeamFactory(organization=organization, name="Support"),
    )
    load(organization, usage_row("proj_search"), usage_row("proj_support"))
    assert teams_by_project(organization) == {"proj_search": None, "proj_support": None}

    AllocationRule.objects.create(organization=organization, team=search, dimension="project", value="proj_search")
    AllocationRule.objects.create(
        organization=organization, team=support, dimension="model", value="gpt-4o-mini", priority=200
    )
    allocated = ledger_reallocate(organization=organization)

    assert allocated == 4
    assert teams_by_project(organization) == {"proj_search": "Search", "proj_support": "Support"}


def test_tag_rules_match_on_key_and_value(organization) -> None:
    team = TeamFactory(organization=organization, name="Research")
    load(organization, usage_row("proj_a"))  # the OpenAI parser tags each row with its user_id
    AllocationRule.objects.create(organization=organization, team=team, dimension="tag", value="user_id=user-a")

    ledger_reallocate(organization=organization)
    load(
        organization,
        usage_row("proj_b")
        .replace("2025-01-01", "2025-01-03")
        .replace("1735689600,1735776000", "1735862400,1735948800"),
    )

    assert teams_by_project(organization) == {"proj_a": "Research", "proj_b": "Research"}


def test_aliases_apply_at_ingest_and_to_existing_rows(organization) -> None:
    load(organization, usage_row("proj_a", model="acme-finetune-7"))
    assert set(LedgerEntry.objects.values_list("model", flat=True)) == {"acme-finetune-7"}

    ModelAlias.objects.create(organization=organization, provider="openai", model_raw="acme-finetune-7", model="gpt-4o")
    changed = ledger_renormalize_models(organization=organization)

    assert changed == 2
    assert set(LedgerEntry.objects.values_list("model", flat=True)) == {"gpt-4o"}


def test_admin_rule_change_reallocates(client, organization) -> None:
    team = TeamFactory(organization=organization, name="Search")
    load(organization, usage_row("proj_search"))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/finops/allocationrule/add/",
        {
            "organization": organization.pk,
            "team": team.pk,
            "dimension": "project",
            "value": "proj_search",
            "priority": 1,
        },
    )

    assert response.status_code == 302
    assert teams_by_project(organization) == {"proj_search": "Search"}


def test_admin_alias_change_and_delete_remap_existing_rows(client, organization) -> None:
    load(organization, usage_row("proj_a", model="acme-finetune-7"))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    client.post(
        "/admin/finops/modelalias/add/",
        {"organization": organization.pk, "provider": "", "model_raw": "acme-finetune-7", "model": "gpt-4o"},
    )
    after_add = set(LedgerEntry.objects.values_list("model", flat=True))
    alias = ModelAlias.objects.get()
    client.post(f"/admin/finops/modelalias/{alias.pk}/delete/", {"post": "yes"})

    assert after_add == {"gpt-4o"}
    assert set(LedgerEntry.objects.values_list("model", flat=True)) == {"acme-finetune-7"}
