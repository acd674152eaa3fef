"""Twilio's webhooks, signed by the real SDK's validator, sent by the fake Twilio to a live
server: a forged or missing signature changes nothing, a replay changes nothing, status only
moves forward, and delivery errors follow the configured table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.utils import timezone

from surveys.dispatch import invitations_dispatch
from surveys.fake_twilio import FakeTwilio
from surveys.inbound import webhooks_process_pending
from surveys.models import (
    InboundMessage,
    Invitation,
    InvitationStatus,
    OptOut,
    OptOutEvent,
    Response,
    ResponseChannel,
    SmsKind,
    SmsMessage,
    SmsStatus,
    StatusEvent,
)
from surveys.policies import policy_cache_clear
from surveys.seed import seed_apply
from surveys.status import status_apply, status_record
from tests.surveys.sms_support import MARIO, acme, invitation_for, telco

# The live server needs committed rows; tests/conftest.py puts the shipped data back after
# the flush, for the tests that run later.
LIVE = pytest.mark.django_db(transaction=True)
INBOUND = "/twilio/sms/inbound/"
STATUS = "/twilio/sms/status/"


@pytest.fixture(autouse=True)
def _fresh_policies() -> Iterator[None]:
    policy_cache_clear()
    yield
    policy_cache_clear()


@pytest.fixture
def twilio(fake_twilio: FakeTwilio, live_server, settings) -> FakeTwilio:
    """The fake Twilio, calling back the live server at its public URL."""
    from django.apps import apps

    seed_apply(apps)  # the shipped texts, whatever an earlier flush left
    settings.PUBLIC_BASE_URL = live_server.url
    fake_twilio.webhook_base = live_server.url
    return fake_twilio


def dispatch(now: dt.datetime | None = None) -> None:
    invitations_dispatch(now=now or timezone.now())


def sent_invitation(twilio: FakeTwilio, **kwargs) -> tuple[Invitation, SmsMessage]:
    """An invitation the dispatcher sent through the fake Twilio."""
    invitation = invitation_for(**kwargs)
    dispatch()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    message = SmsMessage.objects.get(invitation=invitation, kind=SmsKind.INVITATION)
    assert message.provider_sid in {m.sid for m in twilio.messages}
    return invitation, message


# --- signatures -----------------------------------------------------------------------------


@LIVE
@pytest.mark.parametrize("signature", ["forged", None, "bm90LWEtc2lnbmF0dXJl"])
def test_a_bad_or_missing_signature_gets_403_and_changes_nothing(twilio, signature) -> None:
    invitation = invitation_for()
    status, _ = twilio.send_inbound(MARIO, "STOP", signature=signature)
    assert status == 403
    status, _ = twilio.send_status("SM" + "0" * 32, "delivered", signature=signature)
    assert status == 403

    assert not InboundMessage.objects.exists()
    assert not StatusEvent.objects.exists()
    assert not OptOut.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SCHEDULED


@pytest.mark.django_db
def test_a_tampered_body_or_another_url_fails_validation(client, fake_twilio, settings) -> None:
    settings.PUBLIC_BASE_URL = "https://nps.example.com"
    params = {"MessageSid": "SM1", "From": MARIO, "Body": "9", "To": "+15005550006"}
    signature = fake_twilio.sign("https://nps.example.com" + INBOUND, params)

    tampered = {**params, "Body": "STOP"}
    assert client.post(INBOUND, tampered, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    elsewhere = fake_twilio.sign("https://evil.example.com" + INBOUND, params)
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=elsewhere).status_code == 403
    assert not InboundMessage.objects.exists()

    answer = client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert answer.status_code == 200
    assert InboundMessage.objects.get().body == "9"


@pytest.mark.django_db
def test_without_an_auth_token_every_webhook_is_refused(client, fake_twilio, settings) -> None:
    params = {"MessageSid": "SM1", "From": MARIO, "Body": "STOP"}
    signature = fake_twilio.sign(settings.PUBLIC_BASE_URL + INBOUND, params)
    settings.TWILIO_AUTH_TOKEN = ""
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    assert not InboundMessage.objects.exists()


@pytest.mark.django_db
def test_behind_a_tls_proxy_the_public_url_is_validated(client, fake_twilio, settings) -> None:
    """Twilio calls https://nps.example.com/...; the proxy hands the app http://testserver/..."""
    settings.PUBLIC_BASE_URL = "https://nps.example.com"
    params = {"MessageSid": "SM1", "From": MARIO, "Body": "9"}
    signature = fake_twilio.sign("https://nps.example.com" + INBOUND, params)
    # By default the URL is rebuilt from PUBLIC_BASE_URL.
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 200

    # Or from the request, which is only right when the proxy's headers are trusted.
    settings.TWILIO_WEBHOOK_URL_FROM_PUBLIC_BASE = False
    params["MessageSid"] = "SM2"
    signature = fake_twilio.sign("https://nps.example.com" + INBOUND, params)
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "nps.example.com"]
    proxied = client.post(
        INBOUND,
        params,
        HTTP_X_TWILIO_SIGNATURE=signature,
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="nps.example.com",
    )
    assert proxied.status_code == 200
    assert InboundMessage.objects.count() == 2


