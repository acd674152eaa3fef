"""The one place the product builds Twilio objects.

Clients are built lazily from settings and cached per settings values, so a test (or a
deployment that rotates a token) that changes settings gets a fresh client without a restart.
When ``TWILIO_API_BASE_URL`` is set, every REST call of the real SDK goes to that base URL
instead of https://api.twilio.com: this is how tests and local development talk to
``surveys.fake_twilio`` while still exercising the SDK's request building and error parsing.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

logger = logging.getLogger(__name__)
# The SDK logs every request at INFO: its URL (a list call's carries the debtor's number in the
# query) and headers. Logs leave the machine, so the SDK gets a logger of ours that keeps only
# warnings; LOGGING can lower it again to debug a deployment.
sdk_logger = logging.getLogger("surveys.twilio.sdk")
sdk_logger.setLevel(logging.WARNING)

# Twilio answers a REST call in well under a second; ten seconds bounds a stuck connection
# without giving up on a slow but healthy one. TWILIO_HTTP_TIMEOUT overrides it.
DEFAULT_HTTP_TIMEOUT = 10.0
RATE_LIMIT_CODE = 20429
# How many of a number's most recent messages `find_message` reads. One debtor gets a handful
# of texts a month (one survey per 30 days, at most one reminder and one confirmation), so the
# message looked for is always among the newest few.
FIND_LIMIT = 200


class TwilioError(Exception):
    """A send that Twilio did not accept."""


class TwilioRateLimited(TwilioError):
    """HTTP 429 / code 20429: back off and try again."""


class TwilioServerError(TwilioError):
    """A 5xx, a timeout or a broken connection: transient, safe to retry later.

    After a timeout Twilio may still have accepted the message; callers that must not send
    twice store their intent before calling and ask `find_message` before sending again.
    """


class TwilioRejected(TwilioError):
    """A 4xx with a Twilio error code (21610 opted out, 21211 invalid number, ...)."""

    def __init__(self, code: int, message: str, *, status: int = 400) -> None:
        super().__init__(f"Twilio error {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending every request to another scheme and host.

    Only the URL changes: timeouts, retries, auth and body encoding stay the SDK's.
    """

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=sdk_logger)
        parts = urlsplit(base_url)
        if not parts.scheme or not parts.netloc:
            raise ImproperlyConfigured(f"TWILIO_API_BASE_URL is not a URL: {base_url!r}")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, self.rewrite(url), *args, **kwargs)


@functools.lru_cache(maxsize=4)
def _build_client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Client:
    http_client = (
        BaseUrlHttpClient(base_url=base_url, timeout=timeout)
        if base_url
        else TwilioHttpClient(timeout=timeout, logger=sdk_logger)
    )
    # The SDK still honours TWILIO_EDGE / TWILIO_REGION from the environment (its documented
    # way to pick a region); with a base URL the host is replaced anyway.
    return Client(account_sid, auth_token, http_client=http_client)


def twilio_client() -> Client:
    account_sid: str = settings.TWILIO_ACCOUNT_SID
    auth_token: str = settings.TWILIO_AUTH_TOKEN
    if not account_sid or not auth_token:
        raise ImproperlyConfigured("Twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.")
    timeout = float(getattr(settings, "TWILIO_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT))
    return _build_client(account_sid, auth_token, settings.TWILIO_API_BASE_URL, timeout)


@functools.lru_cache(maxsize=4)
def _build_validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def request_validator() -> RequestValidator:
    auth_token: str = settings.TWILIO_AUTH_TOKEN
    if not auth_token:
        # RequestValidator would happily sign with an empty key; refuse instead, so an
        # unconfigured deployment cannot accept webhooks signed by anyone.
        raise ImproperlyConfigured("Validating Twilio webhooks needs TWILIO_AUTH_TOKEN.")
    return _build_validator(auth_token)


def reset_clients() -> None:
    """Forget cached clients (the cache is keyed on settings, so this is only tidiness)."""
    _build_client.cache_clear()
    _build_validator.cache_clear()


def send_message(
    *, to: str, body: str, status_callback: str | None, validity_period: int | None
) -> SentMessage:
    """Ask Twilio to send one SMS; raise a TwilioError subclass when it does not accept it."""
    sender: dict[str, str] = (
        {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        if settings.TWILIO_MESSAGING_SERVICE_SID
        else {"from_": settings.TWILIO_FROM_NUMBER}
    )
    optional: dict[str, Any] = {}
    if status_callback:
        optional["status_callback"] = status_callback
    if validity_period is not None:
        optional["validity_period"] = validity_period
    try:
        message = twilio_client().messages.create(to=to, body=body, **sender, **optional)
    except (TwilioRestException, TwilioServiceException) as exc:
        raise _classify(status=int(exc.status), code=exc.code, message=_error_text(exc)) from exc
    except requests.RequestException as exc:
        # Connection refused, reset, or no answer within the timeout.
        logger.warning("Twilio unreachable sending to %s: %s", _masked(to), exc)
        raise TwilioServerError(str(exc)) from exc
    return SentMessage(sid=str(message.sid), status=str(message.status))


def find_message(*, to: str, body: str, since: dt.datetime) -> SentMessage | None:
    """Twilio's record of a message to `to` with exactly this body, created at or after `since`
    (the newest such message), or None when Twilio holds none.

    After a timeout or a 5xx this is how a sender learns whether Twilio accepted the message
    after all. It lists by recipient only: Twilio's date filters are on `date_sent`, whole
    days, and a message still queued at Twilio has no `date_sent` yet, so a date filter could
    hide exactly the message looked for. `date_created` is compared here instead; Twilio gives
    it to the second, so `since` is floored to the second. Raises TwilioServerError when
    Twilio cannot be asked.
    """
    floor = since.astimezone(dt.UTC).replace(microsecond=0)
    try:
        listed = twilio_client().messages.list(to=to, limit=FIND_LIMIT, page_size=FIND_LIMIT)
    except (TwilioRestException, TwilioServiceException) as exc:
        raise _classify(status=int(exc.status), code=exc.code, message=_error_text(exc)) from exc
    except requests.RequestException as exc:
        logger.warning("Twilio unreachable listing messages to %s: %s", _masked(to), exc)
        raise TwilioServerError(str(exc)) from exc
    for message in listed:  # newest first
        created = message.date_created
        if message.body == body and isinstance(created, dt.datetime) and created >= floor:
            return SentMessage(sid=str(message.sid), status=str(message.status))
    return None


def _classify(*, status: int, code: int | None, message: str) -> TwilioError:
    if status == 429 or code == RATE_LIMIT_CODE:
        return TwilioRateLimited(message)
    if status >= 500:
        return TwilioServerError(message)
    return TwilioRejected(code if code is not None else status, message, status=status)


def _error_text(exc: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(exc, TwilioServiceException):
        return str(exc.detail or exc.title)
    # The SDK prefixes the body's message with "Unable to create record: ".
    return str(exc.msg).split(": ", 1)[-1]


def _masked(number: str) -> str:
    # Logs leave the machine; keep only enough of the number to tell messages apart.
    return number[:4] + "..." + number[-2:] if len(number) > 6 else "..."
