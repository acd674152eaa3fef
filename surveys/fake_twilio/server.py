"""The fake Twilio's HTTP side: `FakeTwilio` starts a threaded HTTP server on 127.0.0.1 and
answers the Messages API as Twilio does (authentication, validation with Twilio's error codes,
create, fetch and the paged, date-filtered list, or the scripted reply waiting in the queue),
serves the /_fake/ control endpoints for local development, and `main` runs it from the command
line.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import operator
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from surveys.fake_twilio.resources import (
    API_VERSION,
    FakeMessage,
    RecordedRequest,
    ScriptedReply,
    error_body,
    new_sid,
    utc_now,
)
from surveys.fake_twilio.scripting import DEFAULT_PHONE_NUMBER
from surveys.fake_twilio.webhooks import WebhookSender

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 1600
MAX_VALIDITY_PERIOD = 36000

# Twilio's list API: 50 a page by default, at most 1000; the filters the SDK sends.
MAX_PAGE_SIZE = 1000
LIST_FILTERS = frozenset({"To", "From", "DateSent", "DateSent>", "DateSent<"})

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$"
)


@dataclass(frozen=True)
class _Answer:
    status: int
    payload: dict[str, Any] | None
    drop_after: float | None = None  # hold the connection this long, then close it unanswered


class FakeTwilio(WebhookSender):
    """Twilio's Messages API on 127.0.0.1, started in a daemon thread."""

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

    # --- the API ------------------------------------------------------------------------------

    def _handle(
        self, *, method: str, path: str, authorization: str | None, params: dict[str, str]
    ) -> _Answer:
        record = RecordedRequest(method=method, path=path, params=params, at=utc_now())
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
            created = utc_now() + timedelta(seconds=self.clock_offset)
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
