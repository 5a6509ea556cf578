"""Planning endpoints: budgets (admins write, everyone reads) with their status for any period, alerts with
acknowledge, webhooks (admins), and recommendations with accept, dismiss and snooze (analysts)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import django_filters
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ModelViewSet, ReadOnlyModelViewSet

from finops.api.caching import cached_answer, fx_version, version_row
from finops.api.fields import MoneyField
from finops.models import Organization, Role
from finops.permissions import organization_from_request
from finops.selectors import (
    FxRateMissing,
    OrganizationAccessDenied,
    fx_table,
    organization_for_user,
    organizations_for_role,
)
from forecasting.selectors import forecast_latest, forecast_latest_annotations, forecast_latest_version_from
from ingest.selectors import usage_version_annotation, usage_version_from
from planning.models import Alert, Budget, Recommendation, Webhook
from planning.selectors import (
    BudgetStatus,
    alerts_for_user,
    budget_status,
    budgets_for_user,
    recommendations_for_user,
)
from planning.services import BUDGET_FIELDS, BudgetInvalid, alert_acknowledge, budget_save, webhook_save

if TYPE_CHECKING:
    from forecasting.models import ForecastRun


def require_role(request: Request, organization: Organization, min_role: str) -> None:
    """The caller must hold ``min_role`` in the object's organization (they can already see it)."""
    try:
        organization_for_user(user=request.user, slug=organization.slug, min_role=min_role)
    except OrganizationAccessDenied as error:
        raise PermissionDenied(str(error)) from error


def _budget_status_versions(organization_id: Any) -> QuerySet[Any, Any]:
    """The parts of a budget status's version, one row for the organization: its budgets' count and last change, its
    usage's rollup version and its latest run's id and finish time."""
    budgets = Budget.objects.filter(organization=OuterRef("pk")).order_by().values("organization")
    return (
        Organization.objects.filter(pk=organization_id)
        .annotate(
            budget_count=Subquery(budgets.annotate(count=Count("pk")).values("count")),
            budget_last=Subquery(budgets.annotate(last=Max("updated_at")).values("last")),
            rollup_version=usage_version_annotation(),
            **forecast_latest_annotations(),
        )
        .values_list("budget_count", "budget_last", "rollup_version", "latest_run_id", "latest_run_finished_at")
    )


def _budget_status_version(budget: Budget) -> str:
    """What a budget's status reads: its organization's budgets (the hierarchy), its usage (the rollup, whose
    version also changes with every exchange rate), its latest run, and today (actuals to date). One query."""
    organization = budget.organization
    row = version_row(_budget_status_versions, organization.pk)
    if row is None:  # the organization was deleted meanwhile
        raise NotFound("no such budget")
    budget_count, budget_last, rollup_version, run_id, run_finished_at = row
    usage = usage_version_from(organization, rollup_version)
    return ":".join(
        str(part)
        for part in (
            budget_count,
            budget_last,
            usage if usage is not None else fx_version(),  # no usage yet: the exchange rates themselves
            forecast_latest_version_from(run_id, run_finished_at),
            timezone.now().date(),
        )
    )


def _recommendations_version(queryset: QuerySet[Recommendation]) -> str:
    """The recommendations' last change and count, and today (snoozes end by date)."""
    latest = queryset.aggregate(count=Count("pk"), last=Max("updated_at"))
    return f"{latest['count']}:{latest['last']}:{timezone.now().date()}"


class OrganizationFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")


class BudgetOutputSerializer(serializers.ModelSerializer[Budget]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    team = serializers.SerializerMethodField()
    owners = serializers.SerializerMethodField()
    amount = MoneyField(currency_source="currency")

    class Meta:
        model = Budget
        fields = ["id", "organization", *BUDGET_FIELDS, "created_at", "updated_at"]

    def get_team(self, budget: Budget) -> str | None:
        return budget.team.slug if budget.team else None

    def get_owners(self, budget: Budget) -> list[str]:
        return [owner.user.get_username() if owner.user else owner.email for owner in budget.owners.all()]


class BudgetInputSerializer(serializers.Serializer[None]):
    """Fields are checked by the budget service, so the API, the admin and the CSV import say the same."""

    organization = serializers.SlugField(required=False)
    name = serializers.CharField(max_length=200)
    team = serializers.CharField(required=False, allow_blank=True, allow_null=True, help_text="A team's slug or name.")
    provider = serializers.CharField(required=False, allow_blank=True, max_length=60)
    model = serializers.CharField(required=False, allow_blank=True, max_length=160)
    period = serializers.CharField(required=False, default="month", help_text="month, quarter or year")
    starts_on = serializers.CharField(help_text="YYYY-MM-01")
    ends_on = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    amount = serializers.CharField(help_text="A decimal number, at most 2 decimals, not negative.")
    currency = serializers.CharField(required=False, default="USD")
    owners = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="E-mail addresses or members' usernames."
    )
    thresholds = serializers.ListField(child=serializers.JSONField(), required=False)
    overrun_alert_probability = serializers.JSONField(required=False)


