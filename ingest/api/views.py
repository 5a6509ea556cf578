"""Upload and usage endpoints: POST a file (202, ingested by a worker), read status and totals."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from finops.models import Organization, Role
from finops.permissions import organization_from_request
from ingest.models import Upload
from ingest.parsers import FORMATS, IngestError
from ingest.selectors import SUMMARY_FIELDS, uploads_for_user, usage_summary
from ingest.services import upload_create


class UploadInputSerializer(serializers.Serializer[None]):
    file = serializers.FileField(allow_empty_file=True)
    organization = serializers.SlugField(required=False)
    format = serializers.ChoiceField(choices=sorted(FORMATS), required=False)


class UploadOutputSerializer(serializers.ModelSerializer[Upload]):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

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


class UploadViewSet(ReadOnlyModelViewSet[Upload]):
    """Uploads of your organizations. POST a file to ingest it; poll GET until status is final."""

    serializer_class = UploadOutputSerializer
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["status", "format"]

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
            return Response(
                {"detail": str(error), "errors": [row_error.as_dict() for row_error in error.errors]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        upload.refresh_from_db()
        return Response(UploadOutputSerializer(upload).data, status=status.HTTP_202_ACCEPTED)


class UsageSummaryQuerySerializer(serializers.Serializer[None]):
    organization = serializers.SlugField(required=False)
    by = serializers.CharField(required=False, default="")
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate_by(self, value: str) -> list[str]:
        fields = [field.strip() for field in value.split(",") if field.strip()]
        unknown = [field for field in fields if field not in SUMMARY_FIELDS]
        if unknown:
            raise serializers.ValidationError(f"unknown field(s) {', '.join(unknown)}; use {', '.join(SUMMARY_FIELDS)}")
        return fields


class UsageSummaryView(APIView):
    """Tokens and cost grouped by provider, model, team, token_type, day or month."""

    @extend_schema(parameters=[UsageSummaryQuerySerializer])
    def get(self, request: Request) -> Response:
        query = UsageSummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        organization = organization_from_request(request, slug=query.validated_data.get("organization"))
        date_from: date | None = query.validated_data.get("date_from")
        date_to: date | None = query.validated_data.get("date_to")
        rows = usage_summary(
            organization=organization, by=query.validated_data["by"], date_from=date_from, date_to=date_to
        )
        for row in rows:
            row["cost"] = str(row["cost"])
        return Response({"organization": organization.slug, "results": rows})
