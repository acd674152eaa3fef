"""A small fake of Twilio's Messages API and webhooks, for tests and local development.

The real ``twilio`` SDK talks to it over HTTP (``TWILIO_API_BASE_URL``), so requests are built,
authenticated and parsed exactly as in production; the fake answers with Twilio-shaped JSON and
Twilio's error bodies, and calls the app back with webhooks signed by the real
``RequestValidator``. It uses only the standard library (plus the SDK's validator) and knows
nothing of Django.

Programmatic use::

    with FakeTwilio(account_sid=sid, auth_token=token, webhook_base=app_url) as fake:
        fake.queue_reply(status=429, code=20429)   # the next API request gets this answer
        fake.fail_number("+390612345678", code=21614)
        ...
        fake.send_status(fake.messages[0].sid, "delivered")
        fake.send_inbound("+393331234567", "STOP")

Local development::

    python -m surveys.fake_twilio --port 8765 --auth-token X --webhook-base http://127.0.0.1:8000

then run the app with SMS_BACKEND=twilio and TWILIO_API_BASE_URL=http://127.0.0.1:8765, and drive
it with ``curl -d From=+393331234567 -d Body=STOP http://127.0.0.1:8765/_fake/inbound``
(also ``/_fake/status`` with MessageSid and MessageStatus, ``/_fake/deliver``, and
``GET /_fake/messages``).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import math
import operator
import os
import re
import secrets
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
DEFAULT_PHONE_NUMBER = "+15005550006"
INBOUND_PATH = "/twilio/sms/inbound/"
STATUS_PATH = "/twilio/sms/status/"
MAX_BODY_CHARS = 1600
MAX_VALIDITY_PERIOD = 36000
WEBHOOK_TIMEOUT = 10.0

# Twilio's own keyword handling (English only, single keyword): it blocks later sends to the
# number with 21610 and still forwards the message to the inbound webhook.
TWILIO_OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
TWILIO_OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})

ERROR_MESSAGES: dict[int, str] = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21624: "Invalid validity period value",
}
DEFAULT_CODE_FOR_STATUS: dict[int, int] = {
    401: 20003,
    404: 20404,
    429: 20429,
    500: 20500,
    503: 20503,
}

# The statuses in which a message has left Twilio for the carrier (it then has a date_sent).
SENT_STATUSES = frozenset({"sent", "delivered", "undelivered", "failed", "read"})
# Twilio's list API: 50 a page by default, at most 1000; the filters the SDK sends.
MAX_PAGE_SIZE = 1000
LIST_FILTERS = frozenset({"To", "From", "DateSent", "DateSent>", "DateSent<"})

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)

# GSM 03.38: the basic set costs one septet, the extension set two (escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


def num_segments(body: str) -> int:
    """How many SMS segments Twilio bills for this body (GSM-7 160/153, UCS-2 70/67)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def error_body(status: int, code: int | None, message: str | None = None) -> dict[str, Any]:
    """Twilio's JSON error body, e.g. {"code": 21610, "message": ..., "more_info": ..., ...}."""
    code = code if code is not None else DEFAULT_CODE_FOR_STATUS.get(status)
    text = message or ERROR_MESSAGES.get(code or 0, "Error")
    more_info = f"https://www.twilio.com/docs/errors/{code}" if code else None
    return {"code": code, "message": text, "more_info": more_info, "status": status}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScriptedReply:
    """What the next API request gets instead of the normal answer."""

    status: int = 500
    code: int | None = None
    message: str | None = None
    timeout: bool = False
    hold: float | None = None
    accept: bool = False
    method: str | None = None  # only a request with this method takes it; None: any