@pytest.mark.django_db
def test_only_post_is_accepted(client) -> None:
    assert client.get(INBOUND).status_code == 405
    assert client.get(STATUS).status_code == 405


@pytest.mark.django_db
def test_the_answer_is_quick_and_the_work_queued_after_commit(
    client, fake_twilio, settings, django_capture_on_commit_callbacks
) -> None:
    params = {"MessageSid": "SM1", "From": MARIO, "Body": "BASTA"}
    signature = fake_twilio.sign(settings.PUBLIC_BASE_URL + INBOUND, params)
    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature)
    # Stored, answered with empty TwiML, and not yet acted on: one task waits for the commit.
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/xml")
    assert answer.content.decode().endswith("<Response/>")
    assert InboundMessage.objects.get().processed_at is None
    assert not OptOut.objects.exists()
    assert len(queued) == 1

    queued[0]()
    assert OptOut.objects.get(phone_e164=MARIO).active


# --- inbound --------------------------------------------------------------------------------


@LIVE
def test_a_replayed_opt_out_changes_nothing_the_second_time(twilio) -> None:
    status, body = twilio.send_inbound(MARIO, "BASTA")
    assert (status, body.endswith("<Response/>")) == (200, True)
    assert twilio.webhooks[-1].status_code == 200
    confirmation = SmsMessage.objects.get(kind=SmsKind.CONFIRMATION)
    assert twilio.sent_count(MARIO) == 1

    status, _ = twilio.replay(twilio.webhooks[0])
    assert status == 200
    assert InboundMessage.objects.count() == 1
    assert OptOutEvent.objects.count() == 1
    assert SmsMessage.objects.filter(kind=SmsKind.CONFIRMATION).get() == confirmation
    assert twilio.sent_count(MARIO) == 1


@LIVE
@pytest.mark.parametrize("word", ["STOP", "stop ", "Basta", "BAJA"])
def test_an_opt_out_holds_for_every_client_until_start(twilio, word) -> None:
    sent_invitation(twilio, client=acme())
    assert twilio.sent_count(MARIO) == 1

    assert twilio.send_inbound(MARIO, word)[0] == 200
    assert OptOut.objects.get(phone_e164=MARIO).active
    # One confirmation at most: Twilio's own for its English keyword, ours for the others.
    ours = SmsMessage.objects.filter(kind=SmsKind.CONFIRMATION).count()
    assert ours == (0 if word.strip().upper() == "STOP" else 1)
    assert twilio.send_inbound(MARIO, word)[0] == 200
    assert SmsMessage.objects.filter(kind=SmsKind.CONFIRMATION).count() == ours
    after_stop = twilio.sent_count(MARIO)

    # Two creditors try again: the dispatcher sends nothing.
    later = [invitation_for(client=acme()), invitation_for(client=telco())]
    dispatch()
    for invitation in later:
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.CANCELLED
    assert twilio.sent_count(MARIO) == after_stop

    # START reverses it (at Twilio too), and the next invitation goes out.
    assert twilio.send_inbound(MARIO, "START")[0] == 200
    assert not OptOut.objects.get(phone_e164=MARIO).active
    sent_invitation(twilio, client=telco())
    assert twilio.sent_count(MARIO) == after_stop + 1


@LIVE
def test_a_score_and_a_reason_by_reply(twilio) -> None:
    invitation, _ = sent_invitation(twilio)
    assert twilio.send_inbound(MARIO, "9/10")[0] == 200
    response = Response.objects.get(invitation=invitation)
    assert (response.score, response.channel) == (9, ResponseChannel.SMS_REPLY)

    assert twilio.send_inbound(MARIO, "Molto gentile")[0] == 200
    response.refresh_from_db()
    assert (response.reason, response.complete) == ("Molto gentile", True)
    # A replay of the score changes nothing.
    twilio.replay(twilio.webhooks[-2])
    response.refresh_from_db()
    assert (response.score, response.reason, response.complete) == (9, "Molto gentile", True)


# --- status ---------------------------------------------------------------------------------


