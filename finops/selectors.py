"""Reads of the core domain, always scoped to what the caller may see; the price book and FX conversion."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet

from finops.catalog import CACHE_TTLS, DEFAULT_CACHE_TTL, PRICED_TOKEN_TYPES, canonical_model_id
from finops.models import (
    ROLE_RANK,
    AllocationRule,
    CatalogModel,
    CatalogModelAlias,
    FxRate,
    Membership,
    ModelAlias,
    ModelPrice,
    Organization,
    PriceMultiplier,
    PriceOverride,
    Role,
)


class OrganizationAccessDenied(PermissionDenied):
    """The caller is not a member of the organization, or lacks the role the action needs.

    A ``PermissionDenied``: the admin answers it with 403, and the API's error handler too."""


def organizations_for_user(*, user: User | AnonymousUser) -> QuerySet[Organization]:
    """Organizations the user belongs to (all of them for a superuser)."""
    if not user.is_authenticated:
        return Organization.objects.none()
    if getattr(user, "is_superuser", False):
        return Organization.objects.all()
    # One row per organization without DISTINCT: a user holds at most one membership in each (uniq_membership).
    return Organization.objects.filter(memberships__user_id=user.pk)


def organization_for_user(*, user: User | AnonymousUser, slug: str, min_role: str = Role.VIEWER) -> Organization:
    """The organization ``slug`` if the user holds at least ``min_role`` in it; else OrganizationAccessDenied.

    One query: every API request resolves its organization here."""
    if not user.is_authenticated:
        raise OrganizationAccessDenied(f"no organization {slug!r} among yours")
    if getattr(user, "is_superuser", False):
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise OrganizationAccessDenied(f"no organization {slug!r} among yours")
        return organization
    membership = Membership.objects.select_related("organization").filter(user_id=user.pk, organization__slug=slug)
    return _membership_organization(membership.first(), slug=slug, min_role=min_role)


def organization_only_for_user(*, user: User | AnonymousUser, min_role: str = Role.VIEWER) -> Organization | None:
    """The user's organization when they belong to exactly one (checked against ``min_role``), else None. One query
    (two for a superuser)."""
    if not user.is_authenticated:
        return None
    if getattr(user, "is_superuser", False):
        organizations = list(Organization.objects.all()[:2])
        return organizations[0] if len(organizations) == 1 else None
    memberships = list(Membership.objects.select_related("organization").filter(user_id=user.pk)[:2])
    if len(memberships) != 1:
        return None
    return _membership_organization(memberships[0], slug=memberships[0].organization.slug, min_role=min_role)


def _membership_organization(membership: Membership | None, *, slug: str, min_role: str) -> Organization:
    if membership is None:
        raise OrganizationAccessDenied(f"no organization {slug!r} among yours")
    if ROLE_RANK[Role(membership.role)] < ROLE_RANK[Role(min_role)]:
        raise OrganizationAccessDenied(f"your role in {slug!r} is {membership.role}; this needs {min_role} or higher")
    return membership.organization


def role_require(*, user: User | AnonymousUser | None, organization: Organization, min_role: str) -> None:
    """Raise OrganizationAccessDenied unless ``user`` holds ``min_role`` in ``organization``.

    The one check every service with a side effect makes; ``user=None`` is the operator (a management
    command or a task acting for the system), who may do anything.
    """
    if user is None:
        return
    organization_for_user(user=user, slug=organization.slug, min_role=min_role)


def organizations_for_role(*, user: User | AnonymousUser, min_role: str) -> QuerySet[Organization]:
    """Organizations where the user holds at least ``min_role`` (all of them for a superuser)."""
    if getattr(user, "is_superuser", False) and user.is_authenticated:
        return Organization.objects.all()
    roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[Role(min_role)]]
    return (
        organizations_for_user(user=user)
        .filter(memberships__user_id=user.pk or 0, memberships__role__in=roles)
        .distinct()
    )


def model_aliases_for(*, organization: Organization) -> dict[tuple[str, str], str]:
    """The organization's aliases keyed by (provider or "", model_raw)."""
    return {
        (alias.provider, alias.model_raw): alias.model for alias in ModelAlias.objects.filter(organization=organization)
    }


