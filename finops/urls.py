"""Root URLs: admin, REST API v1, OpenAPI schema and docs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from finops.api.prices import PriceHistoryView, PricesInForceView
from finops.api.views import OrganizationListView
from forecasting.api.views import ForecastRunViewSet
from ingest.api.reconciliation import ReconciliationView
from ingest.api.views import UploadViewSet, UsageSummaryView
from planning.api.views import AlertViewSet, BudgetViewSet, RecommendationViewSet, WebhookViewSet

router = DefaultRouter()
router.register("uploads", UploadViewSet, basename="upload")
router.register("forecasts", ForecastRunViewSet, basename="forecast")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("alerts", AlertViewSet, basename="alert")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("recommendations", RecommendationViewSet, basename="recommendation")

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(router.urls)),
    path("api/v1/organizations/", OrganizationListView.as_view(), name="organization-list"),
    path("api/v1/usage/summary/", UsageSummaryView.as_view(), name="usage-summary"),
    path("api/v1/prices/", PricesInForceView.as_view(), name="prices-in-force"),
    path("api/v1/prices/history/", PriceHistoryView.as_view(), name="price-history"),
    path("api/v1/reconciliation/", ReconciliationView.as_view(), name="reconciliation"),
    path("api/v1/auth/token/", obtain_auth_token, name="auth-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
