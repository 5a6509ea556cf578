"""Usage endpoint: tokens and cost added up by any of provider, model, team, token type, day, week and month, in the
organization's reporting currency (``GET /api/v1/usage/summary/``).

Answers are cached, rendered, under the organization's usage version (``ingest.selectors.usage_version``), which
every ledger change, currency change, exchange-rate change and team rename replaces (``finops.api.caching``): a
dashboard polling the same question costs a few small queries, and no answer outlives the data it came from, in any
process. Every member of the organization asking the same question shares one answer.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from finops.api.caching import cached_answer
from finops.models import TokenType
from finops.money import minor_units, money_str
from finops.permissions import organization_from_request
from finops.selectors import FxRateMissing
from ingest.selectors import SUMMARY_FIELDS, usage_summary, usage_version

UNROUNDED_PLACES = 10  # the ledger's precision
CACHE_SECONDS = 24 * 3600


class UsageSummaryQuerySerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(
        required=False, help_text="Slug of one of your organizations (optional when you belong to one)."
    )
    group_by = serializers.CharField(
        required=False,
        default="",
        help_text=f"Comma-separated fields to group by, any of: {', '.join(SUMMARY_FIELDS)}. None: one total.",
    )
    by = serializers.CharField(required=False, default="", help_text="The same as group_by (kept for older clients).")
    provider = serializers.CharField(required=False, default="", help_text="Only this provider, e.g. openai.")
    model = serializers.CharField(required=False, default="", help_text="Only this (normalized) model id.")
    team = serializers.CharField(
        required=False, default="", help_text='Only this team (its name), or "unallocated" for usage no rule assigned.'
    )
    token_type = serializers.ChoiceField(
        choices=TokenType.choices, required=False, default="", help_text="Only this token type."
    )
    date_from = serializers.DateField(required=False, help_text="First day (inclusive), YYYY-MM-DD.")
    date_to = serializers.DateField(required=False, help_text="Last day (inclusive), YYYY-MM-DD.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["group_by"] and attrs["by"] and attrs["group_by"] != attrs["by"]:
            raise serializers.ValidationError({"group_by": "give group_by or by, not both"})
        fields = [field.strip() for field in (attrs["group_by"] or attrs["by"]).split(",") if field.strip()]
        unknown = [field for field in fields if field not in SUMMARY_FIELDS]
        if unknown:
            raise serializers.ValidationError(
                {"group_by": f"unknown field(s) {', '.join(unknown)}; use {', '.join(SUMMARY_FIELDS)}"}
            )
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_from is not None and date_to is not None and date_from > date_to:
            raise serializers.ValidationError({"date_to": "must not be before date_from"})
        return {**attrs, "fields": fields}


class UsageGroupSerializer(serializers.Serializer[dict[str, Any]]):
    provider = serializers.CharField(required=False, help_text="With group_by provider.")
    model = serializers.CharField(required=False, help_text="With group_by model.")
    team = serializers.CharField(required=False, help_text='With group_by team: its name, or "unallocated".')
    token_type = serializers.CharField(required=False, help_text="With group_by token_type.")
    day = serializers.DateField(required=False, help_text="With group_by day.")
    week = serializers.DateField(required=False, help_text="With group_by week: its Monday.")
    month = serializers.CharField(required=False, help_text="With group_by month: YYYY-MM.")
    tokens = serializers.IntegerField(help_text="Tokens of every token type (other units left out).")
    cost = serializers.CharField(help_text="Decimal string in the reporting currency, rounded to its minor unit.")
    cost_unrounded = serializers.CharField(help_text="The same cost before rounding (the ledger's 10 decimals).")
    records = serializers.IntegerField(help_text="Ledger records added up.")


class UsageSummarySerializer(serializers.Serializer[dict[str, Any]]):
    organization = serializers.SlugField()
    currency = serializers.CharField(help_text="The organization's reporting currency; costs are converted to it.")
    group_by = serializers.ListField(child=serializers.CharField())
    results = UsageGroupSerializer(many=True)


def _unrounded(amount: Decimal, currency: str) -> str:
    """The amount at the ledger's precision, trailing zeros dropped down to the currency's minor unit."""
    text = format(amount.quantize(Decimal(1).scaleb(-UNROUNDED_PLACES)), "f")
    if "." not in text:
        return text
    whole, fraction = text.split(".")
    fraction = fraction.rstrip("0").ljust(minor_units(currency), "0")
    return f"{whole}.{fraction}" if fraction else whole


class UsageSummaryView(APIView):
    """Tokens and cost grouped by any of provider, model, team, token_type, day, week and month, limited to a
    provider, model, team, token type or dates if asked; costs in the organization's reporting currency."""

    @extend_schema(parameters=[UsageSummaryQuerySerializer], responses=UsageSummarySerializer)
    def get(self, request: Request) -> Response:
        query = UsageSummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = organization_from_request(request, slug=params.get("organization"))
        date_from: date | None = params.get("date_from")
        date_to: date | None = params.get("date_to")
        version = usage_version(organization=organization)

        def compute() -> dict[str, Any]:
            try:
                rows = usage_summary(
                    organization=organization,
                    by=params["fields"],
                    date_from=date_from,
                    date_to=date_to,
                    provider=params["provider"],
                    model=params["model"],
                    team=params["team"],
                    token_type=params["token_type"],
                )
            except FxRateMissing as error:
                raise ValidationError({"currency": str(error)}) from error
            currency = organization.reporting_currency
            # Plain data (the serializers above document it): a month x team summary has thousands of rows.
            results = [
                {
                    **{field: row[field] for field in params["fields"]},
                    "tokens": row["tokens"],
                    "cost": money_str(row["cost"], currency),
                    "cost_unrounded": _unrounded(row["cost"], currency),
                    "records": row["records"],
                }
                for row in rows
            ]
            return {
                "organization": organization.slug,
                "currency": currency,
                "group_by": params["fields"],
                "results": results,
            }

        # The same answer for every member who may read it: cached per organization, as rendered bytes.
        return cached_answer(  # type: ignore[return-value]
            request,
            version=version,
            build=lambda: Response(compute()),
            audience=f"organization:{organization.pk}",
            seconds=CACHE_SECONDS,
        )
