"""The surveys back office: every page loads for the agency, phones stay masked in lists, SMS
templates and policies are checked when saved, and supervisors decide the review queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from collections_link.models import Role
from surveys.inbound import inbound_process, inbound_record
from surveys.models import (
    CatiCase,
    InboundMessage,
    InvitationStatus,
    OptOut,
    OptOutEvent,
    Policy,
    ReviewItem,
    SmsKind,
    SmsMessage,
    SmsTemplate,
    StatusEvent,
)
from surveys.optouts import opt_out_record
from surveys.policies import policy_defaults
from surveys.responses import response_record
from tests.factories import user_with_role
from tests.surveys.sms_support import MARIO, acme, invitation_for

pytestmark = pytest.mark.django_db

MODELS = [
    "smstemplate",
    "policy",
    "survey",
    "surveyversion",
    "invitation",
    "smsmessage",
    "optout",
    "inboundmessage",
    "statusevent",
    "reviewitem",
    "response",
    "disposition",
    "caticase",
    "callattempt",
]


@pytest.fixture(autouse=True)
def _public_base(settings) -> None:
    settings.PUBLIC_BASE_URL = "https://nps.example.it"


def staff(role: Role, username: str | None = None) -> HttpClient:
    user = user_with_role(username or f"staff-{role}", role)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    http = HttpClient()
    http.force_login(user)
    return http


@pytest.fixture
def world() -> dict[str, object]:
    """One of everything, around Mario's number."""
    invitation = invitation_for(sent_at=timezone.now())
    SmsMessage.objects.create(
        invitation=invitation,
        kind=SmsKind.INVITATION,
        to=MARIO,
        body="Grazie",
        backend="outbox",
        provider_sid="SMone",
    )
    StatusEvent.objects.create(message_sid="SMone", status="delivered")
    response_record(invitation_id=invitation.pk, channel="sms_reply", answers={"nps": 9})
    inbound, _ = inbound_record({"MessageSid": "SMin", "From": MARIO, "Body": "lasciatemi in pace"})
    inbound_process(inbound_id=inbound.pk)
    opt_out_record(phone_e164="+393470000001", source=OptOutEvent.Source.ADMIN)
    cati = invitation_for(phone="+393470000002", status=InvitationStatus.CATI)
    CatiCase.objects.create(invitation=cati, client=cati.client, due_at=timezone.now())
    return {"invitation": invitation, "review": ReviewItem.objects.get()}


@pytest.mark.parametrize("role", [Role.AGENCY_ADMIN, Role.SUPERVISOR])
def test_every_list_and_page_loads_and_lists_mask_phones(world, role) -> None:
    http = staff(role)
    for model in MODELS:
        page = http.get(reverse(f"admin:surveys_{model}_changelist"))
        assert page.status_code == 200, model
        assert MARIO not in page.content.decode(), model
        assert "+393470000001" not in page.content.decode(), model
    invitation = world["invitation"]
    detail = http.get(reverse("admin:surveys_invitation_change", args=[invitation.pk]))
    assert detail.status_code == 200
    # The masked number in lists; the token (the debtor's key to the survey) nowhere.
    assert (
        "+39 ••• ••• 4567"
        in http.get(reverse("admin:surveys_invitation_changelist")).content.decode()
    )
    assert invitation.token not in detail.content.decode()


def test_invitation_filters_show_their_counts(world) -> None:
    invitation_for(phone="+393470000009", status=InvitationStatus.SCHEDULED)
    page = staff(Role.SUPERVISOR).get(reverse("admin:surveys_invitation_changelist"))
    html = page.content.decode()
    # Mario's (scored by SMS, his next text kept as the reason), the CATI case, the new one.
    assert "Completed (1)" in html
    assert "In the CATI queue (1)" in html
    assert "Scheduled (1)" in html
    assert "Failed (0)" in html


def test_a_client_viewer_or_caller_has_no_back_office(world) -> None:
    for role, username in ((Role.CLIENT_VIEWER, "viewer"), (Role.CALLER, "caller")):
        user = user_with_role(username, role, client=acme() if role == Role.CLIENT_VIEWER else None)
        http = HttpClient()
        http.force_login(user)
        page = http.get(reverse("admin:surveys_reviewitem_changelist"))
        assert page.status_code == 302
        assert "/admin/login/" in page["Location"]


# --- SMS templates ----------------------------------------------------------------------------


def template_form(**changes: str) -> dict[str, str]:
    values = {
        "client": "",
        "kind": "invitation",
        "language": "it",
        "body": "Com'è andata? Risponda con un voto 0-10 o apra {link} STOP per non ricevere SMS",
        "paused_reason": "",
    }
    return {**values, **changes}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Com'è andata? 5 € di sconto: {link} STOP per non ricevere SMS", "No amounts"),
        ("Com'è andata col debito? {link} STOP per non ricevere SMS", "debito"),
        ("Acme Energia ringrazia: {link} STOP per non ricevere SMS", "Acme Energia"),
        # 100 + 1 + 48 (the link on https://nps.example.it) + 26 = 175.
        ("x" * 100 + " {link} STOP per non ricevere SMS", "Too long: 175 characters"),
    ],
)
def test_a_bad_template_is_refused_saying_why(body: str, reason: str) -> None:
    acme()
    http = staff(Role.AGENCY_ADMIN)
    page = http.post(
        reverse("admin:surveys_smstemplate_add"),
        template_form(client=str(acme().pk), body=body),
    )
    assert page.status_code == 200  # the form again, with the reason
    assert reason in page.content.decode()
    assert not SmsTemplate.objects.filter(client=acme()).exists()


