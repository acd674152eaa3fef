"""AAPOR rates and the SMS funnel against counts worked out by hand.

Acme Energia, operator Giulia, contacts in March 2026, report on 1 April 2026. One
invitation per line, its final class by the rules in nps.selectors.rates:

   1 SMS delivered, opened, complete web answer ........................ I
   2 SMS (no delivery receipt), complete answer by SMS reply ............ I
   3 SMS delivered, opened, score then stopped .......................... P
   4 SMS delivered, opened, survey started without a score, expired .... R (break-off)
   5 SMS (no receipt), opened, nothing answered, expired ................ R
   6 SMS delivered, never opened, expired ............................... UO
   7 SMS undelivered, invitation failed .................................. UO
   8 SMS delivered, link still valid ..................................... open
   9 cancelled at send time (opt-out): never sent ....................... not in the sample
  10 suppressed .......................................................... not in the sample
  11 scheduled, never sent ............................................... not in the sample
  12 SMS delivered then CATI: "do not call" .............................. R
  13 CATI: number not in service ......................................... NE
  14 CATI: attempts ran out (no answer, then busy) ....................... UH (last call)
  15 CATI: still in the queue ............................................ open
  16 CATI: complete interview ............................................ I
  17 CATI: language barrier .............................................. O
  18 CATI: wrong number .................................................. UO

I 3, P 1, R 3, NC 0, O 1, UH 1, UO 3, NE 1; 2 open; cases = 13.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection

from collections_link.models import Client, Operator, Role
from nps.selectors import response_rates
from nps.selectors._common import without_jit
from nps.types import NpsFilters
from surveys.models import (
    CallAttempt,
    CatiCase,
    Disposition,
    Invitation,
    InvitationStatus,
    Response,
    SmsMessage,
    new_token,
)
from tests.factories import ClientFactory, ContactFactory, OperatorFactory, user_with_role
from tests.nps.nps_support import default_version

UTC = dt.UTC
NOW = dt.datetime(2026, 4, 1, 9, tzinfo=UTC)
SENT = dt.datetime(2026, 3, 10, 12, tzinfo=UTC)


def invitation(
    client: Client,
    operator: Operator,
    *,
    status: str,
    channel: str = "sms",
    sms: str | None = None,
    opened: bool = False,
    expires: dt.datetime | None = None,
    reason: str = "",
    contact_channel: str = "phone",
) -> Invitation:
    contact = ContactFactory.create(
        client=client,
        operator=operator,
        channel=contact_channel,
        started_at=dt.datetime(2026, 3, 10, 9, tzinfo=UTC),
    )
    inv = Invitation.objects.create(
        contact=contact,
        client=client,
        operator=operator,
        debtor=contact.account.debtor,
        phone_e164=contact.account.debtor.phone_e164,
        language="it",
        status=status,
        suppression_reason=reason,
        channel=channel,
        survey_version=default_version(),
        token=new_token(),
        send_after=SENT,
        sent_at=SENT if sms else None,
        opened_at=SENT + dt.timedelta(hours=1) if opened else None,
        expires_at=expires or SENT + dt.timedelta(days=7),
    )
    if sms:
        SmsMessage.objects.create(
            invitation=inv,
            kind="invitation",
            to=inv.phone_e164,
            body="...",
            status=sms,
            backend="outbox",
            sent_at=SENT if sms != "cancelled" else None,
        )
    return inv


def respond(inv: Invitation, *, score: int | None, complete: bool, channel: str) -> None:
    at = SENT + dt.timedelta(hours=2)
    Response.objects.create(
        invitation=inv,
        client=inv.client,
        operator=inv.operator,
        contact=inv.contact,
        contact_channel=inv.contact.channel,
        contact_outcome=inv.contact.outcome,
        channel=channel,
        survey_version=default_version(),
        language="it",
        score=score,
        complete=complete,
        started_at=at,
        answered_at=at if score is not None else None,
        completed_at=at if complete else None,
    )


def cati(inv: Invitation, *, final: str | None, calls: tuple[str, ...] = (), done: bool = True):
    case = CatiCase.objects.create(
        invitation=inv,
        client=inv.client,
        status="done" if done else "queued",
        due_at=SENT,
        final_disposition=Disposition.objects.get(code=final) if final else None,
    )
    for i, code in enumerate(calls):
        CallAttempt.objects.create(
            case=case,
            started_at=SENT + dt.timedelta(hours=3 * (i + 1)),
            disposition=Disposition.objects.get(code=code),
        )


@pytest.fixture
def field(db: None) -> SimpleNamespace:
    acme = ClientFactory.create()
    giulia = OperatorFactory.create(ref="op-giulia", name="Giulia", client=acme)
    marco = OperatorFactory.create(ref="op-marco", name="Marco", client=acme)
    done = InvitationStatus.COMPLETED
    expired = InvitationStatus.EXPIRED
    past = NOW - dt.timedelta(days=10)
    inv = {}
    inv[1] = invitation(acme, giulia, status=done, sms="delivered", opened=True)
    respond(inv[1], score=9, complete=True, channel="web")
    inv[2] = invitation(acme, giulia, status=done, sms="sent")
    respond(inv[2], score=10, complete=True, channel="sms_reply")
    inv[3] = invitation(acme, giulia, status="partial", sms="delivered", opened=True, expires=past)
    respond(inv[3], score=4, complete=False, channel="web")
    inv[4] = invitation(acme, giulia, status=expired, sms="delivered", opened=True, expires=past)
    respond(inv[4], score=None, complete=False, channel="web")
    inv[5] = invitation(acme, giulia, status=expired, sms="sent", opened=True, expires=past)
    inv[6] = invitation(acme, giulia, status=expired, sms="delivered", expires=past)
    inv[7] = invitation(acme, giulia, status="failed", sms="undelivered")
    inv[8] = invitation(
        acme, giulia, status="sent", sms="delivered", expires=NOW + dt.timedelta(days=2)
    )
    inv[9] = invitation(acme, giulia, status="cancelled", sms="cancelled")
    inv[10] = invitation(acme, giulia, status="suppressed", reason="opted_out")
    inv[11] = invitation(acme, giulia, status="scheduled", expires=NOW + dt.timedelta(days=3))
    inv[12] = invitation(acme, giulia, status="cati", channel="cati", sms="delivered")
    cati(inv[12], final="do_not_call", calls=("do_not_call",))
    inv[13] = invitation(acme, giulia, status="cati", channel="cati")
    cati(inv[13], final="not_in_service", calls=("not_in_service",))
    inv[14] = invitation(acme, giulia, status=expired, channel="cati")
    cati(inv[14], final=None, calls=("no_answer", "busy"))
    inv[15] = invitation(acme, giulia, status="cati", channel="cati")
    cati(inv[15], final=None, done=False)
    inv[16] = invitation(acme, giulia, status=done, channel="cati")
    respond(inv[16], score=8, complete=True, channel="cati")
    cati(inv[16], final="complete", calls=("complete",))
    inv[17] = invitation(acme, giulia, status="cati", channel="cati")
    cati(inv[17], final="language_barrier", calls=("language_barrier",))
    inv[18] = invitation(acme, giulia, status="cati", channel="cati", contact_channel="home_visit")
    cati(inv[18], final="wrong_number", calls=("wrong_number",))
    # Marco: one complete answer on a home visit.
    m = invitation(acme, marco, status=done, sms="delivered", opened=True)
    respond(m, score=10, complete=True, channel="web")
    return SimpleNamespace(acme=acme, giulia=giulia, marco=marco, inv=inv)


def test_classes_rates_and_funnel_for_one_operator(field):
    [row] = response_rates(
        filters=NpsFilters(client_ids=[field.acme.pk], operator_ids=[field.giulia.pk]),
        group_by=["operator"],
        now=NOW,
    )
    assert row["keys"] == {"operator": "op-giulia"} and row["operator_name"] == "Giulia"
    counts = {c: row[c] for c in ("I", "P", "R", "NC", "O", "UH", "UO", "NE", "open", "cases")}
    assert counts == {
        "I": 3,
        "P": 1,
        "R": 3,
        "NC": 0,
        "O": 1,
        "UH": 1,
        "UO": 3,
        "NE": 1,
        "open": 2,
        "cases": 13,
    }
    # Denominator of RR1, RR2 and REF1: I+P+R+NC+O+UH+UO = 3+1+3+0+1+1+3 = 12 (NE out).
    assert row["rr1"] == pytest.approx(3 / 12)
    assert row["rr2"] == pytest.approx(4 / 12)
    assert row["ref1"] == pytest.approx(3 / 12)
    # COOP1 = I / (I+P+R+O) = 3 / 8; CON1 = (I+P+R+O) / (I+P+R+O+NC+UH+UO) = 8 / 12.
    assert row["coop1"] == pytest.approx(3 / 8)
    assert row["con1"] == pytest.approx(8 / 12)
    # Funnel: SMS went out for 1-8 and 12 (9 was cancelled before sending): 9 sent.
    # Delivered: all but 7 (2 and 5 count as delivered: answered by SMS, opened): 8.
    # Opened: 1, 3, 4, 5. Completed by web or SMS reply: 1, 2.
    assert (row["sms_sent"], row["sms_delivered"], row["sms_opened"], row["sms_completed"]) == (
        9,
        8,
        4,
        2,
    )
    assert row["delivered_rate"] == pytest.approx(8 / 9)
    assert row["opened_rate"] == pytest.approx(0.5)
    assert row["completed_rate"] == pytest.approx(0.25)
    # Wilson, 4 of 8: centre 0.5; half = z / (1 + z^2/8) x sqrt(0.25/8 + z^2/256) = 0.28478
    assert row["opened_low"] == pytest.approx(0.5 - 0.28478, abs=1e-4)
    assert row["opened_high"] == pytest.approx(0.5 + 0.28478, abs=1e-4)


def test_rates_per_mode_and_per_client(field):
    rows = response_rates(
        filters=NpsFilters(client_ids=[field.acme.pk], operator_ids=[field.giulia.pk]),
        group_by=["channel"],
        now=NOW,
    )
    by_mode = {r["keys"]["channel"]: r for r in rows}
    # SMS (1-8): I 2, P 1, R 2, UO 2, open 1 -> RR1 2 / 7.
    assert by_mode["sms"]["rr1"] == pytest.approx(2 / 7)
    assert (by_mode["sms"]["cases"], by_mode["sms"]["open"]) == (7, 1)
    # CATI (12-18): I 1, R 1, O 1, UH 1, UO 1, NE 1, open 1 -> RR1 1 / 5 (NE is out).
    assert by_mode["cati"]["rr1"] == pytest.approx(1 / 5)
    assert by_mode["cati"]["NE"] == 1
    # Marco adds one complete web answer: the client has I 4 of 13 + 1 known.
    [client] = response_rates(
        filters=NpsFilters(client_ids=[field.acme.pk]), group_by=["client"], now=NOW
    )
    assert client["client"] == "acme-energia"
    assert client["I"] == 4 and client["rr1"] == pytest.approx(4 / 13)


def test_filters_by_contact_type_and_mode(field):
    [row] = response_rates(
        filters=NpsFilters(
            client_ids=[field.acme.pk], contact_channels=["home_visit"], channels=["cati"]
        ),
        now=NOW,
    )
    assert (row["UO"], row["cases"]) == (1, 1)  # invitation 18
    [sms] = response_rates(
        filters=NpsFilters(client_ids=[field.acme.pk], channels=["web", "sms_reply"]), now=NOW
    )
    assert sms["I"] == 3  # 1, 2 and Marco's


def test_as_time_passes_an_open_invitation_becomes_final(field):
    later = NOW + dt.timedelta(days=5)
    [row] = response_rates(
        filters=NpsFilters(client_ids=[field.acme.pk], operator_ids=[field.giulia.pk]), now=later
    )
    # Invitation 8's link expired unanswered and unopened: UO.
    assert (row["open"], row["UO"]) == (1, 4)


def test_nothing_to_report(db):
    acme = ClientFactory.create()
    assert response_rates(filters=NpsFilters(client_ids=[acme.pk]), now=NOW) == []
    assert response_rates(filters=NpsFilters(client_ids=[]), now=NOW) == []


def test_a_reminder_beside_the_invitation_sms_counts_once(db):
    acme = ClientFactory.create()
    giulia = OperatorFactory.create(client=acme)
    inv = invitation(acme, giulia, status=InvitationStatus.COMPLETED, sms="delivered")
    SmsMessage.objects.create(
        invitation=inv,
        kind="reminder",
        to=inv.phone_e164,
        body="...",
        status="delivered",
        backend="outbox",
        sent_at=SENT + dt.timedelta(days=1),
    )
    respond(inv, score=9, complete=True, channel="web")
    [row] = response_rates(filters=NpsFilters(client_ids=[acme.pk]), now=NOW)
    # One invitation, one case: I. Its invitation SMS was sent and delivered, the link never
    # opened, the answer complete on the web page; the reminder is not a second invitation.
    assert (row["cases"], row["I"], row["rr1"]) == (1, 1, 1.0)
    assert (row["sms_sent"], row["sms_delivered"], row["sms_opened"], row["sms_completed"]) == (
        1,
        1,
        0,
        1,
    )


def test_two_clients_each_count_their_own_answers(db):
    acme = ClientFactory.create()
    beta = ClientFactory.create(ref="beta-luce", name="Beta Luce")
    giulia = OperatorFactory.create(client=acme)
    bruno = OperatorFactory.create(client=beta)
    past = NOW - dt.timedelta(days=10)
    done, expired = InvitationStatus.COMPLETED, InvitationStatus.EXPIRED
    respond(
        invitation(acme, giulia, status=done, sms="delivered", opened=True),
        score=9,
        complete=True,
        channel="web",
    )
    respond(
        invitation(beta, bruno, status="partial", sms="delivered", opened=True, expires=past),
        score=3,
        complete=False,
        channel="web",
    )
    invitation(beta, bruno, status=expired, sms="delivered", expires=past)
    rows = response_rates(
        filters=NpsFilters(client_ids=[acme.pk, beta.pk]), group_by=["client"], now=NOW
    )
    by_client = {r["client_id"]: r for r in rows}
    # acme: one complete answer, I 1 of 1. beta: a score then a stop (P) and an expired,
    # unopened SMS (UO): RR1 0 of 2, RR2 1 of 2.
    acme_row, beta_row = by_client[acme.pk], by_client[beta.pk]
    assert (acme_row["I"], acme_row["P"], acme_row["cases"], acme_row["rr1"]) == (1, 0, 1, 1.0)
    assert (beta_row["I"], beta_row["P"], beta_row["UO"], beta_row["cases"]) == (0, 1, 1, 2)
    assert beta_row["rr1"] == 0.0 and beta_row["rr2"] == pytest.approx(1 / 2)
    assert (beta_row["sms_sent"], beta_row["sms_opened"], beta_row["sms_completed"]) == (2, 1, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_jit_turns_it_off_for_the_queries_inside():
    with without_jit(), connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
    with connection.cursor() as cursor:  # and only inside (a request runs in autocommit)
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("on",)


def test_the_rates_tab_keeps_every_channel_and_says_why_when_one_is_picked(field, client):
    """Keeping only invitations answered on the web would keep only the debtors who answered:
    an RR1 of nearly 100 %. The tab counts every invitation and says so."""
    client.force_login(user_with_role("vera", Role.CLIENT_VIEWER, field.acme))
    url = "/dashboard/c/acme-energia/responses/"
    everything = client.get(url)
    web = client.get(f"{url}?channel=web")
    assert web.status_code == 200
    assert web.context["tables"]["rates"].rows == everything.context["tables"]["rates"].rows
    assert "The survey-channel filter applies to the NPS figures, not to these rates." in (
        web.content.decode()
    )
    assert "survey-channel filter applies" not in everything.content.decode()


def test_the_agency_table_shows_how_many_cases_are_still_open_beside_rr1(field, client):
    client.force_login(user_with_role("sara", Role.SUPERVISOR))
    table = client.get("/dashboard/?from=2026-01-01").context["table"]
    rr1 = table.columns.index("RR1 response rate of closed cases (%)")
    assert table.columns[rr1 + 1] == "cases still open"
    [row] = table.rows
    # Counted as of now, like the page (the module's NOW is a fixed past day).
    [rates] = response_rates(
        filters=NpsFilters(client_ids=[field.acme.pk], date_from=dt.date(2026, 1, 1))
    )
    assert row[rr1 + 1] == str(rates["open"])
    assert row[rr1] == f"{100 * rates['rr1']:.1f}"