class BudgetStatusSerializer(serializers.Serializer[BudgetStatus]):
    budget = serializers.IntegerField(source="budget.pk")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    amount = MoneyField(currency_source="currency")
    currency = serializers.CharField()
    actual = MoneyField(currency_source="currency")
    actual_through = serializers.DateField(allow_null=True)
    forecast = MoneyField(currency_source="currency")
    forecast_lower = MoneyField(currency_source="currency")
    forecast_upper = MoneyField(currency_source="currency")
    overrun_probability = serializers.FloatField(allow_null=True)
    projected_breach_date = serializers.DateField(allow_null=True)
    variance = MoneyField(currency_source="currency")
    forecast_run = serializers.IntegerField(allow_null=True)
    forecast_through = serializers.DateField(allow_null=True)
    sampled_paths = serializers.IntegerField()
    thresholds_crossed = serializers.ListField(child=serializers.FloatField())
    state = serializers.CharField()
    fx = serializers.DictField()
    parent_budget = serializers.IntegerField(allow_null=True, source="parent")
    children = serializers.DictField()
    notes = serializers.ListField(child=serializers.CharField())


class BudgetSkippedSerializer(serializers.Serializer[dict[str, Any]]):
    budget = serializers.IntegerField()
    name = serializers.CharField()
    reason = serializers.CharField()


class BudgetStatusRowSerializer(BudgetStatusSerializer):
    """A status row of the list: the budget's name and scope beside its figures."""

    name = serializers.CharField(source="budget.name")
    organization = serializers.CharField(source="budget.organization.slug")

    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        fields = super().get_fields()
        first = ["budget", "organization", "name"]
        return {name: fields[name] for name in [*first, *(name for name in fields if name not in first)]}


class BudgetStatusListSerializer(serializers.Serializer[dict[str, Any]]):
    results = BudgetStatusRowSerializer(many=True)
    skipped = BudgetSkippedSerializer(many=True)


PERIOD_PARAMETER = OpenApiParameter("period", date, description="Any day in the period; default today.")


def _period_day(request: Request) -> date | None:
    raw = request.query_params.get("period")
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError as error:
        raise ValidationError({"period": f"expected a date as YYYY-MM-DD, got {raw!r}"}) from error


def _budget_payload(request: Request) -> tuple[Organization, dict[str, Any]]:
    data = BudgetInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    values = dict(data.validated_data)
    organization = organization_from_request(request, slug=values.pop("organization", None), min_role=Role.ADMIN)
    return organization, values


