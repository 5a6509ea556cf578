"""`manage.py recommend --org SLUG [--json]`: regenerate an organization's recommendations and print them.

Reads the latest succeeded forecast run; prints one line per recommendation (kind, team, model -> target, monthly
and twelve-month savings, confidence, status), or with ``--json`` an object with the counts and every
recommendation with its evidence.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from finops.models import Organization
from planning.models import Recommendation
from planning.recommendations import RecommendationResult, recommendations_generate


def _money(value: Decimal | None) -> str:
    return f"{value:,.2f}" if value is not None else "-"


def _as_dict(recommendation: Recommendation) -> dict[str, Any]:
    return {
        "id": recommendation.pk,
        "kind": recommendation.kind,
        "status": recommendation.status,
        "team": recommendation.team,
        "provider": recommendation.provider,
        "model": recommendation.model,
        "to_model": recommendation.to_model,
        "title": recommendation.title,
        "monthly_savings": str(recommendation.monthly_savings) if recommendation.monthly_savings is not None else None,
        "twelve_month_savings": (
            str(recommendation.twelve_month_savings) if recommendation.twelve_month_savings is not None else None
        ),
        "currency": recommendation.currency,
        "confidence": recommendation.confidence,
        "lower_quality": recommendation.lower_quality,
        "quality_gap": recommendation.quality_gap,
        "evidence": recommendation.evidence,
    }


class Command(BaseCommand):
    help = "Regenerate an organization's recommendations from its latest forecast and print them with their savings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--json", action="store_true", help="print the counts and recommendations as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(
                f"no organization {options['org']!r}; create it with: manage.py org_create {options['org']}"
            )
        try:
            result = recommendations_generate(organization=organization)
        except ValueError as error:
            raise CommandError(str(error)) from error
        if result.run is None:
            raise CommandError(
                f"{organization.slug} has no succeeded forecast run; run manage.py forecast --org {organization.slug}"
            )
        if options["json"]:
            self.stdout.write(json.dumps(self._report(organization, result), indent=2))
            return
        self._print_table(result)

    def _report(self, organization: Organization, result: RecommendationResult) -> dict[str, Any]:
        return {
            "organization": organization.slug,
            "forecast_run": result.run.pk if result.run else None,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "left_alone": result.left_alone,
            "withdrawn": result.withdrawn,
            "recommendations": [_as_dict(recommendation) for recommendation in result.recommendations],
        }

    def _print_table(self, result: RecommendationResult) -> None:
        assert result.run is not None
        self.stdout.write(
            f"forecast #{result.run.pk}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.left_alone} left alone, {result.withdrawn} withdrawn"
        )
        header = ("kind", "team", "model -> to_model", "monthly USD", "12-month USD", "confidence", "status")
        rows = [
            (
                row.kind,
                row.team or "-",
                f"{row.provider}/{row.model or '*'}" + (f" -> {row.to_model}" if row.to_model else ""),
                _money(row.monthly_savings),
                _money(row.twelve_month_savings),
                row.confidence + (f" (lower quality by {row.quality_gap:g})" if row.lower_quality else ""),
                row.status,
            )
            for row in result.recommendations
        ]
        widths = [max(len(str(line[index])) for line in [header, *rows]) for index in range(len(header))]
        for line in [header, *rows]:
            cells = [
                str(cell).rjust(width) if index in (3, 4) else str(cell).ljust(width)
                for index, (cell, width) in enumerate(zip(line, widths, strict=True))
            ]
            self.stdout.write("  ".join(cells).rstrip())
