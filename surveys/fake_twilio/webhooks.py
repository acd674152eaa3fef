"""The fake Twilio's outbound side: `WebhookSender` posts status callbacks and inbound SMS to
the app, signed with the SDK's `RequestValidator` (or forged, or unsigned), records each webhook
and the app's answer, and mirrors Twilio's own STOP/START keyword handling.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

from surveys.fake_twilio.resources import API_VERSION, Webhook, new_sid, num_segments, utc_now
from surveys.fake_twilio.scripting import ScriptedTwilio

logger = logging.getLogger(__name__)

INBOUND_PATH = "/twilio/sms/inbound/"
STATUS_PATH = "/twilio/sms/status/"
WEBHOOK_TIMEOUT = 10.0

# Twilio's own keyword handling (English only, single keyword): it blocks later sends to the
# number with 21610 and still forwards the message to the inbound webhook.
TWILIO_OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
TWILIO_OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})

# The statuses in which a message has left Twilio for the carrier (it then has a date_sent).
SENT_STATUSES = frozenset({"sent", "delivered", "undelivered", "failed", "read"})

# Webhooks go straight to the app, never through a proxy named in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebhookSender(ScriptedTwilio):
    """Webhooks from the fake to the app, signed like Twilio's."""

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
                message.date_updated = utc_now()
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

    def _auto_deliver(self, sid: str) -> None:
        for status in ("sent", "delivered"):
            try:
                self.send_status(sid, status)
            except (OSError, ValueError) as exc:
                logger.warning(
                    "fake Twilio could not deliver %s callback for %s: %s", status, sid, exc
                )
                return
