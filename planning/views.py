"""Pages of the planning app outside the admin and the API: the monthly forecast e-mail's unsubscribe link, which
works without a login because its signed token says whom it is for."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from planning.monthly_delivery import UnsubscribeInvalid, forecast_email_unsubscribe

TEMPLATE = "planning/unsubscribe.html"


@csrf_exempt  # mail providers POST the one-click unsubscribe (RFC 8058) without a session; the token is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def forecast_email_unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET (the link) or POST (List-Unsubscribe-Post one-click) opts the owner out and confirms it; POST with
    ``action=resubscribe`` (the page's button) opts them back in. A tampered token gets 400 and changes nothing."""
    subscribe = request.method == "POST" and request.POST.get("action") == "resubscribe"
    try:
        organization, address = forecast_email_unsubscribe(token=token, subscribe=subscribe)
    except UnsubscribeInvalid as error:
        return render(request, TEMPLATE, {"invalid": str(error)}, status=400)
    context = {"organization": organization, "address": address, "subscribed": subscribe, "token": token}
    return render(request, TEMPLATE, context)
