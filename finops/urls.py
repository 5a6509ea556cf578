"""Root URLs: admin, REST API v1, OpenAPI schema and docs, health probes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from finops import health
from finops.api.auth import TokenLoginView
from finops.api.members import MemberViewSet
from finops.api.prices import PriceHistoryView, PricesInForceView
from finops.api.teams import TeamViewSet
from finops.api.views import OrganizationListView
from forecasting.api.scenarios import PriceScenarioViewSet
from forecasting.api.views import ForecastRunViewSet
from ingest.api.allocation import AllocationRuleViewSet
from ingest.api.reconciliation import ReconciliationView
from ingest.api.usage import UsageSummaryView
from ingest.api.views import UploadViewSet
from planning.api.views import AlertViewSet, BudgetViewSet, RecommendationViewSet, WebhookViewSet

router = DefaultRouter()
router.register("uploads", UploadViewSet, basename="upload")
router.register("forecasts", ForecastRunViewSet, basename="forecast")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("alerts", AlertViewSet, basename="alert")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("recommendations", RecommendationViewSet, basename="recommendation")
router.register("teams", TeamViewSet, basename="team")
router.register("members", MemberViewSet, basename="member")
router.register("allocation-rules", AllocationRuleViewSet, basename="allocation-rule")
router.register("scenarios", PriceScenarioViewSet, basename="scenario")

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # The admin's "forgotten password" pages, which also let an invited member set their first password.
    path("admin/password_reset/", auth_views.PasswordResetView.as_view(), name="admin_password_reset"),
    path("admin/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "admin/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("admin/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
    # The monthly forecast e-mail's unsubscribe link (no login: a signed token).
    path("email/", include("planning.urls")),
    path("api/v1/", include(router.urls)),
    path("api/v1/organizations/", OrganizationListView.as_view(), name="organization-list"),
    path("api/v1/usage/summary/", UsageSummaryView.as_view(), name="usage-summary"),
    path("api/v1/prices/", PricesInForceView.as_view(), name="prices-in-force"),
    path("api/v1/prices/history/", PriceHistoryView.as_view(), name="price-history"),
    path("api/v1/reconciliation/", ReconciliationView.as_view(), name="reconciliation"),
    path("api/v1/auth/token/", TokenLoginView.as_view(), name="auth-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Liveness and readiness (finops.health.ProbeMiddleware answers them before the ALLOWED_HOSTS check).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

# JSON in the API's error shape under /api/ (Django's pages elsewhere).
handler404 = "finops.api.errors.page_not_found"
handler500 = "finops.api.errors.server_error"
