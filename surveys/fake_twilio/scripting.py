"""The state of the fake Twilio and how a test scripts it: `ScriptedTwilio` holds the
failure queue (`queue_reply`: the next API request gets an error or no answer), the per-number
failures and opt-outs, and the record of what the fake saw (requests, accepted messages,
webhooks). The webhook sender and the HTTP server build on it.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import TYPE_CHECKING

from twilio.request_validator import RequestValidator

from surveys.fake_twilio.resources import (
    FakeMessage,
    NumberRule,
    RecordedRequest,
    ScriptedReply,
    Webhook,
)

if TYPE_CHECKING:
    from surveys.fake_twilio.server import _Server

DEFAULT_PHONE_NUMBER = "+15005550006"


class ScriptedTwilio:
    """The fake's state: configuration, scripted answers and what it received."""

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
