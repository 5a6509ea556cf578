"""Writes of the core domain: organizations, users with their memberships and API tokens, teams, and the price
book (list prices with their change log, price-file and FX-file imports)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from finops.catalog import FileError, FileRejected, PriceRow, parse_fx_file, parse_price_file, range_conflict
from finops.deprecations import model_deprecations_load
from finops.models import (
    FxRate,
    Membership,
    ModelPrice,
    Organization,
    PriceChange,
    PriceOverride,
    Role,
    Team,
    validate_holiday_country,
)
from finops.seed import catalog_models_sync, catalog_seed
from finops.selectors import FxRateMissing, fx_table, organizations_for_user, role_require
from finops.signals import send_prices_changed

PRICE_QUANTUM = Decimal("0.000001")


def organization_create(
    *, slug: str, name: str | None = None, holiday_country: str | None = None
) -> tuple[Organization, bool]:
    """Create the organization ``slug`` unless it exists; return it and whether it was created.

    ``holiday_country`` (a country code of the ``holidays`` package, or ``""`` for none) is set on the new or
    existing organization when given; ``None`` leaves it as it is."""
    clean_slug = slugify(slug)
    if not clean_slug or clean_slug != slug:
        raise ValueError(f"invalid organization slug {slug!r}: use lower-case letters, digits and hyphens")
    if holiday_country:
        try:
            validate_holiday_country(holiday_country)
        except ValidationError as error:
            raise ValueError(" ".join(error.messages)) from error
    organization, created = Organization.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    if holiday_country is not None and organization.holiday_country != holiday_country:
        organization.holiday_country = holiday_country
        organization.save(update_fields=["holiday_country"])
    return organization, created


def membership_set(*, user: User, organization: Organization, role: str = Role.VIEWER) -> Membership:
    """Give ``user`` the ``role`` in ``organization`` (creating or updating the membership)."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    membership, _ = Membership.objects.update_or_create(user=user, organization=organization, defaults={"role": role})
    return membership


Caller = User | AnonymousUser | None


def membership_validate(
    *, organization: Organization, role: str, user: Any = None, membership: Membership | None = None
) -> None:
    """The membership rules, checked before any change (the admin's form calls it too): a known role; one
    membership per user and organization; the organization keeps at least one admin."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}; expected one of {', '.join(Role.values)}"})
    duplicate = Membership.objects.filter(user=user, organization=organization)
    if membership is None and user is not None and duplicate.exists():
        raise ValidationError({"user": f"{user.get_username()} is already a member; change their role instead"})
    demoting = membership is not None and membership.role == Role.ADMIN and role != Role.ADMIN
    if demoting and Membership.objects.filter(organization=organization, role=Role.ADMIN).count() <= 1:
        raise ValidationError({"role": "the organization needs at least one admin; make another member admin first"})


def _invitee(email: str) -> User:
    """The user with this e-mail address, or a new staff account for it with no password (set through the
    "forgotten password" page of the admin)."""
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": f"{email!r} is not an e-mail address"}) from error
    existing = User.objects.filter(email__iexact=email).order_by("pk").first()
    if existing is not None:
        return existing
    username = email.lower()[:150]
    suffix = 1
    while User.objects.filter(username=username).exists():
        suffix += 1
        username = f"{email.lower()[:140]}-{suffix}"
    user = User(username=username, email=email, is_staff=True)
    user.set_unusable_password()
    user.save()
    return user


def _invitation_send(*, membership: Membership, actor: Caller) -> None:
    """E-mail a new member a link to set their password (the admin's password-reset page, valid for
    PASSWORD_RESET_TIMEOUT), once the membership is committed."""
    user = membership.user
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    inviter = actor.get_username() if isinstance(actor, User) else "an administrator"
    body = (
        f"{inviter} invited you to {membership.organization.name} on Tokencast as {membership.role}.\n\n"
        f"Set your password here, then sign in with the username {user.get_username()}:\n"
        f"{settings.TOKENCAST_BASE_URL}{path}\n"
    )
    subject = f"You are invited to {membership.organization.name} on Tokencast"
    transaction.on_commit(lambda: send_mail(subject, body, None, [user.email]))


@transaction.atomic
def membership_add(
    *, organization: Organization, actor: Caller, role: str, username: str | None = None, email: str | None = None
) -> Membership:
    """Add a member (organization admins only): a user who already shares one of the actor's organizations,
    by ``username``, or anyone by ``email`` (invited: an account is created when none has the address)."""
    role_require(user=actor, organization=organization, min_role=Role.ADMIN)
    membership_validate(organization=organization, role=role)
    if bool(username) == bool(email):
        raise ValidationError({"username": "give either a username or an e-mail address to invite"})
    if username:
        candidates = User.objects.filter(username=username)
        if actor is not None and not getattr(actor, "is_superuser", False):
            candidates = candidates.filter(memberships__organization__in=organizations_for_user(user=actor))
        user = candidates.distinct().first()
        if user is None:
            raise ValidationError({"username": f"no user {username!r} in your organizations; invite them by e-mail"})
    else:
        user = _invitee(str(email))
    membership_validate(organization=organization, role=role, user=user)
    membership = Membership.objects.create(user=user, organization=organization, role=role)
    if not user.has_usable_password():
        _invitation_send(membership=membership, actor=actor)
    return membership


@transaction.atomic
def membership_role_change(*, membership: Membership, actor: Caller, role: str) -> Membership:
    """Change a member's role (organization admins only; the last admin stays an admin)."""
    role_require(user=actor, organization=membership.organization, min_role=Role.ADMIN)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    membership_validate(organization=membership.organization, role=role, membership=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Caller) -> None:
    """Remove a member (organization admins only; never the last admin)."""
    role_require(user=actor, organization=membership.organization, min_role=Role.ADMIN)
    if membership.role == Role.ADMIN and (
        Membership.objects.filter(organization=membership.organization, role=Role.ADMIN).count() <= 1
    ):
        raise ValidationError({"role": "the organization needs at least one admin; make another member admin first"})
    membership.delete()


