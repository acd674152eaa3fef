from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from surveys.fake_twilio import FakeTwilio
from surveys.twilio import reset_clients


@pytest.fixture
def fake_twilio(settings: Settings) -> Iterator[FakeTwilio]:
    """A local Twilio the real SDK talks to, with the product's settings pointed at it.

    Webhooks go to settings.PUBLIC_BASE_URL unless a test sets ``fake_twilio.webhook_base``
    (for example to ``live_server.url``) or passes ``url=``.
    """
    server = FakeTwilio(
        account_sid="AC" + secrets.token_hex(16),
        auth_token=secrets.token_hex(16),
        webhook_base=settings.PUBLIC_BASE_URL,
        phone_number="+15005550006",
    )
    server.start()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = server.account_sid
    settings.TWILIO_AUTH_TOKEN = server.auth_token
    settings.TWILIO_API_BASE_URL = server.url
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + secrets.token_hex(16)
    settings.TWILIO_FROM_NUMBER = server.phone_number
    reset_clients()
    try:
        yield server
    finally:
        server.stop()
        reset_clients()


@pytest.fixture
def shipped_sms_data(settings: Settings) -> None:
    """The shipped templates, dispositions and survey as a fresh install has them, and no
    throttle between sends (tests send hundreds in a second)."""
    from django.apps import apps

    from surveys.seed import seed_apply

    seed_apply(apps)
    settings.SMS_RATE_PER_SECOND = 1000
