"""Property-based API tests: schemathesis generates requests for every operation of the OpenAPI schema and sends
them to the Django WSGI app in-process, signed in as a viewer, an analyst and an admin of "acme", while a second
organization ("other") has data of its own. No answer may be a 5xx, and every answer must match the schema
(status code, content type, body).

Generated ids, organization slugs and compared runs are often replaced by real ones, so most requests reach real
objects (some of them another organization's) instead of stopping at a 404. Requests run in the test's
transaction: ``on_commit`` work (ingesting an upload, running a forecast) is queued but never runs, which keeps
POSTs to /uploads/ and /forecasts/ cheap. Bounded: a few examples per operation, derandomized.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from finops.models import Role
from tests.api.conftest import Tenant
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

# Examples per operation: valid input as every role; invalid input as the admin (who gets past the role checks).
POSITIVE_EXAMPLES = 12
NEGATIVE_EXAMPLES = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ROLES = (Role.VIEWER, Role.ANALYST, Role.ADMIN)


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's WSGI app, sharing the test's database connection and transaction (as Django's test client does,
    the connection is not closed between requests)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(organization) -> dict[str, str]:
    """An API token per role, each of a member of acme only."""
    return {
        role: Token.objects.create(user=MembershipFactory(organization=organization, role=role).user).key
        for role in ROLES
    }


@pytest.fixture
def real_ids(acme_data: Tenant, other_data: Tenant) -> dict[str, list[Any]]:
    """Existing ids and slugs per collection: mostly acme's (reachable), then the other organization's (404)."""
    ids: dict[str, list[Any]] = {}
    for tenant in (acme_data, acme_data, other_data):
        for collection, pk in (
            ("uploads", tenant.upload.pk),
            ("forecasts", tenant.run.pk),
            ("budgets", tenant.budget.pk),
            ("recommendations", tenant.recommendation.pk),
            ("teams", tenant.team.pk),
            ("allocation-rules", tenant.rule.pk),
            ("scenarios", tenant.scenario.pk),
            ("alerts", tenant.alert.pk),
            ("webhooks", tenant.webhook.pk),
        ):
            ids.setdefault(collection, []).append(pk)
    # A bystander's membership, never the callers' own: an admin who demoted or removed themself would see 404s
    # for the rest of the run.
    bystander = MembershipFactory(organization=acme_data.organization, role=Role.VIEWER)
    theirs = other_data.organization.memberships.select_related("user").first()
    assert theirs is not None
    ids["members"] = [bystander.pk, bystander.pk, theirs.pk]
    ids["organization"] = ["acme", "acme", "other"]
    ids["team"] = [acme_data.team.slug, acme_data.team.slug, other_data.team.slug]
    ids["username"] = [bystander.user.username, theirs.user.username]
    return ids


_turns = itertools.count()


def _pick(generated: Any, choices: list[Any]) -> Any:
    """In turn each of ``choices``, then the generated value (deterministic: the examples are)."""
    turn = next(_turns) % (len(choices) + 1)
    return choices[turn] if turn < len(choices) else generated


def _steer(case: Any, real_ids: dict[str, list[Any]]) -> None:
    """Point generated ids and slugs at real objects, so requests get past the lookups."""
    collection = case.path.removeprefix("/api/v1/").split("/", 1)[0]
    if "id" in (case.path_parameters or {}) and collection in real_ids:
        case.path_parameters["id"] = _pick(case.path_parameters["id"], real_ids[collection])
    if case.query and "with" in case.query:
        case.query["with"] = _pick(case.query["with"], real_ids["forecasts"])
    if isinstance(case.body, dict):
        if "id" in case.body and collection in real_ids:  # the rule a preview changes
            case.body["id"] = _pick(case.body["id"], real_ids[collection])
        if "baseline" in case.body:
            case.body["baseline"] = _pick(case.body["baseline"], real_ids["forecasts"])
    for container in (case.query, case.body):
        if isinstance(container, dict):
            for name in ("organization", "team", "username"):
                if name in container:
                    container[name] = _pick(container[name], real_ids[name])


def _operation_failure(operation: Any, mode: GenerationMode, examples: int, call: Any) -> str | None:
    """Send ``examples`` generated requests of one operation; the first failure as text, or None."""
    failed: list[str] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if failed:
            return
        try:
            call(case)
        except (Exception, FailureGroup) as error:  # a failed check: keep the first, the other operations run
            failed.append(f"{operation.label} ({mode.value} data): {error}")

    run()
    return failed[0] if failed else None


def _failures(
    schema: Any, wsgi_app: WSGIHandler, token: str, real_ids: dict[str, list[Any]], modes: dict[GenerationMode, int]
) -> list[str]:
    """Every operation with generated input of each mode; the first failure of each."""

    def call(case: Any) -> None:
        _steer(case, real_ids)
        # identity: the WSGI transport hands the body over as sent, without undoing a gzip Content-Encoding (which the
        # cached answers use for clients that accept it; tests/api/test_answer_cache.py checks that path).
        headers = {"Authorization": f"Token {token}", "Accept-Encoding": "identity"}
        case.call_and_validate(headers=headers, checks=CHECKS, app=wsgi_app)

    operations = [result.ok() for result in schema.get_all_operations()]
    found = (
        _operation_failure(operation, mode, examples, call)
        for operation in operations
        for mode, examples in modes.items()
    )
    return [failure for failure in found if failure is not None]


@pytest.fixture
def api_schema(wsgi_app, acme_data, other_data) -> Any:
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_without_5xx_and_as_documented(api_schema, wsgi_app, tokens, real_ids, role) -> None:
    modes = {GenerationMode.POSITIVE: POSITIVE_EXAMPLES}
    if role == Role.ADMIN:
        modes[GenerationMode.NEGATIVE] = NEGATIVE_EXAMPLES

    failures = _failures(api_schema, wsgi_app, tokens[role], real_ids, modes)

    assert failures == [], "\n\n".join(failures)