def test_a_good_template_is_saved_and_a_paused_one_resumed() -> None:
    client = acme()
    http = staff(Role.AGENCY_ADMIN)
    page = http.post(reverse("admin:surveys_smstemplate_add"), template_form(client=str(client.pk)))
    assert page.status_code == 302
    template = SmsTemplate.objects.get(client=client)

    SmsTemplate.objects.filter(pk=template.pk).update(paused=True, paused_reason="30007")
    http.post(
        reverse("admin:surveys_smstemplate_changelist"),
        {"action": "resume", "_selected_action": [template.pk]},
    )
    template.refresh_from_db()
    assert (template.paused, template.paused_reason) == (False, "")


def test_supervisors_read_templates_but_do_not_edit_them() -> None:
    http = staff(Role.SUPERVISOR)
    assert http.get(reverse("admin:surveys_smstemplate_changelist")).status_code == 200
    assert http.get(reverse("admin:surveys_smstemplate_add")).status_code == 403


# --- policies -------------------------------------------------------------------------------


def policy_form(**changes: str) -> dict[str, str]:
    defaults = policy_defaults()
    values = {
        "client": "",
        "channels": '["sms", "cati"]',
        "delay_after_contact": "02:00:00",
        "fallback_delay": "2 00:00:00",
        "eligible_outcomes": '["promise_to_pay", "paid"]',
        "consent_required_countries": '["IT", "ES"]',
        "cap_days": "30",
        "sampling_rate": "100",
        "min_per_operator_month": "30",
        "reminder_after": "1 00:00:00",
        "link_lifetime": "7 00:00:00",
        "window_country": "IT",
        "window_profile": "{}",
        "cati_max_attempts": str(defaults["cati_max_attempts"]),
        "cati_max_days": "10",
        "cati_min_gap": "03:00:00",
    }
    return {**values, **changes}


def test_a_bad_policy_is_refused_with_the_message() -> None:
    http = staff(Role.AGENCY_ADMIN)
    page = http.post(
        reverse("admin:surveys_policy_add"),
        policy_form(channels='["sms", "fax"]', eligible_outcomes='["wrong_party"]'),
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Unknown channel(s) &#x27;fax&#x27;" in html
    assert "Only right-party contacts may be surveyed; remove wrong_party." in html
    assert not Policy.objects.exists()


def test_a_good_policy_is_saved() -> None:
    http = staff(Role.AGENCY_ADMIN)
    page = http.post(reverse("admin:surveys_policy_add"), policy_form(cap_days="45"))
    assert page.status_code == 302
    policy = Policy.objects.get()
    assert (policy.cap_days, policy.reminder_after) == (45, dt.timedelta(days=1))


# --- the review queue -----------------------------------------------------------------------


def test_a_supervisor_opts_out_a_reviewed_number(world, django_capture_on_commit_callbacks) -> None:
    review = world["review"]
    assert not OptOut.objects.filter(phone_e164=MARIO).exists()
    http = staff(Role.SUPERVISOR, "sara")
    queue = http.get(reverse("admin:surveys_reviewitem_changelist")).content.decode()
    assert "lasciatemi in pace" in queue
    assert "Opt out this number (every client)" in queue

    with django_capture_on_commit_callbacks(execute=True):
        page = http.post(
            reverse("admin:surveys_reviewitem_changelist"),
            {"action": "opt_out_number", "_selected_action": [review.pk]},
            follow=True,
        )
    assert "1 item(s) opted out." in page.content.decode()
    review.refresh_from_db()
    assert review.state == ReviewItem.State.OPTED_OUT
    assert review.resolved_by.username == "sara"
    assert OptOut.objects.get(phone_e164=MARIO).active
    (confirmation,) = SmsMessage.objects.filter(kind=SmsKind.CONFIRMATION, to=MARIO)
    assert confirmation.status == "delivered"

    # Twice is once.
    page = http.post(
        reverse("admin:surveys_reviewitem_changelist"),
        {"action": "opt_out_number", "_selected_action": [review.pk]},
        follow=True,
    )
    assert "1 item(s) were already decided." in page.content.decode()
    assert OptOutEvent.objects.filter(opt_out__phone_e164=MARIO).count() == 1


def test_a_supervisor_dismisses_a_review(world) -> None:
    review = world["review"]
    http = staff(Role.SUPERVISOR)
    http.post(
        reverse("admin:surveys_reviewitem_changelist"),
        {"action": "dismiss", "_selected_action": [review.pk]},
    )
    review.refresh_from_db()
    assert review.state == ReviewItem.State.DISMISSED
    assert not OptOut.objects.filter(phone_e164=MARIO).exists()
    assert InboundMessage.objects.get(pk=review.inbound_id).kind == InboundMessage.Kind.REVIEW
