"""The real twilio SDK, through surveys.twilio, against the local fake Twilio."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from surveys.fake_twilio import num_segments
from surveys.twilio import (
    SentMessage,
    TwilioRateLimited,
    TwilioRejected,
    TwilioServerError,
    request_validator,
    send_message,
    twilio_client,
)

GIULIA_DEBTOR = "+393331234567"  # an Italian mobile
LANDLINE = "+390612345678"  # a Rome landline
BODY = "Come e' andata la telefonata di oggi? Rispondi da 0 a 10. STOP per non ricevere altri SMS"
SID = re.compile(r"^SM[0-9a-f]{32}$")


def send(to: str = GIULIA_DEBTOR, **kwargs: object) -> SentMessage:
    options: dict[str, object] = {"status_callback": None, "validity_period": None}
    options.update(kwargs)
    return send_message(to=to, body=BODY, **options)


# --- sending --------------------------------------------------------------------------------


def test_send_message_through_the_messaging_service(fake_twilio, settings):
    callback = "https://nps.example.com/twilio/sms/status/"

    sent = send(status_callback=callback, validity_period=3600)

    assert SID.match(sent.sid)
    assert sent.status == "accepted"  # a Messaging Service accepts first, then queues
    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"
    assert request.params == {
        "To": GIULIA_DEBTOR,
        "Body": BODY,
        "MessagingServiceSid": settings.TWILIO_MESSAGING_SERVICE_SID,
        "StatusCallback": callback,
        "ValidityPeriod": "3600",
    }
    assert request.answer == 201
    [message] = fake_twilio.messages
    assert message.sid == sent.sid
    assert message.status_callback == callback
    assert message.validity_period == 3600
    assert fake_twilio.sent_count(GIULIA_DEBTOR) == 1


def test_send_message_from_a_number_without_a_messaging_service(fake_twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = ""

    sent = send()

    assert sent.status == "queued"
    [request] = fake_twilio.requests
    assert request.params == {"To": GIULIA_DEBTOR, "Body": BODY, "From": "+15005550006"}


def test_the_sdk_used_directly_creates_fetches_and_lists(fake_twilio):
    client = twilio_client()

    created = client.messages.create(to=GIULIA_DEBTOR, from_="+15005550006", body="Grazie!")
    fetched = client.messages(created.sid).fetch()
    listed = client.messages.list(to=GIULIA_DEBTOR)

    assert SID.match(created.sid)
    assert (fetched.sid, fetched.body, fetched.status) == (created.sid, "Grazie!", "queued")
    assert fetched.num_segments == "1"
    assert fetched.date_created is not None and fetched.date_created.tzinfo is not None
    assert [m.sid for m in listed] == [created.sid]
    with pytest.raises(TwilioRestException) as missing:
        client.messages("SM" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


def test_twilio_client_follows_settings_changes(fake_twilio, settings):
    first = twilio_client()
    assert twilio_client() is first  # built once

    settings.TWILIO_AUTH_TOKEN = "rotated-token"

    assert twilio_client() is not first


# --- errors ---------------------------------------------------------------------------------


def test_429_raises_rate_limited_and_the_next_call_succeeds(fake_twilio):
    fake_twilio.queue_reply(status=429, code=20429)

    with pytest.raises(TwilioRateLimited):
        send()
    sent = send()

    assert SID.match(sent.sid)
    assert [r.answer for r in fake_twilio.requests] == [429, 201]
    assert [m.sid for m in fake_twilio.messages] == [sent.sid]
    assert fake_twilio.sent_count(GIULIA_DEBTOR) == 1


def test_500_raises_server_error_and_sends_nothing(fake_twilio):
    fake_twilio.queue_reply(status=500)

    with pytest.raises(TwilioServerError):
        send()

    assert fake_twilio.messages == []


def test_dropped_connection_raises_server_error_quickly(fake_twilio):
    fake_twilio.queue_reply(timeout=True)

    started = time.monotonic()
    with pytest.raises(TwilioServerError) as error:
        send()
    elapsed = time.monotonic() - started

    assert elapsed < 5
    assert isinstance(error.value.__cause__, requests.ConnectionError)
    assert fake_twilio.messages == []
    assert [r.answer for r in fake_twilio.requests] == [None]


def test_no_answer_within_the_client_timeout_raises_server_error(fake_twilio, settings):
    settings.TWILIO_HTTP_TIMEOUT = 0.5
    fake_twilio.queue_reply(timeout=True, hold=3)

    started = time.monotonic()
    with pytest.raises(TwilioServerError) as error:
        send()
    elapsed = time.monotonic() - started

    assert 0.4 < elapsed < 2.5
    assert isinstance(error.value.__cause__, requests.Timeout)


def test_a_lost_answer_can_hide_an_accepted_message(fake_twilio):
    # Why the send path must store its intent first: Twilio may have accepted the message.
    fake_twilio.queue_reply(timeout=True, accept=True)

    with pytest.raises(TwilioServerError):
        send()

    assert len(fake_twilio.messages) == 1
    assert [m.to for m in twilio_client().messages.list(to=GIULIA_DEBTOR)] == [GIULIA_DEBTOR]


def test_unsubscribed_recipient_raises_rejected_21610(fake_twilio):
    fake_twilio.queue_reply(
        status=400, code=21610, message="Attempt to send to unsubscribed recipient"
    )

    with pytest.raises(TwilioRejected) as error:
        send()

    assert (error.value.code, error.value.status) == (21610, 400)
    assert error.value.message == "Attempt to send to unsubscribed recipient"
    assert fake_twilio.messages == []


def test_a_failing_number_fails_every_time_and_others_still_send(fake_twilio):
    fake_twilio.fail_number(LANDLINE, code=21614)

    for _ in range(2):
        with pytest.raises(TwilioRejected) as error:
            send(LANDLINE)
        assert error.value.code == 21614
    send(GIULIA_DEBTOR)

    assert fake_twilio.counts == {GIULIA_DEBTOR: 1}


def test_a_number_not_in_e164_is_rejected_21211(fake_twilio):
    with pytest.raises(TwilioRejected) as error:
        send("3331234567")

    assert error.value.code == 21211
    assert "3331234567" in error.value.message


def test_validity_period_out_of_range_is_rejected_21624(fake_twilio):
    with pytest.raises(TwilioRejected) as error:
        send(validity_period=36001)

    assert error.value.code == 21624


def test_a_wrong_auth_token_is_rejected_20003(fake_twilio, settings):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"

    with pytest.raises(TwilioRejected) as error:
        send()

    assert (error.value.code, error.value.status) == (20003, 401)
    assert fake_twilio.messages == []


def test_body_too_long_is_rejected_21617(fake_twilio):
    with pytest.raises(TwilioRejected) as error:
        send_message(to=GIULIA_DEBTOR, body="x" * 1601, status_callback=None, validity_period=None)

    assert error.value.code == 21617


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),  # 153 per concatenated segment
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("è" * 160, 1),  # Italian lowercase accents are GSM-7
        ("€" * 80, 1),  # extension characters cost two
        ("€" * 81, 2),
        ("á" * 70, 1),  # Spanish á is not GSM-7: UCS-2, 70 per segment
        ("á" * 71, 2),
        ("á" * 134, 2),  # 67 per concatenated segment
        ("á" * 135, 3),
    ],
)
def test_num_segments(body, segments):
    assert num_segments(body) == segments


# --- webhooks -------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    params: dict[str, str]
    signature: str | None


@dataclass
class Receiver:
    """A stand-in for the app's webhook views: 204 when the signature validates, else 403."""

    url: str
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver(fake_twilio) -> Iterator[Receiver]:
    state: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            params = dict(parse_qsl(self.rfile.read(length).decode()))
            signature = self.headers.get("X-Twilio-Signature")
            # The URL as the app would rebuild it (Django's build_absolute_uri).
            url = f"http://{self.headers['Host']}{self.path}"
            valid = request_validator().validate(url, params, signature or "")
            state.append(Received(self.path, params, signature))
            self.send_response(204 if valid else 403)
            self.end_headers()

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    fake_twilio.webhook_base = base
    try:
        yield Receiver(url=base, received=state)
    finally:
        server.shutdown()
        server.server_close()