def allocation_rules_for(*, organization: Organization) -> list[AllocationRule]:
    """The organization's allocation rules in the order they apply."""
    return list(AllocationRule.objects.filter(organization=organization).select_related("team"))


@dataclass(frozen=True)
class PriceStep:
    """One list price of a series: in force from ``effective_from`` until the next step (or ``effective_to``)."""

    effective_from: date
    effective_to: date | None
    usd_per_million: Decimal
    source: str


@dataclass(frozen=True)
class PriceQuote:
    """The price of one token type on one day, and where it came from.

    ``list_usd_per_million`` is the catalog price (None when only a custom price applies);
    ``usd_per_million`` is what the book charges: the organization's override and the service-tier
    multiplier applied to it.
    """

    provider: str
    model: str
    token_type: str
    cache_ttl: str
    on: date
    priced_provider: str
    priced_model: str
    list_usd_per_million: Decimal | None
    effective_from: date | None
    effective_to: date | None
    source: str
    usd_per_million: Decimal
    override: str
    multiplier: Decimal | None


@dataclass(frozen=True)
class _Override:
    id: int
    model: str
    token_type: str
    discount_percent: Decimal | None
    usd_per_million: Decimal | None
    effective_from: date
    effective_to: date | None
    description: str

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def specificity(self) -> tuple[bool, bool, bool, date, int]:
        return (self.usd_per_million is not None, bool(self.model), bool(self.token_type), self.effective_from, self.id)


SeriesKey = tuple[str, str, str, str]  # provider, model, token type, cache TTL


