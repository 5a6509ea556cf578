"""Planning pages served outside the admin and the API (mounted under ``email/`` by ``finops.urls``)."""

from django.urls import path

from planning.views import forecast_email_unsubscribe_view

urlpatterns = [
    path("unsubscribe/<str:token>/", forecast_email_unsubscribe_view, name="forecast-email-unsubscribe"),
]
