"""The analytics REST API (mounted at /api/v1/): NPS tables, response rates and satisfaction
beside recovery, as JSON or, with ``?format=csv`` (or ``Accept: text/csv``), as the same
table in CSV.

Who sees what: agency admins and supervisors see every client; a client viewer sees only
their own client, which is implied (naming any other client gives 404, as if it did not
exist); callers and users without a role get 403.

Bad input is refused with 400 and the reason (``{"detail": ..., "parameter": ...}``), never
silently corrected: an unknown group_by, reversed or malformed dates, a page larger than
1,000 rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from collections_link.models import ContactChannel, Operator, Outcome, Role
from collections_link.roles import user_role, visible_clients
from nps import exports, selectors
from nps.selectors._common import check_group_by
from nps.serializers import (
    NonResponseSerializer,
    NpsPageSerializer,
    PaymentsSerializer,
    RatesSerializer,
    RecoverySerializer,
)
from nps.types import GROUP_BYS, RESPONSE_CHANNELS, NpsFilters

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_DAYS = 365
INVITATION_MODES: tuple[str, ...] = ("sms", "cati")
# The API's names for the group keys: the contact channel is the "contact type".
API_GROUP_BYS: tuple[str, ...] = tuple(exports.api_key(k) for k in GROUP_BYS)
_FROM_API = {exports.api_key(k): k for k in GROUP_BYS} | {"contact_channel": "contact_channel"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_READERS = {Role.AGENCY_ADMIN, Role.SUPERVISOR, Role.CLIENT_VIEWER}


class BadParameter(APIException):
    status_code = 400
    default_code = "bad_parameter"

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__({"detail": reason, "parameter": parameter})


class IsAnalyticsReader(BasePermission):
    """Agency staff and client viewers read the analytics; nobody else."""

    message = "Only agency admins, supervisors and client viewers may read the analytics."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_role(request.user) in _READERS


class CsvRenderer(BaseRenderer):
    """Renders the view's table (a list of flat dicts) as CSV, columns in the view's order;
    an error ({"detail": ...}) becomes a one-column table."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        view = (renderer_context or {}).get("view")
        if isinstance(data, dict):
            rows = [{k: v for k, v in data.items() if not isinstance(v, dict | list)}]
            columns: Sequence[str] = list(rows[0])
        else:
            rows = list(data or [])
            columns = getattr(view, "csv_columns", None) or (list(rows[0]) if rows else [])
        return exports.csv_text(rows, columns).encode("utf-8")


# --- parameters ------------------------------------------------------------------------------


def _values(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    return [v.strip() for v in raw.split(",") if v.strip()]


def _choices(request: Request, name: str, allowed: Sequence[str]) -> list[str] | None:
    values = _values(request, name)
    if values is None:
        return None
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BadParameter(
            name, f"unknown {name} {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}"
        )
    return values


def _date(request: Request, name: str) -> dt.date | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"{name} must be a date as YYYY-MM-DD, got {raw!r}") from None


def _int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadParameter(
            name, f"{name} must be a whole number from {low} to {high:,}, got {raw.strip()!r}"
        )
    return value


def group_by_param(request: Request) -> list[str]:
    """The group keys in the selectors' vocabulary (contact_type becomes contact_channel)."""
    values = _values(request, "group_by") or []
    unknown = [v for v in values if v not in _FROM_API]
    if unknown:
        raise BadParameter(
            "group_by",
            f"unknown group_by {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(API_GROUP_BYS)}",
        )
    keys = [_FROM_API[v] for v in values]
    try:
        return check_group_by(keys)
    except ValueError as exc:
        raise BadParameter("group_by", str(exc)) from None