class PriceBook:
    """Prices in force on a date, loaded once for a batch of lookups.

    A lookup for (provider, model) tries the series of that exact id, then the catalog aliases of
    that id on the route, then the same for its canonical id (``finops.catalog.canonical_model_id``);
    per token type the first series with a price in force on the day wins. Cache writes without a
    stated TTL take a price without TTL, else the 5-minute price. With an organization, its
    overrides apply; with a service tier, the provider's multiplier for that tier applies.
    """

    def __init__(
        self,
        prices: Iterable[ModelPrice],
        *,
        aliases: Iterable[tuple[str, str, str, str]] = (),
        multipliers: Iterable[PriceMultiplier] = (),
        overrides: Iterable[PriceOverride] = (),
    ) -> None:
        steps: dict[SeriesKey, list[PriceStep]] = {}
        for price in prices:
            key = (price.provider, price.model, price.token_type, price.cache_ttl)
            steps.setdefault(key, []).append(
                PriceStep(price.effective_from, price.effective_to, price.usd_per_million, price.source)
            )
        self._steps = {key: sorted(series, key=lambda step: step.effective_from) for key, series in steps.items()}
        self._dates = {key: [step.effective_from for step in series] for key, series in self._steps.items()}
        self._series_models = {(provider, model) for provider, model, _, _ in self._steps}
        self._aliases: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for route, alias, provider, model in aliases:
            self._aliases.setdefault((route, alias), []).append((provider, model))
        self._multipliers = {
            (multiplier.provider, multiplier.kind): (multiplier.multiplier, set(multiplier.token_types))
            for multiplier in multipliers
        }
        self._overrides: dict[str, list[_Override]] = {}
        for override in overrides:
            self._overrides.setdefault(override.provider, []).append(
                _Override(
                    id=override.pk,
                    model=override.model,
                    token_type=override.token_type,
                    discount_percent=override.discount_percent,
                    usd_per_million=override.usd_per_million,
                    effective_from=override.effective_from,
                    effective_to=override.effective_to,
                    description=override.describe(),
                )
            )
        self._candidates: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def usd_per_million(
        self, *, provider: str, model: str, token_type: str, on: date, service_tier: str = "", cache_ttl: str = ""
    ) -> Decimal | None:
        """The price charged on ``on`` (list, or the organization's), or None when nothing prices it then."""
        quote = self.quote(
            provider=provider, model=model, token_type=token_type, on=on, service_tier=service_tier, cache_ttl=cache_ttl
        )
        return quote.usd_per_million if quote is not None else None

    def quote(
        self,
        *,
        provider: str,
        model: str,
        token_type: str,
        on: date,
        service_tier: str = "",
        cache_ttl: str = "",
        exact_ttl: bool = False,
    ) -> PriceQuote | None:
        """The price of one token type on one day with its provenance, or None when nothing prices it."""
        ttls = [cache_ttl] if exact_ttl or token_type != "cache_write" else _ttl_order(cache_ttl)
        found = self._list_step(provider=provider, model=model, token_type=token_type, on=on, ttls=ttls)
        override = self._override(provider=provider, model=model, found=found, token_type=token_type, on=on)
        if found is None and (override is None or override.usd_per_million is None):
            return None
        priced_provider, priced_model, ttl, step = found if found is not None else (provider, model, cache_ttl, None)
        if override is None:
            price = step.usd_per_million if step is not None else Decimal(0)
        elif override.usd_per_million is not None:
            price = override.usd_per_million
        else:
            assert step is not None and override.discount_percent is not None
            price = step.usd_per_million * (1 - override.discount_percent / 100)
        multiplier = self.multiplier(provider=provider, kind=service_tier, token_type=token_type)
        if multiplier is not None:
            price *= multiplier
        return PriceQuote(
            provider=provider,
            model=model,
            token_type=token_type,
            cache_ttl=ttl,
            on=on,
            priced_provider=priced_provider,
            priced_model=priced_model,
            list_usd_per_million=step.usd_per_million if step is not None else None,
            effective_from=step.effective_from if step is not None else None,
            effective_to=step.effective_to if step is not None else None,
            source=step.source if step is not None else "",
            usd_per_million=price,
            override=override.description if override is not None else "",
            multiplier=multiplier,
        )

    def multiplier(self, *, provider: str, kind: str, token_type: str) -> Decimal | None:
        """The provider's multiplier for a service tier or endpoint kind on this token type, or None."""
        found = self._multipliers.get((provider, kind)) if kind else None
        if found is None:
            return None
        multiplier, token_types = found
        return multiplier if not token_types or token_type in token_types else None

    def first_listed(self, *, provider: str, model: str, token_type: str) -> date | None:
        """The earliest date any candidate series prices this token type (to explain a missing price)."""
        firsts = [
            self._dates[key][0]
            for candidate in self._candidates_for(provider, model)
            for key in [(*candidate, token_type, ttl) for ttl in ("", *CACHE_TTLS)]
            if key in self._dates
        ]
        return min(firsts) if firsts else None

    def _list_step(
        self, *, provider: str, model: str, token_type: str, on: date, ttls: list[str]
    ) -> tuple[str, str, str, PriceStep] | None:
        for priced_provider, priced_model in self._candidates_for(provider, model):
            for ttl in ttls:
                key = (priced_provider, priced_model, token_type, ttl)
                dates = self._dates.get(key)
                if not dates:
                    continue
                index = bisect.bisect_right(dates, on)
                if index == 0:
                    continue
                step = self._steps[key][index - 1]
                if step.effective_to is not None and on > step.effective_to:
                    continue
                return priced_provider, priced_model, ttl, step
        return None

    def _candidates_for(self, provider: str, model: str) -> list[tuple[str, str]]:
        cached = self._candidates.get((provider, model))
        if cached is not None:
            return cached
        candidates: list[tuple[str, str]] = []
        for name in dict.fromkeys((model, canonical_model_id(model))):
            for candidate in [(provider, name), *self._aliases.get((provider, name), [])]:
                if candidate not in candidates and candidate in self._series_models:
                    candidates.append(candidate)
        self._candidates[(provider, model)] = candidates
        return candidates

    def _override(
        self, *, provider: str, model: str, found: tuple[str, str, str, PriceStep] | None, token_type: str, on: date
    ) -> _Override | None:
        overrides = self._overrides.get(provider)
        if not overrides:
            return None
        names = {"", model, canonical_model_id(model)}
        if found is not None:
            names.add(found[1])
        matching = [
            override
            for override in overrides
            if override.in_force(on) and override.model in names and override.token_type in ("", token_type)
        ]
        if found is None:
            matching = [override for override in matching if override.usd_per_million is not None]
        return max(matching, key=_Override.specificity, default=None)