def test_a_status_callback_is_signed_and_validates(fake_twilio, receiver):
    sent = send(status_callback=receiver.url + "/twilio/sms/status/?client=acme")

    status, _ = fake_twilio.send_status(sent.sid, "delivered")

    assert status == 204
    [callback] = receiver.received
    assert callback.path == "/twilio/sms/status/?client=acme"
    assert callback.params["MessageSid"] == sent.sid
    assert callback.params["MessageStatus"] == "delivered"
    assert callback.params["SmsStatus"] == "delivered"
    assert callback.params["To"] == GIULIA_DEBTOR
    assert callback.params["AccountSid"] == fake_twilio.account_sid
    assert "ErrorCode" not in callback.params
    assert fake_twilio.message(sent.sid).status == "delivered"


def test_forged_or_missing_signatures_are_rejected(fake_twilio, receiver):
    sent = send()

    assert fake_twilio.send_status(sent.sid, "sent", signature="forged")[0] == 403
    assert fake_twilio.send_status(sent.sid, "sent", signature=None)[0] == 403
    assert receiver.received[1].signature is None
    assert fake_twilio.send_status(sent.sid, "sent")[0] == 204


def test_a_failed_delivery_carries_the_error_code(fake_twilio, receiver):
    sent = send()

    fake_twilio.send_status(sent.sid, "undelivered", error_code=30003)

    [callback] = receiver.received
    assert callback.path == "/twilio/sms/status/"  # the Messaging Service's callback
    assert (callback.params["MessageStatus"], callback.params["ErrorCode"]) == (
        "undelivered",
        "30003",
    )


