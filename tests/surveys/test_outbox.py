"""The development outbox: what the outbox backend "sent", on a staff page with working links
and from `manage.py sms_outbox`."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from collections_link.models import Role
from surveys.channels.sms import survey_link
from surveys.dispatch import invitations_dispatch
from surveys.models import Invitation, SmsKind, SmsMessage
from surveys.outbox import link_in
from surveys.policies import policy_cache_clear
from tests.factories import user_with_role
from tests.surveys.sms_support import MARIO, acme, invitation_for, telco

pytestmark = pytest.mark.django_db

LUCIA = "+393470000042"


@pytest.fixture(autouse=True)
def _fresh_policies():
    policy_cache_clear()
    yield
    policy_cache_clear()


@pytest.fixture
def sent(django_capture_on_commit_callbacks) -> list[Invitation]:
    """Two invitations the dispatcher sent through the outbox: Mario's (Acme), then a second
    later Lucia's (Telco Sud)."""
    now = timezone.now()
    invitations = []
    for second, (phone, client, language) in enumerate(
        [(MARIO, acme(), "it"), (LUCIA, telco(), "es")]
    ):
        invitations.append(invitation_for(phone=phone, client=client, language=language, now=now))
        with django_capture_on_commit_callbacks(execute=True):
            invitations_dispatch(now=now + dt.timedelta(seconds=second))
    assert SmsMessage.objects.filter(backend="outbox", status="delivered").count() == 2
    return invitations


def test_staff_see_every_message_with_its_link(client, sent) -> None:
    for role in (Role.AGENCY_ADMIN, Role.SUPERVISOR):
        client.force_login(user_with_role(f"staff-{role}", role))
        page = client.get("/outbox/")
        assert page.status_code == 200
        html = page.content.decode()
        for invitation in sent:
            link = survey_link(invitation.token)
            assert f'<a href="{link}"' in html
            assert invitation.phone_e164 in html  # the full number, for staff
        # Newest first: Lucia's message was written second.
        assert html.index(LUCIA) < html.index(MARIO)


def test_nobody_else_finds_the_page(client, sent) -> None:
    anonymous = client.get("/outbox/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login/")

    for role, bound in ((Role.CLIENT_VIEWER, acme()), (Role.CALLER, None)):
        client.force_login(user_with_role(f"user-{role}", role, client=bound))
        assert client.get("/outbox/").status_code == 404


def test_the_page_is_paginated(client) -> None:
    for n in range(55):
        SmsMessage.objects.create(
            kind=SmsKind.CONFIRMATION, to=f"+39347{n:07d}", body=f"Message {n}", backend="outbox"
        )
    SmsMessage.objects.create(kind=SmsKind.CONFIRMATION, to=MARIO, body="Real", backend="twilio")
    client.force_login(user_with_role("anna", Role.AGENCY_ADMIN))
    first = client.get("/outbox/").content.decode()
    second = client.get("/outbox/?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert first.count("<tr>") == 50 + 1  # and the header row
    assert second.count("<tr>") == 5 + 1
    # Only the outbox's messages: what Twilio sent is not here.
    assert "Real" not in first + second


def test_the_command_prints_json(sent) -> None:
    out = StringIO()
    call_command("sms_outbox", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert [row["to"] for row in rows] == [LUCIA, MARIO]
    lucia = rows[0]
    assert set(lucia) == {"id", "to", "kind", "status", "body", "link", "created_at", "sent_at"}
    assert lucia["kind"] == "invitation"
    assert lucia["status"] == "delivered"
    assert lucia["link"] == survey_link(sent[1].token)
    assert lucia["body"].startswith("¡Gracias!")
    assert lucia["created_at"].startswith(str(timezone.now().year))


def test_the_command_prints_text_and_honours_the_limit(sent) -> None:
    out = StringIO()
    call_command("sms_outbox", "--limit", "1", stdout=out)
    text = out.getvalue()
    assert f"to {LUCIA}" in text
    assert f"link: {survey_link(sent[1].token)}" in text
    assert MARIO not in text


def test_an_empty_outbox_and_a_bad_limit() -> None:
    out = StringIO()
    call_command("sms_outbox", stdout=out)
    assert out.getvalue().strip() == "The outbox is empty."
    out = StringIO()
    call_command("sms_outbox", "--json", stdout=out)
    assert json.loads(out.getvalue()) == []
    with pytest.raises(CommandError):
        call_command("sms_outbox", "--limit", "0")


def test_the_link_is_found_without_the_full_stop_after_it() -> None:
    assert link_in("Apra http://127.0.0.1:8000/s/abc/. Grazie") == "http://127.0.0.1:8000/s/abc/"
    assert link_in("Non riceverà altri SMS da noi.") is None