def price_override_save(*, override: PriceOverride, user: Caller) -> PriceOverride:
    """Check and save a negotiated price (organization admins only), then re-price the organization's
    ledger estimates and refresh what depends on prices (the ``prices_changed`` signal)."""
    role_require(user=user, organization=override.organization, min_role=Role.ADMIN)
    override.full_clean()
    if override.pk is None and isinstance(user, User):
        override.created_by = user
    with transaction.atomic():
        override.save()
        send_prices_changed(organization_id=override.organization_id)
    return override


def price_override_delete(*, override: PriceOverride, user: Caller) -> None:
    """Delete a negotiated price (organization admins only) and re-price as on save."""
    role_require(user=user, organization=override.organization, min_role=Role.ADMIN)
    organization_id = override.organization_id
    with transaction.atomic():
        override.delete()
        send_prices_changed(organization_id=organization_id)


def team_save(*, team: Team, values: Mapping[str, Any], actor: Caller) -> Team:
    """Create or change a team (organization admins only): name, slug (made from the name when not given;
    unique in the organization) and owner e-mail."""
    role_require(user=actor, organization=team.organization, min_role=Role.ADMIN)
    team.name = values.get("name", team.name)
    team.slug = values.get("slug") or team.slug or slugify(team.name)
    team.owner_email = values.get("owner_email", team.owner_email)
    if not team.slug:
        raise ValidationError({"slug": "give a slug: the name has no letters or digits to make one"})
    if Team.objects.filter(organization=team.organization, slug=team.slug).exclude(pk=team.pk).exists():
        raise ValidationError({"slug": f"{team.organization.slug} already has a team {team.slug!r}"})
    team.full_clean()
    team.save()
    return team