def test_a_replayed_webhook_is_identical(fake_twilio, receiver):
    fake_twilio.send_inbound(GIULIA_DEBTOR, "9")

    status, _ = fake_twilio.replay()

    assert status == 204
    first, second = receiver.received
    assert first.params == second.params
    assert first.signature == second.signature


def test_an_inbound_sms_reaches_the_inbound_url(fake_twilio, receiver):
    status, _ = fake_twilio.send_inbound(GIULIA_DEBTOR, "10")

    assert status == 204
    [inbound] = receiver.received
    assert inbound.path == "/twilio/sms/inbound/"
    assert inbound.params["From"] == GIULIA_DEBTOR
    assert inbound.params["To"] == "+15005550006"
    assert inbound.params["Body"] == "10"
    assert inbound.params["NumMedia"] == "0"
    assert SID.match(inbound.params["MessageSid"])
    assert inbound.params["SmsMessageSid"] == inbound.params["MessageSid"]


def test_stop_blocks_later_sends_with_21610_until_start(fake_twilio, receiver):
    fake_twilio.send_inbound(GIULIA_DEBTOR, " stop ")

    with pytest.raises(TwilioRejected) as error:
        send()
    assert error.value.code == 21610

    fake_twilio.send_inbound(GIULIA_DEBTOR, "START")
    assert SID.match(send().sid)


def test_deliver_all_sends_sent_then_delivered(fake_twilio, receiver):
    first, second = send(GIULIA_DEBTOR), send("+34612345678")

    answers = fake_twilio.deliver_all()

    assert [status for status, _ in answers] == [204] * 4
    assert [(r.params["MessageSid"], r.params["MessageStatus"]) for r in receiver.received] == [
        (first.sid, "sent"),
        (first.sid, "delivered"),
        (second.sid, "sent"),
        (second.sid, "delivered"),
    ]
    assert twilio_client().messages(first.sid).fetch().status == "delivered"


def test_command_line_server_for_local_development():
    process = subprocess.Popen(
        [sys.executable, "-m", "surveys.fake_twilio", "--port", "0", "--auth-token", "dev"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        url = re.search(r"listening on (http://\S+)", line)
        assert url, line
        response = requests.get(url.group(1) + "/_fake/messages", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"messages": []}
    finally:
        process.terminate()
        process.wait(timeout=5)
