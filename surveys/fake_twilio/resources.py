"""The Twilio-shaped data of the fake Twilio: the API version, Twilio's error codes and JSON
error bodies, SMS segment counting (GSM-7 and UCS-2), sids, and the records the fake keeps
(the scripted replies and per-number failures it was told to give, the API requests it received,
the messages it accepted and the webhooks it sent).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

API_VERSION = "2010-04-01"

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


def utc_now() -> datetime:
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
    date_created: datetime = field(default_factory=utc_now)
    date_updated: datetime = field(default_factory=utc_now)
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