def filters_param(request: Request, *, channels: Sequence[str] = RESPONSE_CHANNELS) -> NpsFilters:
    """NpsFilters from the query string, scoped to the caller's clients.

    A client or operator the caller may not see is reported exactly like one that does not
    exist: 404.
    """
    visible = visible_clients(request.user)
    refs = _values(request, "client")
    if refs is None:
        client_ids = list(visible.values_list("pk", flat=True))
    else:
        found = dict(visible.filter(ref__in=refs).values_list("ref", "pk"))
        missing = [r for r in refs if r not in found]
        if missing:
            raise NotFound(f"No such client: {', '.join(missing)}.")
        client_ids = [found[r] for r in dict.fromkeys(refs)]
    operator_ids: list[int] | None = None
    operator_refs = _values(request, "operator")
    if operator_refs is not None:
        visible_ids = list(visible.values_list("pk", flat=True))
        ops = dict(
            Operator.objects.filter(ref__in=operator_refs)
            .filter(Q(client_id__in=visible_ids) | Q(assignments__client_id__in=visible_ids))
            .values_list("ref", "pk")
            .distinct()
        )
        missing = [r for r in operator_refs if r not in ops]
        if missing:
            raise NotFound(f"No such operator: {', '.join(missing)}.")
        operator_ids = sorted(set(ops.values()))
    date_from, date_to = _date(request, "from"), _date(request, "to")
    if date_from and date_to and date_from > date_to:
        raise BadParameter("from", f"from ({date_from}) is after to ({date_to})")
    return NpsFilters(
        client_ids=client_ids,
        operator_ids=operator_ids,
        channels=_choices(request, "channel", channels),
        contact_channels=_choices(request, "contact_type", ContactChannel.values),
        outcomes=_choices(request, "outcome", Outcome.values),
        date_from=date_from,
        date_to=date_to,
    )


def one_client(request: Request, filters: NpsFilters) -> int:
    """The single client an endpoint about one client's operators is asked about."""
    if len(filters.client_ids) != 1:
        raise BadParameter("client", "name one client (client=<reference>)")
    return int(filters.client_ids[0])


# --- OpenAPI parameters ----------------------------------------------------------------------

_LIST = "; several values comma-separated"
P_CLIENT = OpenApiParameter(
    "client",
    str,
    description="client reference(s) as in the feeds"
    + _LIST
    + ". A client viewer's own client is implied; another client is 404.",
)
P_OPERATOR = OpenApiParameter("operator", str, description="operator reference(s)" + _LIST)
P_CHANNEL = OpenApiParameter(
    "channel",
    str,
    description="response channel: " + ", ".join(RESPONSE_CHANNELS) + _LIST,
)
P_MODE = OpenApiParameter(
    "channel",
    str,
    description="invitation mode: sms or cati (web and sms_reply mean sms)" + _LIST,
)
P_CONTACT = OpenApiParameter(
    "contact_type", str, description="contact type: " + ", ".join(ContactChannel.values) + _LIST
)
P_OUTCOME = OpenApiParameter("outcome", str, description="contact outcome code(s)" + _LIST)
P_FROM = OpenApiParameter(
    "from",
    OpenApiTypes.DATE,
    description="first day, YYYY-MM-DD, in the agency's time zone (inclusive)",
)
P_TO = OpenApiParameter("to", OpenApiTypes.DATE, description="last day, YYYY-MM-DD (inclusive)")
P_GROUP_BY = OpenApiParameter(
    "group_by",
    str,
    description="comma-separated keys among " + ", ".join(API_GROUP_BYS) + " (one period at most)",
)
P_LIMIT = OpenApiParameter(
    "limit", int, description=f"rows per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})"
)
P_OFFSET = OpenApiParameter("offset", int, description="rows to skip (default 0)")
P_FORMAT = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="csv gives the same table as CSV"
)
_FILTERS = [P_CLIENT, P_OPERATOR, P_CONTACT, P_OUTCOME, P_FROM, P_TO]


# --- views -----------------------------------------------------------------------------------


