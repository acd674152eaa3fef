"""What a debtor's SMS reply does: opt-out and opt-in keywords, a score and then a reason, and
free text that sounds like "stop writing to me" going to the review queue."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import pytest
from django.utils import timezone

from surveys.dispatch import invitations_dispatch
from surveys.inbound import (
    inbound_process,
    inbound_record,
    review_resolve,
    webhooks_process_pending,
)
from surveys.keywords import keyword_kind, normalise, parse_score, sounds_like_stop
from surveys.models import (
    InboundMessage,
    InvitationStatus,
    OptOut,
    OptOutEvent,
    Response,
    ResponseChannel,
    ReviewItem,
    SmsKind,
    SmsMessage,
)
from tests.factories import UserFactory
from tests.surveys.sms_support import MARIO, acme, invitation_for, telco

Kind = InboundMessage.Kind
Reply = Callable[..., InboundMessage]


# --- the words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        (" Basta! ", "BASTA"),
        ("baja.", "BAJA"),
        ("Sì", "SI"),
        ("Stop !!", "STOP"),
        ("Opt-out", "OPTOUT"),
        ("", ""),
    ],
)
def test_normalise(text: str, normal: str) -> None:
    assert normalise(text) == normal


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop ", "Basta", "BAJA", "Stop!", "baja.", "CANCELLA", "disiscrivimi", "Alto"],
)
def test_opt_out_keywords(text: str) -> None:
    assert keyword_kind(text, opted_out=False) == "opt_out"


@pytest.mark.parametrize("text", ["STOP PLEASE", "basta grazie", "stopp", "9", "OPT OUT", "St op"])
def test_only_a_lone_keyword_is_a_keyword(text: str) -> None:
    assert keyword_kind(text, opted_out=False) is None


def test_si_and_yes_opt_in_only_a_number_that_is_out() -> None:
    assert keyword_kind("START", opted_out=False) == "opt_in"
    assert keyword_kind("Sì", opted_out=True) == "opt_in"
    assert keyword_kind("yes", opted_out=True) == "opt_in"
    assert keyword_kind("Sì", opted_out=False) is None
    assert keyword_kind("yes", opted_out=False) is None


@pytest.mark.parametrize(
    ("text", "score"),
    [("9", 9), (" 9 ", 9), ("9/10", 9), ("9 / 10", 9), ("10/10", 10), ("0", 0), ("7.", 7)],
)
def test_scores(text: str, score: int) -> None:
    assert parse_score(text) == score


@pytest.mark.parametrize("text", ["11", "9,5", "-1", "voto alto", "10/100", "", "9 su 10 grazie"])
def test_not_scores(text: str) -> None:
    assert parse_score(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "per favore non scrivetemi più",
        "Non mandatemi più messaggi",
        "lasciatemi in pace",
        "non voglio più ricevere sms",
        "Smettetela di scrivermi",
        "no me escriban más",
        "No quiero mensajes",
        "Dejen de enviarme mensajes",
        "stop texting me",
        "Please don't text me again",
        "leave me alone",
        "STOP PLEASE",
        "basta grazie",
    ],
)
def test_sounds_like_stop(text: str) -> None:
    assert sounds_like_stop(text)


@pytest.mark.parametrize(
    "text",
    [
        "Molto gentile",
        "Operatore gentile e disponibile, non mi ha messo fretta",
        "Muy amable, gracias",
        "Very kind and patient",
        "Non chiamano mai in orari scomodi",
        "",
    ],
)
def test_ordinary_text_does_not_sound_like_stop(text: str) -> None:
    assert not sounds_like_stop(text)


# --- replies, end to end through the services -----------------------------------------------


@pytest.fixture
def reply(django_capture_on_commit_callbacks) -> Reply:
    """Mario texts `body`: the webhook's row is stored, then processed; whatever it queues after
    commit (a confirmation) runs too."""

    def send(body: str, phone: str = MARIO) -> InboundMessage:
        with django_capture_on_commit_callbacks(execute=True):
            inbound, created = inbound_record(
                {"MessageSid": "SM" + secrets.token_hex(16), "From": phone, "Body": body}
            )
            assert created
            inbound_process(inbound_id=inbound.pk)
        inbound.refresh_from_db()
        return inbound

    return send


def confirmations(phone: str = MARIO) -> list[SmsMessage]:
    return list(SmsMessage.objects.filter(kind=SmsKind.CONFIRMATION, to=phone))


@pytest.mark.django_db
@pytest.mark.parametrize("word", ["STOP", "stop ", "Basta", "BAJA", "Stop!", "baja.", "CANCELLA"])
def test_a_keyword_opts_the_number_out_for_every_client(
    reply: Reply, django_capture_on_commit_callbacks, word: str
) -> None:
    waiting = invitation_for(client=acme())
    inbound = reply(word)

    assert inbound.kind == Kind.OPT_OUT
    assert OptOut.objects.get(phone_e164=MARIO).active
    event = OptOutEvent.objects.get()
    assert event.source == OptOutEvent.Source.SMS_KEYWORD
    waiting.refresh_from_db()
    assert waiting.status == InvitationStatus.CANCELLED
    # One confirmation, sent at once through the normal send path (the outbox here).
    (confirmation,) = confirmations()
    assert confirmation.status == "delivered"

    # Later invitations, for either creditor, are never sent: the dispatcher cancels them.
    later = [invitation_for(client=acme()), invitation_for(client=telco())]
    with django_capture_on_commit_callbacks(execute=True):
        summary = invitations_dispatch(now=timezone.now())
    assert summary.cancelled == 2
    for invitation in later:
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.CANCELLED
    assert not SmsMessage.objects.filter(kind=SmsKind.INVITATION).exists()


@pytest.mark.django_db
def test_the_confirmation_speaks_the_keywords_language(reply: Reply) -> None:
    invitation_for(language="it", sent_at=timezone.now())
    reply("BAJA")
    assert confirmations()[0].body.startswith("Ya no le enviaremos SMS")


@pytest.mark.django_db
def test_stop_is_confirmed_in_the_invitations_language(reply: Reply) -> None:
    invitation_for(language="it", sent_at=timezone.now())
    reply("STOP")
    assert confirmations()[0].body.startswith("Non riceverà altri SMS")


@pytest.mark.django_db
def test_two_stops_get_one_confirmation(reply: Reply) -> None:
    reply("STOP")
    reply("Basta")
    reply("STOP")
    assert len(confirmations()) == 1
    assert OptOutEvent.objects.count() == 3  # the evidence keeps every request


@pytest.mark.django_db
def test_start_reverses_it_and_a_new_opt_out_is_confirmed_again(reply: Reply) -> None:
    reply("STOP")
    assert reply("START").kind == Kind.OPT_IN
    assert not OptOut.objects.get(phone_e164=MARIO).active
    assert [e.opted_out for e in OptOutEvent.objects.order_by("at", "pk")] == [True, False]

    reply("STOP")
    assert OptOut.objects.get(phone_e164=MARIO).active
    assert len(confirmations()) == 2


@pytest.mark.django_db
def test_si_opts_back_in_only_when_out(reply: Reply) -> None:
    invitation = invitation_for(sent_at=timezone.now())
    reply("9")
    # Not opted out: "Sì" is text, the reason for the score.
    assert reply("Sì").kind == Kind.REASON
    assert Response.objects.get(invitation=invitation).reason == "Sì"
    reply("BASTA")
    assert reply("Sì").kind == Kind.OPT_IN
    assert not OptOut.objects.get(phone_e164=MARIO).active


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["9", " 9 ", "9/10"])
def test_a_score_and_then_a_reason(reply: Reply, text: str) -> None:
    invitation = invitation_for(sent_at=timezone.now() - dt.timedelta(hours=1))

    assert reply(text).kind == Kind.SCORE
    response = Response.objects.get(invitation=invitation)
    assert (response.score, response.channel, response.complete) == (
        9,
        ResponseChannel.SMS_REPLY,
        False,
    )
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PARTIAL

    assert reply("Molto gentile").kind == Kind.REASON
    response.refresh_from_db()
    assert (response.score, response.reason, response.complete) == (9, "Molto gentile", True)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.COMPLETED

    # The answer is complete: more text changes nothing.
    assert reply("Ah, e grazie ancora").kind == Kind.OTHER
    response.refresh_from_db()
    assert response.reason == "Molto gentile"


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "score"), [("10/10", 10), ("0", 0)])
def test_the_ends_of_the_scale(reply: Reply, text: str, score: int) -> None:
    invitation = invitation_for(sent_at=timezone.now())
    reply(text)
    assert Response.objects.get(invitation=invitation).score == score


@pytest.mark.django_db
def test_eleven_is_not_a_score(reply: Reply) -> None:
    invitation = invitation_for(sent_at=timezone.now())
    assert reply("11").kind == Kind.OTHER
    assert not Response.objects.filter(invitation=invitation).exists()
    # After a real score, "11" is just the reason's text.
    reply("8")
    assert reply("11").kind == Kind.REASON
    response = Response.objects.get(invitation=invitation)
    assert (response.score, response.reason) == (8, "11")


@pytest.mark.django_db
def test_the_reply_answers_the_most_recent_sms_invitation(reply: Reply) -> None:
    now = timezone.now()
    older = invitation_for(client=acme(), sent_at=now - dt.timedelta(days=20))
    newer = invitation_for(client=telco(), sent_at=now - dt.timedelta(hours=2))
    inbound = reply("7")
    assert inbound.invitation == newer
    assert Response.objects.get().invitation == newer
    assert not Response.objects.filter(invitation=older).exists()


@pytest.mark.django_db
def test_a_score_after_the_link_expired_is_not_recorded(reply: Reply) -> None:
    invitation_for(sent_at=timezone.now() - dt.timedelta(days=8), lifetime=dt.timedelta(days=7))
    assert reply("9").kind == Kind.OTHER
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_a_score_from_a_stranger_is_kept_but_records_nothing(reply: Reply) -> None:
    assert reply("9", phone="+393470000999").kind == Kind.OTHER
    assert not Response.objects.exists()


@pytest.mark.django_db
def test_free_text_that_sounds_like_stop_waits_for_a_supervisor(reply: Reply) -> None:
    inbound = reply("per favore non scrivetemi più")

    assert inbound.kind == Kind.REVIEW
    review = ReviewItem.objects.get(inbound=inbound)
    assert review.state == ReviewItem.State.OPEN
    assert not OptOut.objects.filter(phone_e164=MARIO, active=True).exists()
    assert confirmations() == []

    supervisor = UserFactory.create(username="sara")
    assert review_resolve(review_id=review.pk, opt_out=True, user_id=supervisor.pk)
    review.refresh_from_db()
    assert (review.state, review.resolved_by) == (ReviewItem.State.OPTED_OUT, supervisor)
    assert OptOut.objects.get(phone_e164=MARIO).active
    assert OptOutEvent.objects.get().source == OptOutEvent.Source.SMS_REVIEW
    # Deciding twice does nothing more.
    assert not review_resolve(review_id=review.pk, opt_out=True, user_id=supervisor.pk)
    assert OptOutEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_dismissed_review_leaves_the_number_in(reply: Reply) -> None:
    review = ReviewItem.objects.get(inbound=reply("no me escriban"))
    assert review_resolve(review_id=review.pk, opt_out=False, user_id=None)
    review.refresh_from_db()
    assert review.state == ReviewItem.State.DISMISSED
    assert not OptOut.objects.exists()


@pytest.mark.django_db
def test_stop_like_text_after_a_score_is_also_the_reason(reply: Reply) -> None:
    invitation = invitation_for(sent_at=timezone.now())
    reply("3")
    inbound = reply("Gentili, ma non scrivetemi più")
    assert inbound.kind == Kind.REVIEW
    assert ReviewItem.objects.filter(inbound=inbound, state=ReviewItem.State.OPEN).exists()
    assert Response.objects.get(invitation=invitation).reason == "Gentili, ma non scrivetemi più"


@pytest.mark.django_db
def test_replies_keep_their_order_even_when_processed_out_of_order() -> None:
    invitation = invitation_for(sent_at=timezone.now())
    start = timezone.now()
    score, _ = inbound_record({"MessageSid": "SM1", "From": MARIO, "Body": "9"}, now=start)
    reason, _ = inbound_record(
        {"MessageSid": "SM2", "From": MARIO, "Body": "Molto gentile"},
        now=start + dt.timedelta(seconds=5),
    )
    # The reason's task runs first: the score before it is processed first.
    assert inbound_process(inbound_id=reason.pk) == Kind.REASON
    assert inbound_process(inbound_id=score.pk) is None  # already done
    response = Response.objects.get(invitation=invitation)
    assert (response.score, response.reason, response.complete) == (9, "Molto gentile", True)


@pytest.mark.django_db
def test_a_message_is_stored_once_and_processed_once(reply: Reply) -> None:
    params = {"MessageSid": "SMabc", "From": MARIO, "Body": "STOP"}
    first, created = inbound_record(params)
    again, created_again = inbound_record(params)
    assert (created, created_again, first.pk) == (True, False, again.pk)
    assert inbound_process(inbound_id=first.pk) == Kind.OPT_OUT
    assert inbound_process(inbound_id=first.pk) is None
    assert OptOutEvent.objects.count() == 1


@pytest.mark.django_db
def test_the_catch_up_pass_processes_what_the_broker_lost(django_capture_on_commit_callbacks):
    invitation = invitation_for(sent_at=timezone.now() - dt.timedelta(hours=1))
    arrived = timezone.now() - dt.timedelta(minutes=5)
    inbound_record({"MessageSid": "SM1", "From": MARIO, "Body": "10"}, now=arrived)
    inbound_record({"MessageSid": "SM2", "From": "+393470000001", "Body": "STOP"}, now=arrived)
    # Just arrived: its task may still be on its way, so the pass leaves it alone.
    fresh, _ = inbound_record({"MessageSid": "SM3", "From": "+393470000002", "Body": "STOP"})

    with django_capture_on_commit_callbacks(execute=True):
        done = webhooks_process_pending()

    assert done == {"inbound": 2, "status": 0, "errors": 0}
    response = Response.objects.get(invitation=invitation)
    # Recorded at the time the debtor answered, not when the pass ran.
    assert (response.score, response.answered_at) == (10, arrived)
    assert OptOut.objects.get(phone_e164="+393470000001").active
    fresh.refresh_from_db()
    assert fresh.processed_at is None
    assert len(confirmations("+393470000001")) == 1


@pytest.mark.django_db
def test_with_twilio_stop_is_confirmed_by_twilio_and_basta_by_us(reply: Reply, fake_twilio) -> None:
    # Twilio answers its own English keywords itself (and blocks the number): a confirmation
    # from us would be the second one.
    reply("STOP")
    assert confirmations() == []
    assert OptOut.objects.get(phone_e164=MARIO).confirmation_sent
    reply("BASTA")
    assert fake_twilio.sent_count(MARIO) == 0

    # Twilio knows nothing of BASTA: the one confirmation is ours.
    other = "+393470000003"
    reply("BASTA", phone=other)
    reply("basta!", phone=other)
    (confirmation,) = confirmations(other)
    assert fake_twilio.sent_count(other) == 1
    assert fake_twilio.message(confirmation.provider_sid).body.startswith("Non riceverà")