@dataclass(frozen=True)
class NumberRule:
    status: int
    code: int
    message: str | None


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    at: datetime
    answer: int | None = None  # HTTP status sent back; None while pending or when dropped


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    messaging_service_sid: str | None
    status_callback: str | None
    validity_period: int | None
    status: str
    params: dict[str, str]
    date_created: datetime = field(default_factory=_now)
    date_updated: datetime = field(default_factory=_now)
    # Twilio fills date_sent only once the message leaves for the carrier: an accepted or
    # queued message has none (and so escapes any DateSent filter).
    date_sent: datetime | None = None
    error_code: int | None = None

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": format_datetime(self.date_created),
            "date_sent": format_datetime(self.date_sent) if self.date_sent else None,
            "date_updated": format_datetime(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(num_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }


@dataclass(frozen=True)
class Webhook:
    """One webhook the fake sent to the app, and the app's answer."""

    url: str
    params: dict[str, str]
    signature: str | None
    status_code: int
    body: str


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: dict[str, Any] | None
    drop_after: float | None = None  # hold the connection this long, then close it unanswered


class FakeTwilio:
    """Twilio's Messages API on 127.0.0.1, started in a daemon thread."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        webhook_base: str | None = None,
        phone_number: str = DEFAULT_PHONE_NUMBER,
        timeout_hold: float = 0.05,
        auto_deliver: float | None = None,
        auto_opt_out: bool = True,
        create_delay: float = 0.0,
        clock_offset: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.webhook_base = webhook_base.rstrip("/") if webhook_base else None
        self.phone_number = phone_number
        # How long a scripted timeout keeps the connection open before closing it unanswered:
        # shorter than the client's timeout gives a connection error, longer a read timeout.
        self.timeout_hold = timeout_hold
        self.auto_deliver = auto_deliver
        self.auto_opt_out = auto_opt_out
        # Seconds each accepted create waits, after the message exists, before answering: the
        # window in which a client that dies has had its message sent without learning its sid.
        self.create_delay = create_delay
        # Seconds between Twilio's clock and ours (negative: Twilio's runs behind), as seen in
        # the timestamps of the messages it creates.
        self.clock_offset = clock_offset
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._replies: deque[ScriptedReply] = deque()
        self._rules: dict[str, NumberRule] = {}
        self._requests: list[RecordedRequest] = []
        self._messages: dict[str, FakeMessage] = {}
        self._by_to: dict[str, list[FakeMessage]] = {}
        self._accepted: Counter[str] = Counter()
        self._opted_out: set[str] = set()
        self._webhooks: list[Webhook] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._validator = RequestValidator(auth_token)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self._host, self._port), _Handler, fake=self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # releases connections held by scripted timeouts
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # --- scripting ----------------------------------------------------------------------------

    def queue_reply(
        self,
        *,
        status: int = 500,
        code: int | None = None,
        message: str | None = None,
        timeout: bool = False,
        hold: float | None = None,
        accept: bool = False,
        method: str | None = None,
    ) -> None:
        """Answer the next API request with an error, or (timeout=True) not at all.

        With timeout=True and accept=True the message is created and only the answer is
        lost, as when Twilio accepts a message but the response never reaches the client.
        method="POST" keeps the reply for the next create, whatever lists or fetches come
        first (several clients at once).
        """
        if not timeout and status < 400:
            raise ValueError("a scripted reply is an error status or a timeout")
        if accept and not timeout:
            raise ValueError("accept=True only makes sense with timeout=True")
        reply = ScriptedReply(status, code, message, timeout, hold, accept, method)
        with self._lock:
            self._replies.append(reply)

    def fail_number(
        self, number: str, *, code: int, status: int = 400, message: str | None = None
    ) -> None:
        """Every send to this number fails with this Twilio error until cleared."""
        with self._lock:
            self._rules[number] = NumberRule(status, code, message)

    def clear_number(self, number: str) -> None:
        with self._lock:
            self._rules.pop(number, None)
            self._opted_out.discard(number)

    def opt_out(self, number: str) -> None:
        """As if the number had texted STOP: later sends to it fail with 21610."""
        with self._lock:
            self._opted_out.add(number)

    # --- what it saw --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[FakeMessage]:
        """Accepted messages, oldest first."""
        with self._lock:
            return list(self._messages.values())

    def message(self, sid: str) -> FakeMessage:
        with self._lock:
            return self._messages[sid]

    def sent_count(self, to: str) -> int:
        with self._lock:
            return self._accepted[to]

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._accepted)

    @property
    def webhooks(self) -> list[Webhook]:
        with self._lock:
            return list(self._webhooks)

    # --- webhooks to the app ------------------------------------------------------------------

    def send_status(
        self,
        message_sid: str,
        status: str,
        *,
        error_code: int | None = None,
        url: str | None = None,
        signature: str | None = "valid",
    ) -> tuple[int, str]:
        """POST a status callback for a message, signed like Twilio; return the app's answer.

        Without a StatusCallback on the message (and no url), the callback goes to
        webhook_base + /twilio/sms/status/, as a Messaging Service configured with that
        callback would do. signature: "valid", "forged", None (no header) or a literal value.
        """
        with self._lock:
            message = self._messages.get(message_sid)
            if message is not None:
                message.status = status
                message.date_updated = _now()
                message.error_code = error_code
                if status in SENT_STATUSES and message.date_sent is None:
                    message.date_sent = message.date_updated
        target = url or (message.status_callback if message else None) or self._url(STATUS_PATH)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": message_sid,
            "MessageStatus": status,
            "SmsSid": message_sid,
            "SmsStatus": status,
        }
        if message is not None:
            params["To"] = message.to
            params["From"] = message.from_ or self.phone_number
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self._post(target, params, signature)

    def send_inbound(
        self,
        from_: str,
        body: str,
        *,
        to: str | None = None,
        url: str | None = None,
        signature: str | None = "valid",
    ) -> tuple[int, str]:
        """POST an inbound SMS to the app's inbound webhook; return the app's answer."""
        keyword = body.strip().upper()
        if self.auto_opt_out and keyword in TWILIO_OPT_OUT_KEYWORDS:
            self.opt_out(from_)
        elif self.auto_opt_out and keyword in TWILIO_OPT_IN_KEYWORDS:
            with self._lock:
                self._opted_out.discard(from_)
        sid = new_sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(num_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to or self.phone_number,
        }
        return self._post(url or self._url(INBOUND_PATH), params, signature)

    def replay(
        self, webhook: Webhook | None = None, *, signature: str | None = "valid"
    ) -> tuple[int, str]:
        """Send a webhook again, same URL and parameters (so the same MessageSid)."""
        with self._lock:
            if webhook is None:
                if not self._webhooks:
                    raise LookupError("no webhook sent yet")
                webhook = self._webhooks[-1]
        return self._post(webhook.url, dict(webhook.params), signature)

    def deliver_all(self) -> list[tuple[int, str]]:
        """Send "sent" then "delivered" for every accepted message not yet delivered."""
        answers: list[tuple[int, str]] = []
        for message in self.messages:
            if message.status in {"delivered", "undelivered", "failed"}:
                continue
            answers.append(self.send_status(message.sid, "sent"))
            answers.append(self.send_status(message.sid, "delivered"))
        return answers

    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(self._validator.compute_signature(url, params))

    def _url(self, path: str) -> str:
        if not self.webhook_base:
            raise ValueError("no webhook URL: pass url= or configure webhook_base")
        return self.webhook_base + path

    def _post(self, url: str, params: dict[str, str], signature: str | None) -> tuple[int, str]:
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        if signature == "valid":
            signature = self.sign(url, params)
        elif signature == "forged":
            signature = str(
                RequestValidator("forged-" + self.auth_token).compute_signature(url, params)
            )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
        }
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url, data=urlencode(params).encode(), headers=headers, method="POST"
        )
        try:
            with _OPENER.open(request, timeout=WEBHOOK_TIMEOUT) as response:
                status, text = int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = int(exc.code), exc.read().decode("utf-8", "replace")
        with self._lock:
            self._webhooks.append(Webhook(url, params, signature, status, text))
        return status, text

    # --- the API ------------------------------------------------------------------------------

    def _handle(
        self, *, method: str, path: str, authorization: str | None, params: dict[str, str]
    ) -> _Answer:
        record = RecordedRequest(method=method, path=path, params=params, at=_now())
        with self._lock:
            self._requests.append(record)
            reply = next((r for r in self._replies if r.method in (None, method)), None)
            if reply is not None:
                self._replies.remove(reply)
        answer = self._answer(method, path, authorization, params, reply)
        with self._lock:
            record.answer = None if answer.drop_after is not None else answer.status
        return answer

    def _answer(
        self,
        method: str,
        path: str,
        authorization: str | None,
        params: dict[str, str],
        reply: ScriptedReply | None,
    ) -> _Answer:
        if reply is not None and not reply.accept:
            if reply.timeout:
                return _Answer(0, None, drop_after=self._hold(reply))
            return _error(reply.status, reply.code, reply.message)
        many, one = MESSAGES_PATH.match(path), MESSAGE_PATH.match(path)
        matched = many or one
        account = matched.group("account") if matched else ""
        if matched and not self._authorized(authorization, account):
            return _error(401, 20003)
        if many and method == "POST":
            answer = self._create(account, params)
        elif many and method == "GET":
            answer = self._list(account, params)
        elif one and method == "GET":
            answer = self._fetch(path, one.group("sid"))
        else:
            answer = _error(404, 20404, f"The requested resource {path} was not found")
        if reply is not None:  # a timeout that still created the message
            return _Answer(0, None, drop_after=self._hold(reply))
        return answer

    def _hold(self, reply: ScriptedReply) -> float:
        return reply.hold if reply.hold is not None else self.timeout_hold

    def _authorized(self, authorization: str | None, account: str) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except ValueError:
            return False
        expected = f"{self.account_sid}:{self.auth_token}"
        return hmac.compare_digest(decoded, expected) and account == self.account_sid

    def _create(self, account: str, params: dict[str, str]) -> _Answer:
        to = params.get("To", "")
        body = params.get("Body", "")
        from_ = params.get("From") or None
        service = params.get("MessagingServiceSid") or None
        validity = params.get("ValidityPeriod")
        if not to:
            return _error(400, 21604)
        if not body and not params.get("MediaUrl") and not params.get("ContentSid"):
            return _error(400, 21602)
        if not from_ and not service:
            return _error(400, 21603)
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if validity is not None and not (
            validity.isdigit() and 1 <= int(validity) <= MAX_VALIDITY_PERIOD
        ):
            return _error(400, 21624)
        if len(body) > MAX_BODY_CHARS:
            return _error(400, 21617)
        with self._lock:
            if to in self._opted_out:
                return _error(400, 21610)
            rule = self._rules.get(to)
            if rule is not None:
                return _error(rule.status, rule.code, rule.message)
            created = _now() + timedelta(seconds=self.clock_offset)
            message = FakeMessage(
                sid=new_sid("SM"),
                date_created=created,
                date_updated=created,
                account_sid=account,
                to=to,
                from_=from_,
                body=body,
                messaging_service_sid=service,
                status_callback=params.get("StatusCallback") or None,
                validity_period=int(validity) if validity is not None else None,
                # A Messaging Service first "accepts" the message, then picks a sender.
                status="accepted" if service else "queued",
                params=params,
            )
            self._messages[message.sid] = message
            self._by_to.setdefault(to, []).append(message)
            self._accepted[to] += 1
        if self.auto_deliver is not None:
            timer = threading.Timer(self.auto_deliver, self._auto_deliver, args=(message.sid,))
            timer.daemon = True
            timer.start()
        if self.create_delay > 0:
            self._stopping.wait(self.create_delay)
        return _Answer(201, message.to_json())

    def _auto_deliver(self, sid: str) -> None:
        for status in ("sent", "delivered"):
            try:
                self.send_status(sid, status)
            except (OSError, ValueError) as exc:
                logger.warning(
                    "fake Twilio could not deliver %s callback for %s: %s", status, sid, exc
                )
                return

    def _fetch(self, path: str, sid: str) -> _Answer:
        with self._lock:
            message = self._messages.get(sid)
            payload = message.to_json() if message else None
        if payload is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        return _Answer(200, payload)

    def _list(self, account: str, params: dict[str, str]) -> _Answer:
        """Twilio's Messages list: newest first, filtered by To, From and the DateSent
        inequalities the SDK sends (whole days in GMT, on date_sent, which a message still
        queued does not have), paged with PageSize and Page."""
        filters = {k: v for k, v in params.items() if k in LIST_FILTERS}
        try:
            days = {k: _day(v) for k, v in filters.items() if k.startswith("DateSent")}
            size = min(MAX_PAGE_SIZE, max(1, int(params.get("PageSize", "50"))))
            page = max(0, int(params.get("Page", "0")))
        except ValueError as exc:
            return _error(400, 20001, str(exc))
        to, from_ = params.get("To"), params.get("From")
        with self._lock:
            pool = self._by_to.get(to, []) if to is not None else list(self._messages.values())
            found = [
                m.to_json()
                for m in reversed(pool)  # Twilio lists newest first
                if (from_ is None or m.from_ == from_) and _sent_on(m, days)
            ]
        start = page * size
        chunk = found[start : start + size]
        uri = f"/{API_VERSION}/Accounts/{account}/Messages.json"

        def page_uri(number: int) -> str:
            return f"{uri}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

        more = start + size < len(found)
        return _Answer(
            200,
            {
                "messages": chunk,
                "end": start + max(0, len(chunk) - 1),
                "first_page_uri": page_uri(0),
                "next_page_uri": f"{page_uri(page + 1)}&PageToken=PA{page + 1}" if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            },
        )

    # --- control endpoints for local development -------------------------------------------

    def _control(self, method: str, path: str, params: dict[str, str]) -> _Answer:
        if method == "GET" and path == "/_fake/messages":
            return _Answer(200, {"messages": [m.to_json() for m in self.messages]})
        if method != "POST":
            return _error(404, 20404)
        if path == "/_fake/inbound":
            status, text = self.send_inbound(
                params["From"], params.get("Body", ""), to=params.get("To")
            )
        elif path == "/_fake/status":
            code = params.get("ErrorCode")
            status, text = self.send_status(
                params["MessageSid"],
                params["MessageStatus"],
                error_code=int(code) if code else None,
            )
        elif path == "/_fake/deliver":
            answers = self.deliver_all()
            return _Answer(200, {"answers": [{"status": s, "body": b} for s, b in answers]})
        else:
            return _error(404, 20404)
        return _Answer(200, {"status": status, "body": text})


def _day(value: str) -> date:
    """The GMT day of a DateSent filter: Twilio reads only the date, whatever time follows."""
    return date.fromisoformat(value[:10])


def _sent_on(message: FakeMessage, days: dict[str, date]) -> bool:
    """Whether the message passes the DateSent filters (none given: every message does)."""
    sent = message.date_sent.date() if message.date_sent else None
    return not days or (
        sent is not None and all(_DAY_TESTS[key](sent, day) for key, day in days.items())
    )


_DAY_TESTS: dict[str, Callable[[date, date], bool]] = {
    "DateSent": operator.eq,
    "DateSent>": operator.ge,
    "DateSent<": operator.le,
}


def _error(status: int, code: int | None, message: str | None = None) -> _Answer:
    return _Answer(status, error_body(status, code, message))


# Webhooks go straight to the app, never through a proxy named in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, fake: FakeTwilio
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request (a killed worker, a client timeout) is part of
        # what the fake is for, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("fake Twilio: client %s went away", client_address)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeTwilio/1.0"
    # HTTP/1.0: one request per connection, so a dropped "timeout" never poisons a pooled one.
    protocol_version = "HTTP/1.0"
    # The headers and the body go out in two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (tens of milliseconds a request).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params.update(parse_qsl(raw, keep_blank_values=True))
        try:
            if parts.path.startswith("/_fake/"):
                answer = fake._control(method, parts.path, params)
            else:
                answer = fake._handle(
                    method=method,
                    path=parts.path,
                    authorization=self.headers.get("Authorization"),
                    params=params,
                )
        except (KeyError, ValueError, OSError) as exc:
            logger.warning("fake Twilio failed on %s %s: %s", method, parts.path, exc)
            answer = _error(500, 20500, str(exc))
        if answer.drop_after is not None:
            fake._stopping.wait(answer.drop_after)
            self.close_connection = True
            return  # closing the socket without a status line: the client sees a dead server
        data = json.dumps(answer.payload).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake Twilio: " + format, *args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local fake of Twilio's Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32
    )
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN") or "")
    parser.add_argument("--webhook-base", default="http://127.0.0.1:8000")
    parser.add_argument("--phone-number", default=DEFAULT_PHONE_NUMBER)
    parser.add_argument(
        "--auto-deliver",
        type=float,
        default=None,
        metavar="SECONDS",
        help="send 'sent' then 'delivered' callbacks this long after each accepted message",
    )
    args = parser.parse_args(argv)
    if not args.auth_token:
        parser.error("--auth-token (or TWILIO_AUTH_TOKEN) is required")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    fake = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        webhook_base=args.webhook_base,
        phone_number=args.phone_number,
        auto_deliver=args.auto_deliver,
        host=args.host,
        port=args.port,
    )
    fake.start()
    logger.info("fake Twilio for %s listening on %s", args.account_sid, fake.url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        logger.info("stopping")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