class _AnalyticsView(APIView):
    permission_classes = [IsAuthenticated, IsAnalyticsReader]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CsvRenderer]
    csv_columns: Sequence[str] = ()
    csv_name = "nps"

    def wants_csv(self, request: Request) -> bool:
        renderer = getattr(request, "accepted_renderer", None)
        return getattr(renderer, "format", "") == "csv"

    def table(
        self, request: Request, rows: list[dict[str, Any]], columns: Sequence[str]
    ) -> Response:
        self.csv_columns = columns
        response = Response(rows)
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}.csv"'
        return response


class NpsView(_AnalyticsView):
    csv_name = "nps"

    @extend_schema(
        operation_id="nps_table",
        summary="NPS per group",
        description=(
            "Promoters, passives, detractors, n and NPS per combination of `group_by`, with "
            "the adjusted-Wald 95 % interval; operator rows also carry the NPS shrunk toward "
            "their client. A group under 10 answers is returned with `nps` null and state "
            "`hidden`; an operator with 10-29 answers has only the shrunken value "
            "(`shrunk_only`). Periods and dates are in the agency's time zone. "
            "`?format=csv` returns every row of the table as CSV (no paging)."
        ),
        parameters=[*_FILTERS, P_CHANNEL, P_GROUP_BY, P_LIMIT, P_OFFSET, P_FORMAT],
        responses={200: NpsPageSerializer, 400: None, 403: None, 404: None},
        tags=["nps"],
    )
    def get(self, request: Request) -> Response:
        filters = filters_param(request)
        group_by = group_by_param(request)
        limit = _int(request, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        offset = _int(request, "offset", default=0, low=0, high=10**9)
        # The API shows the credible interval where the shrunken value stands alone.
        rows = selectors.nps_table(filters=filters, group_by=group_by, credible_intervals=False)
        table = [exports.nps_row_dict(r, group_by) for r in rows]
        columns = exports.nps_columns(group_by)
        if self.wants_csv(request):
            return self.table(request, table, columns)
        url = request.build_absolute_uri()
        nxt = prev = None
        if offset + limit < len(table):
            nxt = replace_query_param(
                replace_query_param(url, "limit", limit), "offset", offset + limit
            )
        if offset > 0:
            back = max(0, offset - limit)
            prev = replace_query_param(url, "limit", limit)
            prev = (
                replace_query_param(prev, "offset", back)
                if back
                else remove_query_param(prev, "offset")
            )
        return Response(
            {
                "count": len(table),
                "limit": limit,
                "offset": offset,
                "next": nxt,
                "previous": prev,
                "group_by": [exports.api_key(k) for k in group_by],
                "results": table[offset : offset + limit],
            }
        )


class RatesView(_AnalyticsView):
    csv_name = "response-rates"

    @extend_schema(
        operation_id="nps_response_rates",
        summary="Response rates (AAPOR) and the SMS funnel",
        description=(
            "Per group: final dispositions I, P, R, NC, O, UH, UO, NE (invitations still in "
            "the field are `open` and not counted), AAPOR RR1-RR4, COOP1-2, REF1, CON1 as "
            "fractions, and the SMS funnel sent / delivered / opened / completed with rates "
            "relative to delivered and their Wilson 95 % intervals. Grouped and dated by the "
            "contact the invitation rates. `?format=csv` for CSV."
        ),
        parameters=[*_FILTERS, P_MODE, P_GROUP_BY, P_FORMAT],
        responses={200: RatesSerializer, 400: None, 403: None, 404: None},
        tags=["nps"],
    )
    def get(self, request: Request) -> Response:
        filters = filters_param(request, channels=(*INVITATION_MODES, *RESPONSE_CHANNELS))
        group_by = group_by_param(request)
        rows = selectors.response_rates(filters=filters, group_by=group_by)
        table = [exports.rates_row_dict(r, group_by) for r in rows]
        if self.wants_csv(request):
            return self.table(request, table, exports.rates_columns(group_by))
        return Response({"group_by": [exports.api_key(k) for k in group_by], "results": table})


class RecoveryView(_AnalyticsView):
    csv_name = "nps-recovery"

    @extend_schema(
        operation_id="nps_recovery_correlation",
        summary="Operators' shrunken NPS against their recovery rate",
        description=(
            "For one client: Spearman's rho across operators between the NPS shrunk toward "
            "the client and the recovery rate on all the accounts each operator worked "
            "first, weighted by answers, with a bootstrap 95 % interval and the number of "
            "operators; each point is listed. `?format=csv` gives the points."
        ),
        parameters=[*_FILTERS, P_CHANNEL, P_FORMAT],
        responses={200: RecoverySerializer, 400: None, 403: None, 404: None},
        tags=["nps"],
    )
    def get(self, request: Request) -> Response:
        filters = filters_param(request)
        client_id = one_client(request, filters)
        result = selectors.recovery_correlation(client_id=client_id, filters=filters)
        points = [exports.recovery_point_dict(p) for p in result["points"]]
        if self.wants_csv(request):
            return self.table(request, points, exports.RECOVERY_POINT_COLUMNS)
        return Response(
            {
                "client": result["client"],
                "rho": result["rho"],
                "low": result["low"],
                "high": result["high"],
                "n_operators": result["n_operators"],
                "weighted_by": result["weighted_by"],
                "points": points,
            }
        )


PAYMENT_COLUMNS = ("group", "responses", "debtors", "paid_within", "days", "rate", "low", "high")


class PaymentsView(_AnalyticsView):
    csv_name = "nps-payments"

    @extend_schema(
        operation_id="nps_payment_by_group",
        summary="Payment after the answer, by NPS group",
        description=(
            "Per NPS group: answers followed by a net payment on the rated account within "
            "`days` after the answer (payments before the answer never count; only answers "
            "whose window has closed), with the share and its Wilson 95 % interval."
        ),
        parameters=[
            *_FILTERS,
            P_CHANNEL,
            OpenApiParameter("days", int, description=f"window in days, 1-{MAX_DAYS} (30)"),
            P_FORMAT,
        ],
        responses={200: PaymentsSerializer, 400: None, 403: None, 404: None},
        tags=["nps"],
    )
    def get(self, request: Request) -> Response:
        filters = filters_param(request)
        days = _int(request, "days", default=30, low=1, high=MAX_DAYS)
        rows = selectors.payment_by_nps_group(filters=filters, days=days)
        if self.wants_csv(request):
            return self.table(request, rows, PAYMENT_COLUMNS)
        return Response({"days": days, "results": rows})


NONRESPONSE_COLUMNS = (
    "operator_ref",
    "operator_name",
    "group",
    "currency",
    "accounts",
    "placed",
    "collected",
    "rate",
    "paying",
    "paying_rate",
    "paying_low",
    "paying_high",
)


class NonResponseView(_AnalyticsView):
    csv_name = "nps-nonresponse"

    @extend_schema(
        operation_id="nps_respondents_vs_nonrespondents",
        summary="Recovery of respondents against non-respondents",
        description=(
            "For one client, per operator and overall: recovery on the accounts whose "
            "invitation got a score against those invited that never answered, to show "
            "non-response bias."
        ),
        parameters=[*_FILTERS, P_MODE, P_FORMAT],
        responses={200: NonResponseSerializer, 400: None, 403: None, 404: None},
        tags=["nps"],
    )
    def get(self, request: Request) -> Response:
        filters = filters_param(request, channels=(*INVITATION_MODES, *RESPONSE_CHANNELS))
        client_id = one_client(request, filters)
        rows = selectors.respondents_vs_nonrespondents(client_id=client_id, filters=filters)
        if self.wants_csv(request):
            return self.table(request, rows, NONRESPONSE_COLUMNS)
        ref = visible_clients(request.user).filter(pk=client_id).values_list("ref", flat=True)
        return Response({"client": ref.first(), "results": rows})
