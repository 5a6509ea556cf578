"""Price-book endpoints: the prices in force on a date (optionally as an organization pays them), and history."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from finops.models import ModelPrice
from finops.permissions import organization_from_request
from finops.selectors import PriceQuote, price_history, price_quotes


class PricesQuerySerializer(serializers.Serializer[None]):
    model = serializers.CharField(max_length=160, help_text="Model id as the ledger or a price source spells it.")
    provider = serializers.CharField(max_length=60, required=False, help_text="Buying route, e.g. aws_bedrock.")
    on = serializers.DateField(required=False, help_text="Day the prices are in force on (default: today, UTC).")
    organization = serializers.SlugField(
        required=False, help_text="Also give the price this organization pays (you must be a member)."
    )


class PriceInForceOutputSerializer(serializers.Serializer[dict[str, Any]]):
    provider = serializers.CharField()
    model = serializers.CharField()
    token_type = serializers.CharField()
    cache_ttl = serializers.CharField()
    priced_provider = serializers.CharField(help_text="Route of the catalog series the price comes from.")
    priced_model = serializers.CharField(help_text="Catalog id the price comes from (the model or an alias target).")
    usd_per_million = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    effective_from = serializers.DateField(allow_null=True)
    effective_to = serializers.DateField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]  # the output key; shadows Field.source for mypy
    organization_usd_per_million = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    organization_adjustment = serializers.CharField(allow_blank=True)


class PricesOutputSerializer(serializers.Serializer[dict[str, Any]]):
    model = serializers.CharField()
    on = serializers.DateField()
    organization = serializers.CharField(allow_null=True)
    results = PriceInForceOutputSerializer(many=True)


class PriceHistoryQuerySerializer(serializers.Serializer[None]):
    model = serializers.CharField(max_length=160)
    provider = serializers.CharField(max_length=60, required=False)


class PriceStepOutputSerializer(serializers.ModelSerializer[ModelPrice]):
    class Meta:
        model = ModelPrice
        fields = [
            "provider",
            "model",
            "token_type",
            "cache_ttl",
            "usd_per_million",
            "effective_from",
            "effective_to",
            "source",
        ]


class PriceHistoryOutputSerializer(serializers.Serializer[dict[str, Any]]):
    model = serializers.CharField()
    results = PriceStepOutputSerializer(many=True)


def _in_force_row(quote: PriceQuote, *, with_organization: bool) -> dict[str, Any]:
    return {
        "provider": quote.provider,
        "model": quote.model,
        "token_type": quote.token_type,
        "cache_ttl": quote.cache_ttl,
        "priced_provider": quote.priced_provider,
        "priced_model": quote.priced_model,
        "usd_per_million": quote.list_usd_per_million,
        "effective_from": quote.effective_from,
        "effective_to": quote.effective_to,
        "source": quote.source,
        "organization_usd_per_million": quote.usd_per_million if with_organization else None,
        "organization_adjustment": quote.override,
    }


class PricesInForceView(APIView):
    """List prices in force on a date per route, token type and cache TTL; with ``organization``, also the
    price that organization pays (its negotiated discount or custom price applied)."""

    @extend_schema(parameters=[PricesQuerySerializer], responses=PricesOutputSerializer)
    def get(self, request: Request) -> Response:
        query = PricesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        slug = query.validated_data.get("organization")
        organization = organization_from_request(request, slug=slug) if slug else None
        on: date = query.validated_data.get("on") or timezone.now().date()
        model = query.validated_data["model"]
        quotes = price_quotes(
            model=model, on=on, provider=query.validated_data.get("provider"), organization=organization
        )
        data = {
            "model": model,
            "on": on,
            "organization": organization.slug if organization else None,
            "results": [_in_force_row(quote, with_organization=organization is not None) for quote in quotes],
        }
        return Response(PricesOutputSerializer(data).data)


class PriceHistoryView(APIView):
    """Every list-price step of a model on each route and spelling, oldest first per series."""

    @extend_schema(parameters=[PriceHistoryQuerySerializer], responses=PriceHistoryOutputSerializer)
    def get(self, request: Request) -> Response:
        query = PriceHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        model = query.validated_data["model"]
        steps = price_history(model=model, provider=query.validated_data.get("provider"))
        return Response(PriceHistoryOutputSerializer({"model": model, "results": steps}).data)
