"""Token login: ``POST /api/v1/auth/token/`` with a username and password answers the user's API token.

Throttled per client address (and per user when the caller is already signed in), so passwords cannot be
guessed at speed.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from finops.api.throttling import LOGIN_SCOPE, AnonThrottle, ScopedThrottle


class TokenOutputSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')


class TokenLoginView(ObtainAuthToken):
    """Trade a username and password for the user's API token."""

    throttle_classes = (AnonThrottle, ScopedThrottle)
    throttle_scope = LOGIN_SCOPE
    authentication_classes = ()

    @extend_schema(request=AuthTokenSerializer, responses=TokenOutputSerializer, auth=[])
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
