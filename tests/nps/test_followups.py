"""The closed loop on detractors: one case and one e-mail per detractor answer, owners,
due times, overdue cases, opted-out debtors, status moves and notes, and scoping."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from collections_link.models import Role
from nps import views as nps_views
from nps.followup_tasks import followups_open_task
from nps.followups import (
    TransitionError,
    due_at_for,
    followup_note_add,
    followup_reassign,
    followup_transition,
    followups_open,
)
from nps.models import FollowUpCase, FollowUpStatus
from surveys.models import Invitation, OptOut, SmsMessage
from surveys.responses import AlreadyAnswered, response_record
from tests.factories import ClientFactory, OperatorFactory, user_with_role
from tests.nps.nps_support import answered

ROME = ZoneInfo("Europe/Rome")
# A Wednesday morning in Rome.
NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=ROME)


@pytest.fixture
def acme():
    client = ClientFactory.create()
    operator = OperatorFactory.create(ref="op-giulia", name="Giulia Bianchi", client=client)
    # Two viewers: the first by id owns the cases.
    anna = user_with_role("anna", Role.CLIENT_VIEWER, client)
    anna.email = "anna@acme.example"
    anna.save()
    beppe = user_with_role("beppe", Role.CLIENT_VIEWER, client)
    beppe.email = "beppe@acme.example"
    beppe.save()
    return client, operator, anna, beppe


def _answer(client, operator, score, *, minutes_ago=60, complete=True, now=NOW, **kwargs):
    return answered(
        client=client,
        operator=operator,
        score=score,
        answered_at=now - dt.timedelta(minutes=minutes_ago),
        complete=complete,
        **kwargs,
    )


@pytest.mark.django_db
def test_a_detractor_opens_one_case_for_the_first_viewer_and_sends_one_email(acme):
    client, operator, anna, _beppe = acme
    response = _answer(client, operator, 3, reason="Mi hanno trattato male, pago 250 EUR")

    summary = followups_open(now=NOW)

    assert (summary.opened, summary.emailed) == (1, 1)
    case = FollowUpCase.objects.get()
    assert case.response == response
    assert case.client == client
    assert case.owner == anna
    assert case.status == FollowUpStatus.OPEN
    # Wednesday 10:00 plus two working days: Friday 10:00, Rome time.
    assert case.due_at == dt.datetime(2026, 11, 20, 10, 0, tzinfo=ROME)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@acme.example"]
    assert "3/10" in message.subject
    assert f"/dashboard/c/{client.ref}/follow-ups/{case.pk}/" in message.body
    # No debt data and nothing the debtor wrote: no amount, no reason, no phone, no account.
    for secret in ("250", "trattato", response.invitation.phone_e164, "100.00", "A-"):
        assert secret not in message.body
        assert secret not in message.subject


@pytest.mark.django_db
def test_a_second_pass_opens_no_second_case_and_sends_no_second_email(acme):
    client, operator, _anna, _beppe = acme
    _answer(client, operator, 0)

    followups_open(now=NOW)
    again = followups_open(now=NOW + dt.timedelta(minutes=5))

    assert (again.opened, again.emailed) == (0, 0)
    assert FollowUpCase.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_passives_and_promoters_open_no_case(acme):
    client, operator, _anna, _beppe = acme
    for score in (7, 8, 9, 10):
        _answer(client, operator, score)
    _answer(client, operator, None, complete=False)  # opened the page, gave no score

    summary = followups_open(now=NOW)

    assert (summary.opened, summary.emailed) == (0, 0)
    assert not FollowUpCase.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_six_is_a_detractor_and_seven_is_not(acme):
    client, operator, _anna, _beppe = acme
    six = _answer(client, operator, 6)
    _answer(client, operator, 7)

    followups_open(now=NOW)

    assert list(FollowUpCase.objects.values_list("response_id", flat=True)) == [six.pk]


@pytest.mark.django_db
def test_a_second_submit_of_the_survey_opens_no_second_case(acme):
    """The debtor submits the survey page twice (a double tap, a second tab): one response,
    one case, one e-mail."""
    client, operator, _anna, _beppe = acme
    partial = _answer(client, operator, None, complete=False)
    invitation = partial.invitation
    partial.delete()
    invitation.status = "sent"
    invitation.save()

    response_record(
        invitation_id=invitation.pk,
        channel="web",
        answers={"nps": 2, "reason": "Troppe telefonate"},
        complete=True,
        now=NOW - dt.timedelta(hours=1),
    )
    followups_open(now=NOW)
    with pytest.raises(AlreadyAnswered):
        response_record(
            invitation_id=invitation.pk,
            channel="web",
            answers={"nps": 1},
            complete=True,
            now=NOW - dt.timedelta(minutes=50),
        )
    followups_open(now=NOW + dt.timedelta(minutes=1))

    assert FollowUpCase.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_score_without_the_rest_waits_for_the_reason_then_opens(acme):
    client, operator, _anna, _beppe = acme
    _answer(client, operator, 4, minutes_ago=10, complete=False)

    assert followups_open(now=NOW).opened == 0  # the debtor may still be typing the reason
    assert followups_open(now=NOW + dt.timedelta(minutes=25)).opened == 1


@pytest.mark.django_db
def test_old_answers_never_open_a_case(acme):
    client, operator, _anna, _beppe = acme
    _answer(client, operator, 1, minutes_ago=60 * 24 * 45)

    assert followups_open(now=NOW).opened == 0


@pytest.mark.django_db
def test_the_periodic_task_runs_the_same_pass(acme):
    client, operator, _anna, _beppe = acme
    _answer(client, operator, 2, minutes_ago=60)

    assert followups_open_task.delay().get() == {"opened": 1, "emailed": 1}
    assert followups_open_task.delay().get() == {"opened": 0, "emailed": 0}


# --- e-mail ---------------------------------------------------------------------------------------


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that is down (the process boundary, not our code)."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server unreachable")


@pytest.mark.django_db
def test_a_failed_email_is_retried_by_the_next_pass_and_sent_once(acme, settings):
    client, operator, _anna, _beppe = acme
    _answer(client, operator, 5)
    settings.EMAIL_BACKEND = "tests.nps.test_followups.RefusingBackend"

    first = followups_open(now=NOW)

    assert (first.opened, first.emailed) == (1, 0)
    assert FollowUpCase.objects.get().email_sent_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    second = followups_open(now=NOW + dt.timedelta(minutes=5))
    third = followups_open(now=NOW + dt.timedelta(minutes=10))

    assert (second.emailed, third.emailed) == (1, 0)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_client_without_viewers_gets_an_unowned_case_mailed_once_it_has_an_owner():
    client = ClientFactory.create()
    operator = OperatorFactory.create(client=client)
    _answer(client, operator, 1)

    followups_open(now=NOW)

    case = FollowUpCase.objects.get()
    assert case.owner is None
    assert mail.outbox == []

    carla = user_with_role("carla", Role.CLIENT_VIEWER, client)
    carla.email = "carla@acme.example"
    carla.save()
    followup_reassign(case=case, owner=carla)
    followups_open(now=NOW + dt.timedelta(minutes=5))

    assert [m.to for m in mail.outbox] == [["carla@acme.example"]]


@pytest.mark.django_db
def test_a_case_cannot_be_given_to_a_viewer_of_another_client(acme):
    client, operator, _anna, _beppe = acme
    _answer(client, operator, 1)
    followups_open(now=NOW)
    other = ClientFactory.create(ref="banca-brava", name="Banca Brava")
    bruno = user_with_role("bruno", Role.CLIENT_VIEWER, other)

    with pytest.raises(TransitionError):
        followup_reassign(case=FollowUpCase.objects.get(), owner=bruno)


# --- due times and overdue ------------------------------------------------------------------------


def test_due_time_skips_weekends_and_public_holidays():
    client = ClientFactory.build(country="IT", time_zone="Europe/Rome")
    friday = dt.datetime(2026, 11, 13, 15, 0, tzinfo=ROME)
    christmas_eve = dt.datetime(2026, 12, 24, 9, 30, tzinfo=ROME)

    assert due_at_for(client=client, now=friday) == dt.datetime(2026, 11, 17, 15, 0, tzinfo=ROME)
    # 25 Dec (Friday) is a holiday, then the weekend: Monday 28 and Tuesday 29 count.
    assert due_at_for(client=client, now=christmas_eve) == dt.datetime(
        2026, 12, 29, 9, 30, tzinfo=ROME
    )


@pytest.mark.django_db
def test_overdue_cases_stand_out_on_the_list(acme, client):
    # The pages compare due times with the real clock.
    now = timezone.now()
    acme_client, operator, anna, _beppe = acme
    late = _answer(acme_client, operator, 2, minutes_ago=60 * 24 * 8, now=now)
    fresh = _answer(acme_client, operator, 3, minutes_ago=60, now=now)
    followups_open(now=now - dt.timedelta(days=8) + dt.timedelta(hours=1))
    followups_open(now=now)
    late_case = FollowUpCase.objects.get(response=late)
    fresh_case = FollowUpCase.objects.get(response=fresh)

    assert late_case.is_overdue(now)
    assert not fresh_case.is_overdue(now)

    client.force_login(anna)
    page = client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/").content.decode()
    overdue_only = client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/?overdue=1")
    rows = overdue_only.content.decode()

    assert f'class="is-overdue" data-case="{late_case.pk}"' in page
    assert f'class="" data-case="{fresh_case.pk}"' in page
    assert f'data-case="{late_case.pk}"' in rows
    assert f'data-case="{fresh_case.pk}"' not in rows
    detail = client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/{late_case.pk}/")
    assert 'data-testid="overdue"' in detail.content.decode()
    # A resolved case is never overdue, however late.
    followup_transition(
        case=late_case, to_status=FollowUpStatus.RESOLVED, author=anna, note="Risolto"
    )
    after = client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/?overdue=1").content.decode()
    assert f'data-case="{late_case.pk}"' not in after


@pytest.mark.django_db
def test_the_list_says_which_answers_open_cases_and_when_it_is_cut_short(acme, client, monkeypatch):
    now = timezone.now()
    acme_client, operator, anna, _beppe = acme
    for minutes in (60, 120, 180):
        _answer(acme_client, operator, 2, minutes_ago=minutes, now=now)
    followups_open(now=now)
    client.force_login(anna)
    url = f"/dashboard/c/{acme_client.ref}/follow-ups/"
    page = client.get(url).content.decode()
    assert "Every detractor answer (0 to 6) given in the last 30 days opens a case" in page
    assert "Only the first" not in page

    monkeypatch.setattr(nps_views, "FOLLOWUPS_SHOWN", 2)
    cut = client.get(url).content.decode()
    assert "Only the first 2 cases are listed" in cut
    assert cut.count('data-case="') == 2


# --- opt-out ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_opted_out_debtor_is_flagged_and_never_surveyed_again(acme, client):
    acme_client, operator, anna, _beppe = acme
    response = _answer(acme_client, operator, 1)
    OptOut.objects.create(phone_e164=response.invitation.phone_e164, active=True, updated_at=NOW)
    invitations, messages = Invitation.objects.count(), SmsMessage.objects.count()

    followups_open(now=NOW)

    case = FollowUpCase.objects.get()
    # The follow-up is a human conversation: no invitation, no SMS.
    assert (Invitation.objects.count(), SmsMessage.objects.count()) == (invitations, messages)
    client.force_login(anna)
    body = client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/{case.pk}/").content.decode()
    assert 'data-testid="opted-out"' in body
    assert "opted out of surveys" in body


@pytest.mark.django_db
def test_a_debtor_who_did_not_opt_out_is_not_flagged(acme, client):
    acme_client, operator, anna, _beppe = acme
    _answer(acme_client, operator, 1)
    followups_open(now=NOW)

    client.force_login(anna)
    case = FollowUpCase.objects.get()
    body = client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/{case.pk}/").content.decode()
    assert 'data-testid="opted-out"' not in body


# --- status and notes ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_moves_forward_with_notes(acme):
    acme_client, operator, anna, _beppe = acme
    _answer(acme_client, operator, 2)
    followups_open(now=NOW)
    case = FollowUpCase.objects.get()

    with pytest.raises(TransitionError):  # resolving needs a note saying what was done
        followup_transition(case=case, to_status=FollowUpStatus.RESOLVED, author=anna)
    followup_transition(
        case=case,
        to_status=FollowUpStatus.CONTACTED,
        author=anna,
        note="Chiamato, richiamo",
        now=NOW + dt.timedelta(hours=1),
    )
    followup_note_add(
        case=case,
        author=anna,
        text="Ha chiesto un piano di rientro",
        now=NOW + dt.timedelta(hours=2),
    )
    later = NOW + dt.timedelta(days=1)
    followup_transition(
        case=case,
        to_status=FollowUpStatus.RESOLVED,
        author=anna,
        note="Piano concordato",
        now=later,
    )

    case.refresh_from_db()
    assert case.status == FollowUpStatus.RESOLVED
    assert case.resolved_at == later
    assert list(case.notes.values_list("text", flat=True)) == [
        "Chiamato, richiamo",
        "Ha chiesto un piano di rientro",
        "Piano concordato",
    ]
    with pytest.raises(TransitionError):  # a resolved case stays resolved
        followup_transition(case=case, to_status=FollowUpStatus.CONTACTED, author=anna)


@pytest.mark.django_db
def test_a_stale_page_cannot_move_a_case_twice(acme):
    acme_client, operator, anna, beppe = acme
    _answer(acme_client, operator, 2)
    followups_open(now=NOW)
    seen_by_anna = FollowUpCase.objects.get()
    seen_by_beppe = FollowUpCase.objects.get()

    followup_transition(case=seen_by_anna, to_status=FollowUpStatus.CONTACTED, author=anna)
    with pytest.raises(TransitionError):
        followup_transition(case=seen_by_beppe, to_status=FollowUpStatus.CONTACTED, author=beppe)

    assert FollowUpCase.objects.get().notes.count() == 0


@pytest.mark.django_db
def test_the_case_page_moves_the_case_and_keeps_notes(acme, client):
    acme_client, operator, anna, _beppe = acme
    _answer(acme_client, operator, 2, reason="Chiamatemi al 347 1234567 o a mario@example.com")
    followups_open(now=NOW)
    case = FollowUpCase.objects.get()
    url = f"/dashboard/c/{acme_client.ref}/follow-ups/{case.pk}/"
    client.force_login(anna)

    page = client.get(url).content.decode()
    moved = client.post(url, {"action": "transition", "status": "contacted", "note": "Sentito"})
    noted = client.post(url, {"action": "note", "text": "Richiamare venerdì"})
    refused = client.post(url, {"action": "transition", "status": "resolved", "note": ""})

    # The reason is shown masked, like everywhere else on the dashboard.
    assert "347 1234567" not in page and "mario@example.com" not in page
    assert "[phone]" in page and "[email]" in page
    assert (moved.status_code, noted.status_code) == (302, 302)
    assert refused.status_code == 200
    assert "Say in a note what was done" in refused.content.decode()
    case.refresh_from_db()
    assert case.status == FollowUpStatus.CONTACTED
    assert list(case.notes.values_list("text", flat=True)) == ["Sentito", "Richiamare venerdì"]
    assert "Richiamare venerdì" in client.get(url).content.decode()


# --- scoping -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_viewer_sees_only_their_own_clients_cases(acme, client):
    acme_client, operator, _anna, _beppe = acme
    _answer(acme_client, operator, 2)
    other = ClientFactory.create(ref="banca-brava", name="Banca Brava")
    pablo = OperatorFactory.create(ref="op-pablo", name="Pablo Ruiz", client=other)
    bruno = user_with_role("bruno", Role.CLIENT_VIEWER, other)
    _answer(other, pablo, 1)
    followups_open(now=NOW)
    acme_case = FollowUpCase.objects.get(client=acme_client)
    brava_case = FollowUpCase.objects.get(client=other)

    client.force_login(bruno)
    own_list = client.get("/dashboard/c/banca-brava/follow-ups/").content.decode()
    foreign = [
        client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/"),
        client.get(f"/dashboard/c/{acme_client.ref}/follow-ups/{acme_case.pk}/"),
        client.get(f"/dashboard/c/banca-brava/follow-ups/{acme_case.pk}/"),
        client.post(
            f"/dashboard/c/banca-brava/follow-ups/{acme_case.pk}/",
            {"action": "note", "text": "x"},
        ),
    ]

    assert f'data-case="{brava_case.pk}"' in own_list
    assert f'data-case="{acme_case.pk}"' not in own_list
    assert [r.status_code for r in foreign] == [404, 404, 404, 404]
    assert all(b"Acme" not in r.content and b"Giulia" not in r.content for r in foreign)
    assert acme_case.notes.count() == 0
    # Each owner got their own client's e-mail only.
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@acme.example"]
