"""The NPS dashboards: the agency's overview (every client, the supervisor's counts), one
client's dashboard, one operator's page, CSV exports, and the follow-up cases.

Scoping: every view that shows client data resolves the client through
`client_for_user_or_404`, so a client viewer asking for another client's page, export,
operator or case gets a 404 that says nothing about whether it exists. Pages that are the
agency's alone (the overview across clients, its export) also answer 404 to anyone else.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from collections_link.models import Client, Operator, mask_phone
from collections_link.roles import (
    client_for_user_or_404,
    is_agency_staff,
    user_role,
    visible_clients,
)
from collections_link.selectors import contact_rates_by_operator, recovery_by_operator
from nps import charts, followups, selectors
from nps.dashboard_data import (
    BENCHMARK_MIN_PEERS,
    ClientDashboard,
    Table,
    headline_sentence,
    labelled_comments,
    latest_comments,
    num,
    pct,
)
from nps.forms import (
    DashboardFilterForm,
    NoteForm,
    ReassignForm,
    TransitionForm,
    client_operators,
)
from nps.models import FollowUpCase, FollowUpStatus
from nps.selectors import mask_pii
from nps.types import NpsFilters, NpsRow
from surveys.models import CatiCase, CatiCaseStatus, OptOut, ReviewItem

logger = logging.getLogger(__name__)

RECENT_RATES = dt.timedelta(days=7)


def _reverse_or_none(name: str, **kwargs: Any) -> str | None:
    """A link to another app's page if that app mounted it (the dashboard imports no views
    of other apps, and must not break while one is not wired yet)."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _csv_response(table: Table, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A BOM so spreadsheet programs read the accents right.
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(table.columns)
    for row in table.rows:
        # Cells starting with = + - @ would run as formulas in a spreadsheet; a leading
        # apostrophe keeps them text. Signed numbers are the exception we emit ourselves.
        writer.writerow([_csv_safe(cell) for cell in row])
    return response


def _csv_safe(cell: str) -> str:
    if cell[:1] in {"=", "@", "\t", "\r"} or (cell[:1] in {"+", "-"} and not _looks_numeric(cell)):
        return "'" + cell
    return cell


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _all_client_ids() -> list[int]:
    return list(Client.objects.order_by("pk").values_list("pk", flat=True))


# --- the agency overview ------------------------------------------------------------------------


def _agency_clients_table(
    rows: list[NpsRow], rates: dict[str, dict[str, Any]], *, rates_recent: bool
) -> Table:
    # RR1 counts closed cases only (AAPOR's final dispositions); beside it, how many are still
    # in the field, so a young week's high rate is read for what it is.
    if rates_recent:
        rr1 = _("RR1 response rate of closed cases, last 7 days (%)")
        still_open = _("cases still open, last 7 days")
    else:
        rr1 = _("RR1 response rate of closed cases (%)")
        still_open = _("cases still open")
    return Table(
        key="clients",
        title=_("Clients"),
        columns=[
            _("client"),
            _("answers"),
            _("NPS"),
            _("interval low"),
            _("interval high"),
            rr1,
            still_open,
            _("open follow-ups"),
            _("overdue follow-ups"),
        ],
        rows=[
            [
                str(r.extra.get("client_name") or r.keys.get("client")),
                str(r.n),
                num(r.nps, signed=True),
                num(r.ci_low, signed=True),
                num(r.ci_high, signed=True),
                pct(rates.get(str(r.keys.get("client")), {}).get("rr1")),
                str(rates.get(str(r.keys.get("client")), {}).get("open", 0)),
                str(r.extra.get("open_followups", 0)),
                str(r.extra.get("overdue_followups", 0)),
            ]
            for r in rows
        ],
    )


