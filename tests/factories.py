"""factory_boy factories for the suite's model objects."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
from django.contrib.auth import get_user_model

from finops.models import Membership, Organization, Role, Team
from ingest.models import LEDGER_SLOTS, LedgerEntry, LedgerLine, Upload, slot_field


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.ANALYST


def staff_member(organization: Organization, role: str, username: str):
    """Ordinary staff holding every Django model permission, with ``role`` in ``organization``: only the role
    may decide what they can do (the admin's tests of roles and tenancy)."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    MembershipFactory(user=user, organization=organization, role=role)
    return user


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.LazyAttribute(lambda t: t.name.lower().replace(" ", "-"))


class UploadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Upload

    organization = factory.SubFactory(OrganizationFactory)
    original_name = "synthetic.csv"
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    size_bytes = 0
    format = "openai_usage"
    status = Upload.Status.SUCCEEDED
    file = "uploads/synthetic.csv"


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LedgerEntry

    organization = factory.SubFactory(OrganizationFactory)
    upload = factory.SubFactory(UploadFactory, organization=factory.SelfAttribute("..organization"))
    source_row = factory.Sequence(lambda n: n + 2)
    date = factory.LazyFunction(lambda: datetime(2026, 1, 1, tzinfo=UTC).date())
    period_start = factory.LazyAttribute(lambda e: datetime(e.date.year, e.date.month, e.date.day, tzinfo=UTC))
    period_end = factory.LazyAttribute(lambda e: e.period_start)
    provider = "openai"
    model = "gpt-4o-mini"
    model_raw = "gpt-4o-mini-2024-07-18"
    token_type = "input"
    quantity = 1000

    @classmethod
    def _create(cls, model_class: type[LedgerEntry], *args: object, **kwargs: object) -> LedgerEntry:
        """The ledger is written as lines: store the entry as a line with one filled slot, read it back."""
        (line,) = create_ledger_entries([model_class(**kwargs)])
        return LedgerEntry.objects.get(line=line)


# What a line and each of its entries share (the lineage, period and dimensions).
_LINE_FIELDS = sorted(
    {field.attname for field in LedgerLine._meta.concrete_fields}
    & {field.attname for field in LedgerEntry._meta.concrete_fields} - {"id", "requests"}
)


def create_ledger_entries(entries: list[LedgerEntry]) -> list[LedgerLine]:
    """Store unsaved ledger entries (``LedgerEntryFactory.build``) as ledger lines, one filled slot each."""
    lines = []
    for entry in entries:
        line = LedgerLine(
            requests=entry.requests,
            requests_slot=None if entry.requests is None else LEDGER_SLOTS.index(entry.token_type),
            **{field: getattr(entry, field) for field in _LINE_FIELDS},
        )
        setattr(line, slot_field(entry.token_type, "quantity"), entry.quantity)
        setattr(line, slot_field(entry.token_type, "cost"), entry.cost)
        setattr(line, slot_field(entry.token_type, "basis"), entry.cost_basis)
        lines.append(line)
    created = LedgerLine.objects.bulk_create(lines)
    from ingest.rollup import usage_rollup_refresh

    for organization_id in {line.organization_id for line in created}:
        usage_rollup_refresh(organization=Organization.objects.get(pk=organization_id))
    return created


# Price book (finops): list prices, organization overrides, FX rates.
from datetime import date  # noqa: E402
from decimal import Decimal  # noqa: E402

from finops.models import FxRate, ModelPrice, PriceOverride  # noqa: E402


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelPrice

    provider = "testcloud"
    model = factory.Sequence(lambda n: f"test-model-{n}")
    token_type = "input"
    usd_per_million = Decimal("1.000000")
    effective_from = date(2025, 1, 1)
    source = "factory"


class PriceOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceOverride

    organization = factory.SubFactory(OrganizationFactory)
    provider = "anthropic"
    discount_percent = Decimal("10")
    effective_from = date(2025, 1, 1)


class FxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FxRate

    from_currency = "EUR"
    to_currency = "USD"
    rate = Decimal("1.10")
    rate_date = date(2025, 1, 1)
    source = "factory"