def team_delete(*, team: Team, actor: Caller) -> None:
    """Delete a team (organization admins only); its rules go with it and its ledger rows become unallocated."""
    role_require(user=actor, organization=team.organization, min_role=Role.ADMIN)
    team.delete()


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
    """Load the shipped catalog (finops/data/): list prices, derived cache-write prices, catalog models and
    aliases, multipliers, quality scores; returns list prices added.

    Idempotent: what is already present is kept. Migrations 0002 and 0005 do the same on a fresh database.
    """
    added = catalog_seed(get_model=apps.get_model)
    model_deprecations_load()
    return added


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows created, updated (with a change-log entry each) and left as they were."""

    created: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _acting_user(user: User | AnonymousUser | None) -> User | None:
    return user if isinstance(user, User) else None


def prices_import(*, lines: Iterable[str], filename: str, user: User | AnonymousUser | None = None) -> ImportResult:
    """Import a price file (wide or long format, ``finops.catalog.parse_price_file``) into the catalog.

    All or nothing: every problem is collected first (file checks, currency conversion, overlaps with
    the catalog's closed ranges) and any problem raises FileRejected with row-numbered messages,
    leaving the catalog unchanged. Otherwise each row creates a price or updates the one with the same
    key and start, and every change goes to the change log with the user and the file's name.
    Prices in another currency are converted to USD at the rate in force on their start date.
    """
    rows = parse_price_file(lines)
    errors: list[FileError] = []
    amounts = _amounts_in_usd(rows, errors)
    existing = _existing_steps(rows)
    errors.extend(_catalog_overlaps(rows, existing))
    if errors:
        raise FileRejected(sorted(errors, key=lambda error: error.row or 0))
    created = updated = unchanged = 0
    acting = _acting_user(user)
    with transaction.atomic():
        for row in rows:
            usd, note = amounts[row.row, row.key]
            source = f"{row.source} {note}".strip()
            price = existing.get(row.key, {}).get(row.effective_from)
            change_source = f"{filename} row {row.row}"
            if price is None:
                price = ModelPrice.objects.create(
                    provider=row.provider,
                    model=row.model,
                    token_type=row.token_type,
                    cache_ttl=row.cache_ttl,
                    usd_per_million=usd,
                    effective_from=row.effective_from,
                    effective_to=row.effective_to,
                    source=source,
                )
                _log_change(
                    price,
                    action=PriceChange.Action.CREATED,
                    via=PriceChange.Via.IMPORT,
                    user=acting,
                    source=change_source,
                )
                created += 1
            elif (price.usd_per_million, price.effective_to, price.source) != (usd, row.effective_to, source):
                old_price, old_to = price.usd_per_million, price.effective_to
                price.usd_per_million, price.effective_to, price.source = usd, row.effective_to, source
                price.save(update_fields=["usd_per_million", "effective_to", "source"])
                _log_change(
                    price,
                    action=PriceChange.Action.UPDATED,
                    via=PriceChange.Via.IMPORT,
                    user=acting,
                    source=change_source,
                    old_price=old_price,
                    old_to=old_to,
                )
                updated += 1
            else:
                unchanged += 1
        catalog_models_sync(get_model=apps.get_model, providers={row.provider for row in rows})
        if created or updated:
            send_prices_changed()
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def _amounts_in_usd(
    rows: list[PriceRow], errors: list[FileError]
) -> dict[tuple[int, tuple[str, ...]], tuple[Decimal, str]]:
    """Each row's price in USD (rounded to the catalog's 6 decimals) with a note on any conversion."""
    table = fx_table(currencies={row.currency for row in rows})
    amounts: dict[tuple[int, tuple[str, ...]], tuple[Decimal, str]] = {}
    for row in rows:
        if row.currency == "USD":
            amounts[row.row, row.key] = (row.amount.quantize(PRICE_QUANTUM, ROUND_HALF_UP), "")
            continue
        try:
            conversion = table.convert(
                amount=row.amount, from_currency=row.currency, to_currency="USD", on=row.effective_from
            )
        except FxRateMissing as error:
            if not any(known.row == row.row for known in errors):  # one message per line, not per token type
                errors.append(FileError(row.row, str(error), "currency"))
            continue
        note = f"(converted from {row.amount} {row.currency} at {conversion.rate} of {conversion.rate_date})"
        amounts[row.row, row.key] = (conversion.amount.quantize(PRICE_QUANTUM, ROUND_HALF_UP), note)
    return amounts


def _existing_steps(rows: list[PriceRow]) -> dict[tuple[str, str, str, str], dict[date, ModelPrice]]:
    keys = {row.key for row in rows}
    candidates = ModelPrice.objects.filter(provider__in={key[0] for key in keys}, model__in={key[1] for key in keys})
    steps: dict[tuple[str, str, str, str], dict[date, ModelPrice]] = {}
    for price in candidates:
        key = (price.provider, price.model, price.token_type, price.cache_ttl)
        if key in keys:
            steps.setdefault(key, {})[price.effective_from] = price
    return steps


def _catalog_overlaps(
    rows: list[PriceRow], existing: dict[tuple[str, str, str, str], dict[date, ModelPrice]]
) -> list[FileError]:
    """Rows whose range overlaps a catalog step the file does not replace (closed ranges on either side)."""
    errors = []
    starts_in_file = {(row.key, row.effective_from) for row in rows}
    for row in rows:
        steps = [
            (start, price.effective_to)
            for start, price in existing.get(row.key, {}).items()
            if (row.key, start) not in starts_in_file
        ]
        conflict = range_conflict(effective_from=row.effective_from, effective_to=row.effective_to, steps=steps)
        if conflict is not None:
            provider, model, token_type, ttl = row.key
            label = f"{provider}/{model} {token_type}{f' ({ttl})' if ttl else ''}"
            until = f" to {conflict[1]}" if conflict[1] else ""
            mine = f"{row.effective_from} to {row.effective_to}" if row.effective_to else f"from {row.effective_from}"
            errors.append(
                FileError(
                    row.row, f"overlaps the catalog: {label} is priced from {conflict[0]}{until}, this row {mine}"
                )
            )
    return errors


def _log_change(
    price: ModelPrice,
    *,
    action: str,
    via: str,
    user: User | None,
    source: str,
    old_price: Decimal | None = None,
    old_to: date | None = None,
) -> PriceChange:
    deleted = action == PriceChange.Action.DELETED
    return PriceChange.objects.create(
        price=None if deleted else price,
        provider=price.provider,
        model=price.model,
        token_type=price.token_type,
        cache_ttl=price.cache_ttl,
        effective_from=price.effective_from,
        action=action,
        old_usd_per_million=price.usd_per_million if deleted else old_price,
        new_usd_per_million=None if deleted else price.usd_per_million,
        old_effective_to=price.effective_to if deleted else old_to,
        new_effective_to=None if deleted else price.effective_to,
        via=via,
        source=source,
        changed_by=user,
    )


KEY_FIELDS = ("provider", "model", "token_type", "cache_ttl", "effective_from")


@transaction.atomic
def model_price_save(*, price: ModelPrice, user: User | AnonymousUser | None = None) -> ModelPrice:
    """Save a list price entered by hand and log it (a changed key logs the old price deleted, the new created)."""
    acting = _acting_user(user)
    old = ModelPrice.objects.select_for_update().filter(pk=price.pk).first() if price.pk else None
    key_changed = old is not None and any(getattr(old, name) != getattr(price, name) for name in KEY_FIELDS)
    if old is not None and key_changed:
        _log_change(old, action=PriceChange.Action.DELETED, via=PriceChange.Via.ADMIN, user=acting, source="admin")
    price.save()
    if old is None or key_changed:
        _log_change(
            price, action=PriceChange.Action.CREATED, via=PriceChange.Via.ADMIN, user=acting, source=price.source
        )
    elif (old.usd_per_million, old.effective_to, old.source) != (
        price.usd_per_million,
        price.effective_to,
        price.source,
    ):
        _log_change(
            price,
            action=PriceChange.Action.UPDATED,
            via=PriceChange.Via.ADMIN,
            user=acting,
            source=price.source,
            old_price=old.usd_per_million,
            old_to=old.effective_to,
        )
    catalog_models_sync(get_model=apps.get_model, providers=[price.provider])
    send_prices_changed()
    return price


@transaction.atomic
def model_price_delete(*, price: ModelPrice, user: User | AnonymousUser | None = None) -> None:
    """Delete a list price; the change log keeps its last value."""
    _log_change(
        price, action=PriceChange.Action.DELETED, via=PriceChange.Via.ADMIN, user=_acting_user(user), source="admin"
    )
    price.delete()
    send_prices_changed()


def fx_rates_import(*, lines: Iterable[str], filename: str) -> ImportResult:
    """Import an FX file (``date,from_currency,to_currency,rate[,source]``): all or nothing (FileRejected).

    A rate for a pair and date already present is replaced.
    """
    rows = parse_fx_file(lines)
    existing = {
        (rate.from_currency, rate.to_currency, rate.rate_date): rate
        for rate in FxRate.objects.filter(rate_date__in={row.rate_date for row in rows})
    }
    created = updated = unchanged = 0
    with transaction.atomic():
        for row in rows:
            source = row.source or filename
            rate = existing.get((row.from_currency, row.to_currency, row.rate_date))
            if rate is None:
                FxRate.objects.create(
                    from_currency=row.from_currency,
                    to_currency=row.to_currency,
                    rate=row.rate,
                    rate_date=row.rate_date,
                    source=source,
                )
                created += 1
            elif (rate.rate, rate.source) != (row.rate, source):
                rate.rate, rate.source = row.rate, source
                rate.save(update_fields=["rate", "source"])
                updated += 1
            else:
                unchanged += 1
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def user_upsert(
    *, username: str, organization: Organization, role: str, email: str = "", password: str | None = None
) -> tuple[User, bool]:
    """Create the user ``username``, or update the existing one, and give them ``role`` in ``organization``;
    returns the user and whether it was created.

    ``email`` replaces the address when given. ``password`` (checked by ``AUTH_PASSWORD_VALIDATORS``) replaces the
    password when given; without one, a new user gets an unusable password (they sign in with an API token, or
    once an admin sets one) and an existing user keeps theirs. Raises ``ValueError`` naming every bad argument."""
    username = User.normalize_username(username.strip())
    errors: list[str] = []
    if not username:
        errors.append("a username is required")
    else:
        try:
            User._meta.get_field("username").run_validators(username)
        except ValidationError as error:
            errors.append(f"invalid username {username!r}: {' '.join(error.messages)}")
    if role not in Role.values:
        errors.append(f"unknown role {role!r}; expected one of {', '.join(Role.values)}")
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(f"{email!r} is not an e-mail address")
    if errors:
        raise ValueError("; ".join(errors))
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        created = user is None
        if user is None:
            user = User(username=username)
        if email:
            user.email = User.objects.normalize_email(email)
        if password:
            try:
                validate_password(password, user=user)
            except ValidationError as error:
                raise ValueError(f"the password is refused: {' '.join(error.messages)}") from error
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        membership_set(user=user, organization=organization, role=role)
    return user, created


def user_api_token(*, user: User) -> str:
    """The user's API token (sent as ``Authorization: Token <key>``), created the first time it is asked for."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