class AgencyOverview:
    def __init__(self, *, form: DashboardFilterForm, now: dt.datetime) -> None:
        self.now = now
        self.client_ids = _all_client_ids()
        self.filters = form.filters(client_ids=self.client_ids)

    def rows(self) -> list[NpsRow]:
        rows = selectors.nps_table(filters=self.filters, group_by=["client"])
        counts = {
            c["client_id"]: c
            for c in FollowUpCase.objects.exclude(status=FollowUpStatus.RESOLVED)
            .values("client_id")
            .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=self.now)))
            .order_by()
        }
        out = []
        for r in rows:
            c = counts.get(r.extra.get("client_id"), {})
            extra = {
                **r.extra,
                "open_followups": c.get("open", 0),
                "overdue_followups": c.get("overdue", 0),
            }
            out.append(replace(r, extra=extra))
        return sorted(out, key=lambda r: str(r.extra.get("client_name") or ""))

    @property
    def rates_recent(self) -> bool:
        """Response rates are counted invitation by invitation (each one's disposition), which
        over every client's whole history takes many seconds: with no period chosen, the
        supervisor's page shows the last week's rates, the ones that need acting on."""
        return self.filters.date_from is None

    def rates(self) -> dict[str, dict[str, Any]]:
        filters = self.filters
        if self.rates_recent:
            filters = replace(filters, date_from=timezone.localdate() - RECENT_RATES)
        return {
            str(r["keys"].get("client")): r
            for r in selectors.response_rates(filters=filters, group_by=("client",))
        }

    def table(self) -> Table:
        return _agency_clients_table(self.rows(), self.rates(), rates_recent=self.rates_recent)

    def supervisor(self) -> dict[str, Any]:
        """Queues, opt-outs waiting for review and overdue follow-ups, on one page."""
        cati = CatiCase.objects.filter(status=CatiCaseStatus.QUEUED).aggregate(
            queued=Count("pk"), due=Count("pk", filter=Q(due_at__lte=self.now))
        )
        return {
            "reviews_open": ReviewItem.objects.filter(state=ReviewItem.State.OPEN).count(),
            "reviews_url": _reverse_or_none("admin:surveys_reviewitem_changelist"),
            "cati_queued": cati["queued"],
            "cati_due": cati["due"],
            "cati_url": _reverse_or_none("cati:console") or _reverse_or_none("cati-console"),
            "cati_admin_url": _reverse_or_none("admin:surveys_caticase_changelist"),
            "overdue": followups.overdue_count(client_ids=None, now=self.now),
            "opt_outs_week": OptOut.objects.filter(
                active=True, updated_at__gte=self.now - dt.timedelta(days=7)
            ).count(),
        }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The agency's overview; a client viewer goes straight to their client's dashboard."""
    if not is_agency_staff(request.user):
        clients = list(visible_clients(request.user)[:2])
        if len(clients) == 1:
            url = reverse("nps:client", kwargs={"client_ref": clients[0].ref})
            query = request.GET.copy()
            query.pop("c", None)  # the agency's client picker means nothing here
            return HttpResponseRedirect(f"{url}?{query.urlencode()}" if query else url)
        raise Http404("No dashboard for this account.")
    if request.GET.get("c"):
        # The client picker: open that client's dashboard with the same filters.
        picked = client_for_user_or_404(request.user, ref=request.GET["c"])
        rest = request.GET.copy()
        del rest["c"]
        url = reverse("nps:client", kwargs={"client_ref": picked.ref})
        return HttpResponseRedirect(f"{url}?{rest.urlencode()}" if rest else url)
    form = DashboardFilterForm(request.GET or None, client=None)
    now = timezone.now()
    overview = AgencyOverview(form=form, now=now)
    rows = overview.rows()
    table = _agency_clients_table(rows, overview.rates(), rates_recent=overview.rates_recent)
    benchmark_entries: list[charts.BenchmarkEntry] = [
        charts.BenchmarkEntry(
            label=str(r.extra.get("client_name") or r.keys.get("client")),
            own=True,
            nps=float(r.nps),
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=r.n,
        )
        for r in sorted(rows, key=lambda r: -(r.nps or 0.0))
        if r.nps is not None and r.state != "hidden"
    ]
    chart = charts.benchmark_chart(benchmark_entries, key="clients")
    chart["how_to_read"] = (
        _(
            "Every client of the agency over the same period and filters, with its 95%% interval; "
            "client viewers see this chart with the other clients anonymised."
        )
        % {}
    )
    return render(
        request,
        "nps/index.html",
        {
            "form": form,
            "rows": rows,
            "table": table,
            "chart": chart,
            "supervisor": overview.supervisor(),
            "querystring": form.querystring(),
            "presets": form.presets(timezone.localdate()),
            "clients": list(Client.objects.order_by("name")),
        },
    )


@login_required
def agency_export(request: HttpRequest, table: str) -> HttpResponse:
    if not is_agency_staff(request.user) or table != "clients":
        raise Http404("No such export.")
    form = DashboardFilterForm(request.GET or None, client=None)
    overview = AgencyOverview(form=form, now=timezone.now())
    return _csv_response(overview.table(), filename="nps-clients.csv")


# --- one client ---------------------------------------------------------------------------------


def _dashboard(request: HttpRequest, client: Client) -> tuple[DashboardFilterForm, ClientDashboard]:
    form = DashboardFilterForm(request.GET or None, client=client)
    data = ClientDashboard(
        client=client,
        filters=form.filters(client_ids=[client.pk]),
        peer_client_ids=_all_client_ids(),
    )
    return form, data


SECTION_TEMPLATES = {
    "overview": "nps/client.html",
    "scores": "nps/scores.html",
    "recovery": "nps/recovery.html",
    "responses": "nps/responses.html",
}


@login_required
def client_dashboard(
    request: HttpRequest, client_ref: str, section: str = "overview"
) -> HttpResponse:
    """One client's dashboard: the overview (NPS, trend, operators, comments), or its
    satisfaction-and-recovery or response-rate tab."""
    client = client_for_user_or_404(request.user, ref=client_ref)
    form, data = _dashboard(request, client)
    now = timezone.now()
    followup_counts = FollowUpCase.objects.filter(client=client).aggregate(
        open=Count("pk", filter=~Q(status=FollowUpStatus.RESOLVED)),
        overdue=Count("pk", filter=~Q(status=FollowUpStatus.RESOLVED) & Q(due_at__lt=now)),
    )
    context: dict[str, Any] = {
        "client": client,
        "section": section,
        "form": form,
        "charts": data.charts(section),
        "tables": data.tables(section),
        "followup_counts": followup_counts,
        "querystring": form.querystring(),
        "presets": form.presets(timezone.localdate()),
        "is_agency": is_agency_staff(request.user),
        "export_base": reverse("nps:client", kwargs={"client_ref": client.ref}) + "export/",
    }
    if section == "scores":
        context.update(comments=data.comments)
    if section == "responses":
        context.update(rates_ignore_channel=data.rates_ignore_channel)
    if section == "overview":
        overall = data.overall
        context.update(
            overall=overall,
            mix=_mix(overall),
            headline=headline_sentence(overall),
            change=data.change,
            operators=data.operators,
            comments=data.comments_latest,
            benchmark_rank=data.benchmark_rank,
            benchmark_min_peers=BENCHMARK_MIN_PEERS,
        )
    return render(request, SECTION_TEMPLATES[section], context)


def _mix(row: NpsRow) -> list[dict[str, Any]]:
    """The promoter / passive / detractor bar as SVG rectangles (no inline styles, so a strict
    CSP can be added later)."""
    if not row.n:
        return []
    out, x = [], 0.0
    for css, count in (
        ("promoter", row.promoters),
        ("passive", row.passives),
        ("detractor", row.detractors),
    ):
        width = 100.0 * count / row.n
        out.append({"css": css, "x": f"{x:.3f}", "width": f"{width:.3f}", "count": count})
        x += width
    return out


@login_required
def client_export(request: HttpRequest, client_ref: str, table: str) -> HttpResponse:
    client = client_for_user_or_404(request.user, ref=client_ref)
    _form, data = _dashboard(request, client)
    built = data.table(table)
    if built is None:
        raise Http404("No such table.")
    return _csv_response(built, filename=f"{client.ref}-{table}.csv")


# --- one operator -------------------------------------------------------------------------------


def _operator_or_404(client: Client, operator_ref: str) -> Operator:
    operator = client_operators(client).filter(ref=operator_ref).first()
    if operator is None:
        raise Http404("No such operator.")
    return operator


def _trend_for(filters: NpsFilters) -> list[NpsRow]:
    return selectors.nps_trend(filters=filters, period="month")


@login_required
def operator_page(request: HttpRequest, client_ref: str, operator_ref: str) -> HttpResponse:
    """One operator against the client and the agency: NPS over time, the leaderboard line,
    their comments and their recovery, so a team lead can coach."""
    client = client_for_user_or_404(request.user, ref=client_ref)
    operator = _operator_or_404(client, operator_ref)
    form = DashboardFilterForm(request.GET or None, client=client, with_operator=False)
    client_filters = form.filters(client_ids=[client.pk])
    op_filters = NpsFilters(
        client_ids=client_filters.client_ids,
        operator_ids=[operator.pk],
        channels=client_filters.channels,
        contact_channels=client_filters.contact_channels,
        outcomes=client_filters.outcomes,
        date_from=client_filters.date_from,
        date_to=client_filters.date_to,
    )
    leaderboard = selectors.operator_leaderboard(client_id=client.pk, filters=client_filters)
    row = next(
        (
            r
            for r in leaderboard
            if r.extra.get("operator_id") == operator.pk or r.keys.get("operator") == operator.ref
        ),
        None,
    )
    compare: list[tuple[str, list[NpsRow]]] = [(client.name, _trend_for(client_filters))]
    agency_ids = _all_client_ids()
    # The agency line is every client together; a client viewer sees it only when enough
    # other clients stand behind it that it reveals none of them.
    if is_agency_staff(request.user) or len(agency_ids) > BENCHMARK_MIN_PEERS:
        agency_filters = NpsFilters(
            client_ids=agency_ids,
            channels=client_filters.channels,
            contact_channels=client_filters.contact_channels,
            outcomes=client_filters.outcomes,
            date_from=client_filters.date_from,
            date_to=client_filters.date_to,
        )
        compare.append((_("Agency (all clients)"), _trend_for(agency_filters)))
    op_trend = _trend_for(op_filters)
    trend = charts.trend_chart(
        op_trend, key="operator-trend", name=operator.name or operator.ref, compare=compare
    )
    trend["title"] = (
        _("NPS over time: operator, client and agency")
        if len(compare) > 1
        else _("NPS over time: operator and client")
    )
    comments = labelled_comments(latest_comments(op_filters, limit=30))
    recovery = _operator_recovery(client, operator, client_filters)
    return render(
        request,
        "nps/operator.html",
        {
            "client": client,
            "operator": operator,
            "form": form,
            "row": row,
            "chart": trend,
            "comments": comments,
            "recovery": recovery,
            "querystring": form.querystring(),
            "presets": form.presets(timezone.localdate()),
            "export_querystring": form.querystring(operator=operator.ref),
            "is_agency": is_agency_staff(request.user),
        },
    )


def _operator_recovery(client: Client, operator: Operator, filters: NpsFilters) -> dict[str, Any]:
    """The operator's recovery on the accounts they worked first, and their contact rates,
    beside the client's (collections_link's recovery selectors, on all accounts)."""
    by_operator = recovery_by_operator(
        client=client, placed_from=filters.date_from, placed_to=filters.date_to
    )
    mine = [r for r in by_operator if r.operator is not None and r.operator.pk == operator.pk]
    placed = sum((r.placed for r in by_operator), start=0)
    collected = sum((r.collected for r in by_operator), start=0)
    rates = contact_rates_by_operator(client=client, since=filters.date_from, until=filters.date_to)
    own_rates = rates.get(operator)
    return {
        "operator": mine[0] if mine else None,
        "client_rate": float(collected / placed) if placed else None,
        "contact": own_rates,
    }


# --- follow-up cases ----------------------------------------------------------------------------


def _followups_table(cases: list[FollowUpCase], now: dt.datetime) -> Table:
    return Table(
        key="follow-ups",
        title=_("Follow-up cases"),
        columns=[
            _("case"),
            _("answered"),
            _("score"),
            _("operator"),
            _("owner"),
            _("status"),
            _("due"),
            _("overdue"),
        ],
        rows=[
            [
                str(c.pk),
                _local(c.response.answered_at),
                str(c.response.score),
                c.response.operator.name or c.response.operator.ref,
                c.owner.get_username() if c.owner else "",
                c.get_status_display(),
                _local(c.due_at),
                _("yes") if c.is_overdue(now) else "",
            ]
            for c in cases
        ],
    )


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# The list (and its CSV) shows the first this many cases; the page says when there are more.
FOLLOWUPS_SHOWN = 500


@login_required
def followup_list(request: HttpRequest, client_ref: str) -> HttpResponse:
    client = client_for_user_or_404(request.user, ref=client_ref)
    now = timezone.now()
    status = request.GET.get("status", "")
    if status not in FollowUpStatus.values:
        status = ""
    overdue = request.GET.get("overdue") == "1"
    found = followups.followups_for(
        client_ids=[client.pk], status=status, overdue=overdue, now=now
    ).order_by("status", "due_at")
    cases = list(found[: FOLLOWUPS_SHOWN + 1])
    more = len(cases) > FOLLOWUPS_SHOWN
    cases = cases[:FOLLOWUPS_SHOWN]
    table = _followups_table(cases, now)
    if request.GET.get("format") == "csv":
        return _csv_response(table, filename=f"{client.ref}-follow-ups.csv")
    return render(
        request,
        "nps/followups.html",
        {
            "client": client,
            "cases": cases,
            "now": now,
            "status": status,
            "overdue": overdue,
            "statuses": FollowUpStatus.choices,
            "querystring": request.GET.urlencode(),
            "more": more,
            "shown": FOLLOWUPS_SHOWN,
            "lookback_days": followups.LOOKBACK.days,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def followup_detail(request: HttpRequest, client_ref: str, pk: int) -> HttpResponse:
    client = client_for_user_or_404(request.user, ref=client_ref)
    case = get_object_or_404(
        FollowUpCase.objects.select_related(
            "response",
            "response__operator",
            "response__invitation__debtor",
            "response__contact",
            "owner",
            "client",
        ),
        pk=pk,
        client=client,
    )
    owners = followups.owner_choices(client=client)
    allowed = followups.can_act_on(request.user, case)  # type: ignore[arg-type]
    transition_form = TransitionForm()
    note_form = NoteForm()
    reassign_form = ReassignForm(owners=owners, initial={"owner": case.owner_id})
    if request.method == "POST":
        if not allowed:
            raise Http404("No such case.")
        action = request.POST.get("action")
        try:
            if action == "transition":
                transition_form = TransitionForm(request.POST)
                if transition_form.is_valid():
                    followups.followup_transition(
                        case=case,
                        to_status=transition_form.cleaned_data["status"],
                        author=request.user,  # type: ignore[arg-type]
                        note=transition_form.cleaned_data["note"],
                    )
                    messages.success(request, _("Case updated."))
                    return redirect(request.path)
            elif action == "note":
                note_form = NoteForm(request.POST)
                if note_form.is_valid():
                    followups.followup_note_add(
                        case=case,
                        author=request.user,  # type: ignore[arg-type]
                        text=note_form.cleaned_data["text"],
                    )
                    messages.success(request, _("Note added."))
                    return redirect(request.path)
            elif action == "reassign":
                reassign_form = ReassignForm(request.POST, owners=owners)
                if reassign_form.is_valid():
                    followups.followup_reassign(
                        case=case, owner=reassign_form.cleaned_data["owner"]
                    )
                    messages.success(request, _("Owner changed."))
                    return redirect(request.path)
        except followups.TransitionError as exc:
            messages.error(request, str(exc))
    now = timezone.now()
    next_statuses = [
        (value, label)
        for value, label in FollowUpStatus.choices
        if value in followups.TRANSITIONS.get(case.status, frozenset())
    ]
    transition_field = transition_form.fields["status"]
    transition_field.choices = next_statuses  # type: ignore[attr-defined]
    return render(
        request,
        "nps/followup.html",
        {
            "client": client,
            "case": case,
            "response": case.response,
            "overdue": case.is_overdue(now),
            "opted_out_at": followups.opted_out_since(case=case),
            "reason": mask_pii(case.response.reason),
            "debtor_ref": case.response.invitation.debtor.ref,
            "masked_phone": mask_phone(case.response.invitation.phone_e164),
            "notes": case.notes.select_related("author"),
            "allowed": allowed,
            "next_statuses": next_statuses,
            "transition_form": transition_form,
            "note_form": note_form,
            "reassign_form": reassign_form,
            "role": user_role(request.user),
        },
    )