def _ttl_order(cache_ttl: str) -> list[str]:
    if cache_ttl == "":
        return ["", DEFAULT_CACHE_TTL]
    return [cache_ttl, ""] if cache_ttl == DEFAULT_CACHE_TTL else [cache_ttl]


def price_book(*, organization: Organization | None = None) -> PriceBook:
    """The list-price catalog as a PriceBook (a few thousand rows: loaded once per batch of lookups).

    With ``organization``, its negotiated overrides apply to every price the book gives.
    """
    aliases = CatalogModelAlias.objects.order_by("priority", "id").values_list(
        "provider", "alias", "catalog_model__provider", "catalog_model__model_id"
    )
    overrides = PriceOverride.objects.filter(organization=organization) if organization is not None else []
    return PriceBook(
        ModelPrice.objects.all(),
        aliases=list(aliases),
        multipliers=PriceMultiplier.objects.all(),
        overrides=overrides,
    )


def prices_in_force(*, on: date, provider: str | None = None, model: str | None = None) -> QuerySet[ModelPrice]:
    """Catalog rows in force on ``on``: per series the latest step from on or before it, unless it has ended."""
    prices = ModelPrice.objects.filter(effective_from__lte=on).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=on)
    )
    if provider:
        prices = prices.filter(provider=provider)
    if model:
        prices = prices.filter(model=model)
    later = ModelPrice.objects.filter(
        provider=OuterRef("provider"),
        model=OuterRef("model"),
        token_type=OuterRef("token_type"),
        cache_ttl=OuterRef("cache_ttl"),
        effective_from__gt=OuterRef("effective_from"),
        effective_from__lte=on,
    )
    return prices.filter(~Exists(later))


def price_series_for(*, model: str, provider: str | None = None) -> list[tuple[str, str]]:
    """The (provider, catalog id) series that price ``model``: its own id, the catalog models it is an
    alias of, and every spelling with the same canonical id; on ``provider``, or on every route."""
    canonical = canonical_model_id(model)
    names = list(dict.fromkeys((model, canonical)))
    aliases = CatalogModelAlias.objects.filter(alias__in=names)
    if provider:
        aliases = aliases.filter(provider=provider)
    aliased = aliases.values_list("catalog_model_id", flat=True)
    spelled = CatalogModel.objects.filter(Q(model_id__in=names) | Q(canonical_id=canonical))
    if provider:
        spelled = spelled.filter(provider=provider)
    series = set(spelled.values_list("provider", "model_id"))
    series.update(CatalogModel.objects.filter(pk__in=aliased).values_list("provider", "model_id"))
    direct = ModelPrice.objects.filter(model=model)
    if provider:
        direct = direct.filter(provider=provider)
    series.update(direct.values_list("provider", "model").distinct())
    return sorted(series)


def price_quotes(
    *, model: str, on: date, provider: str | None = None, organization: Organization | None = None
) -> list[PriceQuote]:
    """The prices in force on ``on`` for ``model``, one per route, token type and cache TTL.

    Routes are those with a series for the model (``price_series_for``); each quote comes from the
    price book, so aliases, the organization's overrides and custom prices apply as they do at ingest.
    """
    book = price_book(organization=organization)
    routes = sorted({route for route, _ in price_series_for(model=model, provider=provider)})
    if provider and provider not in routes and organization is not None:
        routes.append(provider)  # an organization may have a custom price for a model the catalog lacks
    quotes = []
    for route in routes:
        for token_type in PRICED_TOKEN_TYPES:
            ttls = ("", *CACHE_TTLS) if token_type == "cache_write" else ("",)
            for ttl in ttls:
                quote = book.quote(
                    provider=route, model=model, token_type=token_type, on=on, cache_ttl=ttl, exact_ttl=True
                )
                if quote is not None and (ttl == "" or quote.list_usd_per_million is not None):
                    quotes.append(quote)
    return quotes


def price_history(*, model: str, provider: str | None = None) -> QuerySet[ModelPrice]:
    """Every list-price step of the series that price ``model`` (see ``price_series_for``), oldest first per series."""
    series = price_series_for(model=model, provider=provider)
    if not series:
        return ModelPrice.objects.none()
    matches = Q()
    for route, model_id in series:
        matches |= Q(provider=route, model=model_id)
    return ModelPrice.objects.filter(matches).order_by("provider", "model", "token_type", "cache_ttl", "effective_from")