@LIVE
def test_status_only_moves_forward(twilio) -> None:
    invitation, message = sent_invitation(twilio)
    sid = message.provider_sid

    def status() -> str:
        message.refresh_from_db()
        return message.status

    assert twilio.send_status(sid, "sent")[0] == 204
    assert status() == SmsStatus.SENT
    assert twilio.send_status(sid, "queued")[0] == 204  # late and earlier: ignored
    assert status() == SmsStatus.SENT
    assert twilio.send_status(sid, "delivered")[0] == 204
    assert status() == SmsStatus.DELIVERED
    assert message.delivered_at is not None
    # Nothing leaves "delivered": not a replay, not an out-of-order "undelivered".
    twilio.replay()
    twilio.send_status(sid, "undelivered", error_code=30003)
    assert status() == SmsStatus.DELIVERED
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    assert StatusEvent.objects.filter(message_sid=sid).count() == 4
    assert not StatusEvent.objects.filter(processed_at__isnull=True).exists()


@LIVE
def test_an_unreachable_handset_is_retried_once_four_hours_later(twilio) -> None:
    invitation, message = sent_invitation(twilio)
    before = timezone.now()
    assert twilio.send_status(message.provider_sid, "undelivered", error_code=30003)[0] == 204

    message.refresh_from_db()
    invitation.refresh_from_db()
    assert (message.status, message.retried) == (SmsStatus.PENDING, True)
    assert invitation.status == InvitationStatus.SCHEDULED
    assert invitation.send_after >= before + dt.timedelta(hours=4)

    # Not before its time...
    dispatch()
    assert twilio.sent_count(MARIO) == 1
    # ...then once more, and a second failure is final.
    dispatch(now=invitation.send_after)
    assert twilio.sent_count(MARIO) == 2
    message.refresh_from_db()
    assert twilio.send_status(message.provider_sid, "undelivered", error_code=30003)[0] == 204
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.FAILED
    dispatch(now=invitation.send_after + dt.timedelta(hours=8))
    assert twilio.sent_count(MARIO) == 2


@LIVE
def test_error_21610_in_a_callback_opts_the_number_out(twilio) -> None:
    invitation, message = sent_invitation(twilio)
    assert twilio.send_status(message.provider_sid, "failed", error_code=21610)[0] == 204
    assert OptOut.objects.get(phone_e164=MARIO).active
    assert OptOutEvent.objects.get().source == OptOutEvent.Source.PROVIDER
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.CANCELLED


@pytest.mark.django_db
def test_a_callback_before_the_provider_id_is_stored_waits_for_it() -> None:
    """Twilio can call back before the send task has stored the message's id."""
    invitation = invitation_for()
    message = SmsMessage.objects.create(
        invitation=invitation, kind=SmsKind.INVITATION, to=MARIO, body="x", backend="twilio"
    )
    arrived = timezone.now() - dt.timedelta(minutes=2)
    event, created = status_record(
        {"MessageSid": "SMlate", "MessageStatus": "delivered"}, now=arrived
    )
    assert created
    assert status_apply(event_id=event.pk) is False
    event.refresh_from_db()
    assert event.processed_at is None

    SmsMessage.objects.filter(pk=message.pk).update(provider_sid="SMlate", status="queued")
    assert webhooks_process_pending() == {"inbound": 0, "status": 1, "errors": 0}
    message.refresh_from_db()
    assert message.status == SmsStatus.DELIVERED


@pytest.mark.django_db
def test_a_callback_for_a_message_that_never_shows_up_is_dropped_after_an_hour() -> None:
    event, _ = status_record(
        {"MessageSid": "SMnobody", "MessageStatus": "sent"},
        now=timezone.now() - dt.timedelta(hours=2),
    )
    assert status_apply(event_id=event.pk) is True
    event.refresh_from_db()
    assert event.processed_at is not None


@pytest.mark.django_db
def test_twilios_sending_and_unknown_statuses_are_stored_and_ignored() -> None:
    invitation = invitation_for()
    message = SmsMessage.objects.create(
        invitation=invitation,
        kind=SmsKind.INVITATION,
        to=MARIO,
        body="x",
        backend="twilio",
        provider_sid="SMx",
        status=SmsStatus.ACCEPTED,
    )
    for status in ("sending", "scheduled", "read"):
        event, _ = status_record({"MessageSid": "SMx", "MessageStatus": status})
        assert status_apply(event_id=event.pk) is True
    message.refresh_from_db()
    assert message.status == SmsStatus.ACCEPTED
    assert StatusEvent.objects.filter(processed_at__isnull=False).count() == 3
