"""Upload endpoints: POST a file (202, ingested by a worker), read its status (usage totals: ``ingest.api.usage``)."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from finops.api.errors import InputRejected
from finops.api.throttling import UPLOAD_CREATE_SCOPE, AnonThrottle, CreateThrottle, UserThrottle
from finops.models import Organization, Role
from finops.money import money_str
from finops.permissions import organization_from_request
from ingest.models import Upload
from ingest.parsers import FORMATS, IngestError
from ingest.selectors import uploads_for_user
from ingest.services import upload_create, upload_delete


class UploadInputSerializer(serializers.Serializer[None]):
    file = serializers.FileField(allow_empty_file=True)
    organization = serializers.SlugField(required=False)
    format = serializers.ChoiceField(choices=sorted(FORMATS), required=False)


class UploadOutputSerializer(serializers.ModelSerializer[Upload]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "organization",
            "original_name",
            "sha256",
            "size_bytes",
            "format",
            "status",
            "duplicate_of",
            "summary",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_summary(self, upload: Upload) -> dict[str, Any]:
        """What the ingest did; ``cost`` per currency rounded to its minor unit, ``cost_exact`` as summed."""
        summary = dict(upload.summary or {})
        if isinstance(summary.get("cost"), dict):
            summary["cost_exact"] = summary["cost"]
            summary["cost"] = {currency: money_str(amount, currency) for currency, amount in summary["cost"].items()}
        return summary


class UploadFilter(django_filters.FilterSet):
    organization = django_filters.CharFilter(field_name="organization__slug", help_text="An organization's slug.")
    # Not "format": ?format= picks the answer's format (json, csv, xlsx).
    file_format = django_filters.CharFilter(field_name="format", help_text="The detected export format.")

    class Meta:
        model = Upload
        fields = ["organization", "status", "file_format"]


class UploadViewSet(ReadOnlyModelViewSet[Upload]):
    """Uploads of your organizations. POST a file to ingest it (analysts); poll GET until status is final;
    DELETE removes an upload and its ledger rows (admins)."""

    serializer_class = UploadOutputSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_class = UploadFilter
    ordering_fields = ["id", "created_at", "finished_at", "original_name", "size_bytes", "status"]
    throttle_classes = [UserThrottle, AnonThrottle, CreateThrottle]
    throttle_scope = UPLOAD_CREATE_SCOPE

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return uploads_for_user(user=self.request.user)

    @extend_schema(request=UploadInputSerializer, responses={202: UploadOutputSerializer})
    def create(self, request: Request) -> Response:
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = organization_from_request(
            request, slug=data.validated_data.get("organization"), min_role=Role.ANALYST
        )
        incoming = data.validated_data["file"]
        try:
            upload = upload_create(
                organization=organization,
                source=incoming,
                filename=incoming.name,
                user=request.user,
                format_name=data.validated_data.get("format"),
            )
        except IngestError as error:
            raise InputRejected(
                str(error),
                code="invalid_file",
                errors=[{"field": "file", "code": "invalid_file", **row.as_dict()} for row in error.errors],
            ) from error
        upload.refresh_from_db()
        return Response(UploadOutputSerializer(upload).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the upload and every ledger row it brought (organization admins; logged)."""
        upload_delete(upload=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
