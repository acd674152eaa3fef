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

The package: ``resources`` (Twilio-shaped data and the records kept), ``scripting`` (the state and
the scripted failures), ``webhooks`` (the signed callbacks to the app) and ``server`` (the HTTP
API and the command line).
"""

from surveys.fake_twilio.resources import (
    API_VERSION,
    DEFAULT_CODE_FOR_STATUS,
    ERROR_MESSAGES,
    GSM7_BASIC,
    GSM7_EXTENSION,
    FakeMessage,
    NumberRule,
    RecordedRequest,
    ScriptedReply,
    Webhook,
    error_body,
    new_sid,
    num_segments,
)
from surveys.fake_twilio.scripting import DEFAULT_PHONE_NUMBER, ScriptedTwilio
from surveys.fake_twilio.server import (
    E164,
    LIST_FILTERS,
    MAX_BODY_CHARS,
    MAX_PAGE_SIZE,
    MAX_VALIDITY_PERIOD,
    MESSAGE_PATH,
    MESSAGES_PATH,
    FakeTwilio,
    main,
)
from surveys.fake_twilio.webhooks import (
    INBOUND_PATH,
    SENT_STATUSES,
    STATUS_PATH,
    TWILIO_OPT_IN_KEYWORDS,
    TWILIO_OPT_OUT_KEYWORDS,
    WEBHOOK_TIMEOUT,
    WebhookSender,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_CODE_FOR_STATUS",
    "DEFAULT_PHONE_NUMBER",
    "E164",
    "ERROR_MESSAGES",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "INBOUND_PATH",
    "LIST_FILTERS",
    "MAX_BODY_CHARS",
    "MAX_PAGE_SIZE",
    "MAX_VALIDITY_PERIOD",
    "MESSAGES_PATH",
    "MESSAGE_PATH",
    "SENT_STATUSES",
    "STATUS_PATH",
    "TWILIO_OPT_IN_KEYWORDS",
    "TWILIO_OPT_OUT_KEYWORDS",
    "WEBHOOK_TIMEOUT",
    "FakeMessage",
    "FakeTwilio",
    "NumberRule",
    "RecordedRequest",
    "ScriptedReply",
    "ScriptedTwilio",
    "Webhook",
    "WebhookSender",
    "error_body",
    "main",
    "new_sid",
    "num_segments",
]
