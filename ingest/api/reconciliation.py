"""Reconciliation endpoint: billed cost against tokens x list price per provider, model and month."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from finops.permissions import organization_from_request
from ingest.reconciliation import DEFAULT_THRESHOLD, ReconciliationLine, ledger_reconciliation

MONEY_PLACES = 6


class ReconciliationQuerySerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False)
    threshold = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        min_value=Decimal(0),
        required=False,
        default=DEFAULT_THRESHOLD,
        help_text="Flag drift larger than this fraction (0.1 = 10%).",
    )
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    flagged = serializers.BooleanField(required=False, default=False, help_text="Only the flagged lines.")


class ReconciliationLineOutputSerializer(serializers.Serializer[ReconciliationLine]):
    provider = serializers.CharField()
    model = serializers.CharField()
    month = serializers.SerializerMethodField()
    tokens = serializers.DictField(child=serializers.IntegerField())
    billed = serializers.DictField(child=serializers.DecimalField(max_digits=30, decimal_places=10))
    billed_usd = serializers.DecimalField(max_digits=30, decimal_places=MONEY_PLACES, allow_null=True)
    list_cost = serializers.DecimalField(max_digits=30, decimal_places=MONEY_PLACES)
    expected_cost = serializers.DecimalField(max_digits=30, decimal_places=MONEY_PLACES)
    unpriced_tokens = serializers.DictField(child=serializers.IntegerField())
    drift = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    expected_drift = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    flagged = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())

    def get_month(self, line: ReconciliationLine) -> str:
        return line.month.isoformat()[:7]


class ReconciliationOutputSerializer(serializers.Serializer[dict[str, Any]]):
    organization = serializers.CharField()
    threshold = serializers.DecimalField(max_digits=6, decimal_places=4)
    results = ReconciliationLineOutputSerializer(many=True)


class ReconciliationView(APIView):
    """Billed vs list cost per provider, model and month, with the drift and why it is flagged."""

    @extend_schema(parameters=[ReconciliationQuerySerializer], responses=ReconciliationOutputSerializer)
    def get(self, request: Request) -> Response:
        query = ReconciliationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = organization_from_request(request, slug=query.validated_data.get("organization"))
        threshold = query.validated_data["threshold"]
        lines = ledger_reconciliation(
            organization=organization,
            threshold=threshold,
            date_from=query.validated_data.get("date_from"),
            date_to=query.validated_data.get("date_to"),
        )
        if query.validated_data["flagged"]:
            lines = [line for line in lines if line.flagged]
        data = {"organization": organization.slug, "threshold": threshold, "results": lines}
        return Response(ReconciliationOutputSerializer(data).data)