def catalog_model_prices(*, catalog_model: CatalogModel) -> QuerySet[ModelPrice]:
    """The list-price steps of one catalog model, oldest first per token type."""
    return ModelPrice.objects.filter(provider=catalog_model.provider, model=catalog_model.model_id).order_by(
        "token_type", "cache_ttl", "effective_from"
    )


# --- FX ---


class FxRateMissing(LookupError):
    """No exchange rate for the pair on or before the date."""


@dataclass(frozen=True)
class Conversion:
    """A converted amount with the rate used and that rate's date (None when no conversion was needed)."""

    amount: Decimal
    from_currency: str
    to_currency: str
    rate: Decimal
    rate_date: date | None


class FxTable:
    """Dated exchange rates loaded once; converts at the latest rate on or before a date.

    A pair is read directly, or inverted from the opposite pair (whichever is more recent), or
    crossed through USD; a cross rate's date is the older of its two legs.
    """

    def __init__(self, rates: Iterable[tuple[str, str, Decimal, date]]) -> None:
        by_pair: dict[tuple[str, str], list[tuple[date, Decimal]]] = {}
        for from_currency, to_currency, rate, rate_date in rates:
            by_pair.setdefault((from_currency, to_currency), []).append((rate_date, rate))
        self._pairs = {pair: sorted(rows) for pair, rows in by_pair.items()}
        self._dates = {pair: [rate_date for rate_date, _ in rows] for pair, rows in self._pairs.items()}

    def rate(self, *, from_currency: str, to_currency: str, on: date) -> tuple[Decimal, date | None]:
        """The rate (units of ``to_currency`` per ``from_currency``) and its date; FxRateMissing when none."""
        if from_currency == to_currency:
            return Decimal(1), None
        found = self._pair_rate(from_currency, to_currency, on)
        if found is not None:
            return found
        if "USD" not in (from_currency, to_currency):
            first = self._pair_rate(from_currency, "USD", on)
            second = self._pair_rate("USD", to_currency, on)
            if first is not None and second is not None:
                return first[0] * second[0], min(first[1], second[1])
        raise FxRateMissing(
            f"no {from_currency}->{to_currency} exchange rate on or before {on.isoformat()}; "
            "add one in the admin (FX rates) or with manage.py fx_import"
        )

    def convert(self, *, amount: Decimal, from_currency: str, to_currency: str, on: date) -> Conversion:
        rate, rate_date = self.rate(from_currency=from_currency, to_currency=to_currency, on=on)
        return Conversion(amount * rate, from_currency, to_currency, rate, rate_date)

    def _pair_rate(self, from_currency: str, to_currency: str, on: date) -> tuple[Decimal, date] | None:
        direct = self._latest((from_currency, to_currency), on)
        inverse = self._latest((to_currency, from_currency), on)
        if inverse is not None and (direct is None or inverse[0] > direct[0]):
            return Decimal(1) / inverse[1], inverse[0]
        return (direct[1], direct[0]) if direct is not None else None

    def _latest(self, pair: tuple[str, str], on: date) -> tuple[date, Decimal] | None:
        dates = self._dates.get(pair)
        if not dates:
            return None
        index = bisect.bisect_right(dates, on)
        return self._pairs[pair][index - 1] if index else None


def fx_table(*, currencies: Iterable[str] | None = None) -> FxTable:
    """Exchange rates as an FxTable; ``currencies`` limits it to rates among those (USD always included)."""
    rates = FxRate.objects.all()
    if currencies is not None:
        wanted = {*currencies, "USD"}
        rates = rates.filter(from_currency__in=wanted, to_currency__in=wanted)
    return FxTable(rates.values_list("from_currency", "to_currency", "rate", "rate_date"))


def fx_convert(*, amount: Decimal, from_currency: str, to_currency: str, on: date) -> Conversion:
    """``amount`` converted at the latest rate on or before ``on``, with that rate and its date.

    Raises FxRateMissing (with what to do about it) when no rate is known.
    """
    table = fx_table(currencies={from_currency, to_currency})
    return table.convert(amount=amount, from_currency=from_currency, to_currency=to_currency, on=on)