class BudgetViewSet(ModelViewSet[Budget]):
    """Budgets of your organizations; admins create, change and delete them. ``status/`` gives any period."""

    serializer_class = BudgetOutputSerializer
    filterset_class = OrganizationFilter
    ordering_fields = ["id", "name", "amount", "starts_on", "created_at", "updated_at"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        budgets = budgets_for_user(user=self.request.user)
        if self.action == "status":  # one budget by id, no owners: the lightest query on the endpoint dashboards poll
            return budgets.prefetch_related(None)
        return budgets.order_by("organization__slug", "name")

    def filter_queryset(self, queryset):  # type: ignore[no-untyped-def]
        # The list filters and ordering mean nothing to one budget's status.
        return queryset if self.action == "status" else super().filter_queryset(queryset)

    @extend_schema(request=BudgetInputSerializer, responses={201: BudgetOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organization, values = _budget_payload(request)
        try:
            budget = budget_save(organization=organization, data=values)
        except BudgetInvalid as error:
            raise ValidationError(error.errors) from error
        return Response(BudgetOutputSerializer(budget).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BudgetInputSerializer, responses=BudgetOutputSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        budget = self.get_object()
        require_role(request, budget.organization, Role.ADMIN)
        data = BudgetInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        values = {**_budget_fields(budget), **data.validated_data}
        values.pop("organization", None)
        try:
            budget = budget_save(organization=budget.organization, data=values, budget=budget)
        except BudgetInvalid as error:
            raise ValidationError(error.errors) from error
        return Response(BudgetOutputSerializer(budget).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        budget = self.get_object()
        require_role(request, budget.organization, Role.ADMIN)
        budget.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[PERIOD_PARAMETER], responses=BudgetStatusSerializer)
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        """Actual to date, the forecast of the period with its 80% interval, the overrun probability read off the
        latest run's sampled paths, the projected breach date and the variance."""
        budget = self.get_object()
        on = _period_day(request)

        def build() -> Response:
            try:
                result = budget_status(budget=budget, on=on)
            except FxRateMissing as error:
                raise ValidationError({"currency": str(error)}) from error
            except ValueError as error:
                raise ValidationError({"period": str(error)}) from error
            return Response(BudgetStatusSerializer(result).data)

        return cached_answer(request, version=_budget_status_version(budget), build=build)  # type: ignore[return-value]

    @extend_schema(
        parameters=[PERIOD_PARAMETER, OpenApiParameter("organization", str, description="An organization's slug.")],
        responses=BudgetStatusListSerializer,
        operation_id="v1_budgets_status_list",
    )
    @action(detail=False, methods=["get"], url_path="status")
    def status_list(self, request: Request) -> Response:
        """Every budget's status for the period containing ``period`` (default today): the table to export with
        ``?format=csv`` or ``?format=xlsx``. Budgets with no period there, or no exchange rate, are listed under
        ``skipped`` with the reason."""
        on = _period_day(request)
        budgets = self.filter_queryset(self.get_queryset()).select_related("organization", "team")
        table = fx_table()  # read once, and each organization's latest run once, for all the budgets
        runs: dict[int, ForecastRun | None] = {}
        results, skipped = [], []
        for budget in budgets:
            if budget.organization_id not in runs:
                runs[budget.organization_id] = forecast_latest(organization=budget.organization)
            try:
                results.append(budget_status(budget=budget, on=on, run=runs[budget.organization_id], fx=table))
            except (FxRateMissing, ValueError) as error:
                skipped.append({"budget": budget.pk, "name": budget.name, "reason": str(error)})
        return Response(BudgetStatusListSerializer({"results": results, "skipped": skipped}).data)


def _budget_fields(budget: Budget) -> dict[str, Any]:
    """A budget as budget_save's input, so a PATCH changes only what it names."""
    return {
        "name": budget.name,
        "team": budget.team,
        "provider": budget.provider,
        "model": budget.model,
        "period": budget.period,
        "starts_on": budget.starts_on,
        "ends_on": budget.ends_on,
        "amount": budget.amount,
        "currency": budget.currency,
        "owners": [owner.user.get_username() if owner.user else owner.email for owner in budget.owners.all()],
        "thresholds": budget.thresholds,
        "overrun_alert_probability": budget.overrun_alert_probability,
    }


def _callers_budgets(request: Request | None) -> QuerySet[Budget]:
    """The budgets the alert filter accepts: the caller's (none when there is no request, e.g. for the schema)."""
    return budgets_for_user(user=request.user) if request is not None else Budget.objects.none()


class AlertFilter(OrganizationFilter):
    # Only the caller's budgets are valid choices: another organization's budget id must not answer differently
    # from one that does not exist.
    budget = django_filters.ModelChoiceFilter(queryset=_callers_budgets)

    class Meta:
        model = Alert
        fields = ["organization", "status", "kind", "budget"]


class AlertSerializer(serializers.ModelSerializer[Alert]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "organization",
            "kind",
            "budget",
            "period_start",
            "scope",
            "status",
            "level",
            "generation",
            "opened_at",
            "resolved_at",
            "acknowledged_at",
            "message",
            "details",
        ]


class AlertViewSet(ReadOnlyModelViewSet[Alert]):
    """Alerts of your organizations, newest first; filter by organization, status (open, resolved) and kind."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["id", "opened_at", "resolved_at", "level", "status", "kind"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return alerts_for_user(user=self.request.user)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Mark the alert as seen; it stays open until its condition clears."""
        alert = self.get_object()
        require_role(request, alert.organization, Role.ANALYST)
        return Response(AlertSerializer(alert_acknowledge(alert=alert, user=request.user)).data)


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    url = serializers.CharField(max_length=500)

    class Meta:
        model = Webhook
        fields = ["id", "organization", "name", "url", "secret", "kinds", "active", "created_at"]


class WebhookViewSet(ModelViewSet[Webhook]):
    """Webhooks of the organizations you administer: a URL, a secret that signs each POST, the alert kinds."""

    serializer_class = WebhookSerializer
    filterset_class = OrganizationFilter
    ordering_fields = ["id", "name", "created_at"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        admin_of = organizations_for_role(user=self.request.user, min_role=Role.ADMIN)
        return Webhook.objects.filter(organization__in=admin_of).select_related("organization")

    def _save(self, request: Request, webhook: Webhook | None) -> Webhook:
        data = WebhookSerializer(data=request.data, partial=webhook is not None)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if webhook is None:
            organization = organization_from_request(
                request,
                slug=request.data.get("organization") if isinstance(request.data, dict) else None,
                min_role=Role.ADMIN,
            )
        else:
            organization = webhook.organization
        try:
            return webhook_save(
                organization=organization,
                name=values.get("name", webhook.name if webhook else ""),
                url=values.get("url", webhook.url if webhook else ""),
                secret=values.get("secret", webhook.secret if webhook else ""),
                kinds=values.get("kinds", webhook.kinds if webhook else []),
                active=values.get("active", webhook.active if webhook else True),
                webhook=webhook,
            )
        except BudgetInvalid as error:
            raise ValidationError(error.errors) from error

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(WebhookSerializer(self._save(request, None)).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(WebhookSerializer(self._save(request, self.get_object())).data)


class RecommendationFilter(OrganizationFilter):
    class Meta:
        model = Recommendation
        fields = ["organization", "kind", "status", "team", "provider", "model"]


class RecommendationSerializer(serializers.ModelSerializer[Recommendation]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    monthly_savings = MoneyField(currency_source="currency", allow_null=True)
    twelve_month_savings = MoneyField(currency_source="currency", allow_null=True)

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "organization",
            "kind",
            "title",
            "team",
            "provider",
            "model",
            "to_model",
            "monthly_savings",
            "twelve_month_savings",
            "currency",
            "confidence",
            "lower_quality",
            "quality_gap",
            "evidence",
            "status",
            "dismiss_reason",
            "snoozed_until",
            "forecast_run",
            "what_if_run",
            "created_at",
            "updated_at",
        ]


class DismissSerializer(serializers.Serializer[None]):
    reason = serializers.CharField(max_length=2000)


class SnoozeSerializer(serializers.Serializer[None]):
    until = serializers.DateField()


class RecommendationViewSet(ReadOnlyModelViewSet[Recommendation]):
    """Recommendations of your organizations, largest savings first; analysts accept (a what-if run starts),
    dismiss (with a reason) or snooze them."""

    serializer_class = RecommendationSerializer
    filterset_class = RecommendationFilter
    ordering_fields = ["id", "monthly_savings", "twelve_month_savings", "created_at", "updated_at", "kind", "status"]

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return recommendations_for_user(user=self.request.user).order_by("-twelve_month_savings", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        version = _recommendations_version(self.get_queryset())
        return cached_answer(  # type: ignore[return-value]
            request, version=version, build=lambda: super(RecommendationViewSet, self).list(request, *args, **kwargs)
        )

    def _acted(self, request: Request) -> Recommendation:
        recommendation = self.get_object()
        require_role(request, recommendation.organization, Role.ANALYST)
        return recommendation

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        """Start a what-if forecast run with the change; answers ``{"what_if_run": ID}``."""
        from planning.recommendations import recommendation_accept

        recommendation = self._acted(request)
        try:
            run = recommendation_accept(recommendation=recommendation, user=request.user)
        except ValueError as error:
            raise ValidationError({"detail": str(error)}) from error
        return Response({"what_if_run": run.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DismissSerializer, responses=RecommendationSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str | None = None) -> Response:
        from planning.recommendations import recommendation_dismiss

        recommendation = self._acted(request)
        data = DismissSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            recommendation = recommendation_dismiss(
                recommendation=recommendation, reason=data.validated_data["reason"], user=request.user
            )
        except ValueError as error:
            raise ValidationError({"reason": str(error)}) from error
        return Response(RecommendationSerializer(recommendation).data)

    @extend_schema(request=SnoozeSerializer, responses=RecommendationSerializer)
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str | None = None) -> Response:
        from planning.recommendations import recommendation_snooze

        recommendation = self._acted(request)
        data = SnoozeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            recommendation = recommendation_snooze(
                recommendation=recommendation, until=data.validated_data["until"], user=request.user
            )
        except ValueError as error:
            raise ValidationError({"until": str(error)}) from error
        return Response(RecommendationSerializer(recommendation).data)
