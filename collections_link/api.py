"""REST API of the ingest: the three feeds as JSON, with the same checks and the same
reasons as the CSV import (collections_link.ingest)."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from collections_link.ingest import FEEDS, ImportResult, import_records
from collections_link.roles import is_agency_staff

MAX_ROWS = 10_000
_TRUE = {"1", "true", "yes", "on"}


class IsAgencyStaff(BasePermission):
    """Only the agency's admins and supervisors feed data in."""

    message = "Only agency admins and supervisors may import."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_agency_staff(request.user)


def _row_serializer(feed: str) -> type[serializers.Serializer[Any]]:
    """A serializer that only documents a feed's row (the ingest does the checking, so the
    reasons are the same as for a CSV file)."""
    fields: dict[str, serializers.Field[Any, Any, Any, Any]] = {
        column.name: serializers.CharField(
            required=column.required, allow_blank=not column.required
        )
        for column in FEEDS[feed].columns
    }
    name = f"{feed.capitalize()[:-1]}Row"
    return type(name, (serializers.Serializer,), fields)


class RejectedRowSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(help_text="1-based position of the row in the request")
    column = serializers.CharField()
    reason = serializers.CharField()


class ImportSummarySerializer(serializers.Serializer[Any]):
    feed = serializers.CharField()
    import_run = serializers.IntegerField(help_text="id of the ImportRun recorded")
    rows_read = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected_count = serializers.IntegerField(help_text="rows not imported")
    rejected = RejectedRowSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(required=False)


def _body(result: ImportResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "feed": result.feed,
        "import_run": result.run.pk,
        "rows_read": result.rows_read,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected_count": result.rejected,
        "rejected": [
            {"row": e.line, "column": e.column, "reason": e.reason} for e in result.errors
        ],
        "warnings": result.warnings,
    }
    if result.rejected:
        body["note"] = (
            f"{result.rejected} row(s) were rejected and not imported; the other "
            f"{result.rows_read - result.rejected} row(s) were imported. Fix the rejected "
            "rows and send them again: sending a row twice changes nothing."
        )
        if result.errors_truncated:
            body["note"] += f" Only the first {len(result.errors)} reasons are listed."
    return body


class _ImportView(APIView):
    feed: ClassVar[str] = ""
    permission_classes = [IsAuthenticated, IsAgencyStaff]
    parser_classes = [JSONParser]

    def post(self, request: Request) -> Response:
        rows = request.data
        if isinstance(rows, dict) and "rows" in rows:
            rows = rows["rows"]
        if not isinstance(rows, list) or not rows:
            return Response(
                {"detail": 'Send a non-empty JSON list of rows, or {"rows": [...]}.'},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if len(rows) > MAX_ROWS:
            return Response(
                {
                    "detail": f"At most {MAX_ROWS} rows per request ({len(rows)} sent); "
                    "split them, or import the CSV file."
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        create = str(request.query_params.get("create_clients", "")).lower() in _TRUE
        result = import_records(
            feed=self.feed, records=rows, create_clients=create, user=request.user
        )
        return Response(_body(result), status=200 if result.ok else 400)


def _documented(feed: str) -> Any:
    row = _row_serializer(feed)
    return extend_schema(
        operation_id=f"import_{feed}",
        summary=f"Import {feed} rows",
        description=(
            f'Import rows of the {feed} feed: a JSON list of objects (or {{"rows": [...]}}) '
            "with the CSV file's column names as keys, values as strings or numbers. At most "
            f"{MAX_ROWS} rows per request. Idempotent: a row sent twice changes nothing. "
            "A bad row never stops the others: the good rows are imported and each bad one "
            "is listed in `rejected` with its position, column and reason (then the answer "
            "is 400). Only agency admins and supervisors may import."
        ),
        request=row(many=True),
        parameters=[
            OpenApiParameter(
                "create_clients",
                bool,
                description="create clients the rows name that do "
                "not exist yet (otherwise such rows are rejected)",
            )
        ],
        responses={
            200: ImportSummarySerializer,
            400: ImportSummarySerializer,
            403: None,
        },
        examples=[
            OpenApiExample(
                "Rejected row",
                response_only=True,
                status_codes=["400"],
                value={
                    "feed": feed,
                    "import_run": 12,
                    "rows_read": 2,
                    "created": 1,
                    "updated": 0,
                    "unchanged": 0,
                    "rejected_count": 1,
                    "rejected": [
                        {
                            "row": 2,
                            "column": "client_ref",
                            "reason": "unknown client 'acme' (create it first, or "
                            "import with --create-clients)",
                        }
                    ],
                    "warnings": [],
                    "note": "1 row(s) were rejected and not imported; ...",
                },
            )
        ],
        tags=["import"],
    )


@extend_schema_view(post=_documented("accounts"))
class ImportAccountsView(_ImportView):
    feed = "accounts"


@extend_schema_view(post=_documented("contacts"))
class ImportContactsView(_ImportView):
    feed = "contacts"


@extend_schema_view(post=_documented("payments"))
class ImportPaymentsView(_ImportView):
    feed = "payments"
