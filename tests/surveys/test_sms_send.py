"""The SMS send path against the fake Twilio server: the real SDK, real HTTP, Twilio's errors.

Each test lets the dispatcher write the message (as in production), then runs the send service
the Celery task runs, at a chosen instant inside (or outside) the debtor's window, and looks at
what the fake provider received.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from collections_link.models import Outcome
from surveys.channels.sms import MAX_VALIDITY_SECONDS, sms_send
from surveys.dispatch import (
    REQUEUE_AFTER,
    invitations_dispatch_batch,
    reminders_queue,
)
from surveys.models import (
    CatiCase,
    Channel,
    Invitation,
    InvitationStatus,
    OptOut,
    SmsKind,
    SmsMessage,
    SmsStatus,
    SmsTemplate,
    SuppressionReason,
)
from surveys.pacing import LocalBucket
from surveys.planner import contacts_plan
from surveys.tasks import sms_send_task
from surveys.twilio import find_message, send_message, twilio_client
from tests.factories import AccountFactory, ClientFactory, ContactFactory, DebtorFactory
from tests.surveys.workers import always_open, due_invitations

ROME = ZoneInfo("Europe/Rome")
# Wednesday 18 November 2026, 11:00 in Rome: an ordinary weekday, inside 09:00-20:00.
WEDNESDAY_11 = dt.datetime(2026, 11, 18, 11, 0, tzinfo=ROME)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_sms_data")]


def dispatched(*, phone_base: int = 3_331_000_000, at: dt.datetime = WEDNESDAY_11) -> SmsMessage:
    """One invitation for Acme Energia's debtor, claimed by the dispatcher at `at` (its message
    written, its task not yet run)."""
    [invitation_id] = due_invitations(
        1, send_after=at - dt.timedelta(minutes=5), phone_base=phone_base
    )
    summary = invitations_dispatch_batch(now=at, enqueue=False)
    assert summary.queued == 1
    return SmsMessage.objects.get(invitation_id=invitation_id, kind=SmsKind.INVITATION)


def creates(fake_twilio) -> list:
    return [r for r in fake_twilio.requests if r.method == "POST"]


def test_a_429_then_201_sends_the_message_once_after_backing_off(fake_twilio):
    message = dispatched()
    fake_twilio.queue_reply(status=429, code=20429)

    first = sms_send(message_id=message.pk, now=WEDNESDAY_11)

    # Twilio refused it without processing: nothing sent, the row is pending again, and the
    # task is told to wait (exponential backoff with jitter, never less than a second).
    assert first.result == "retry"
    assert first.retry_in >= 1.0
    assert fake_twilio.messages == []
    message.refresh_from_db()
    assert message.status == SmsStatus.PENDING

    second = sms_send(message_id=message.pk, now=WEDNESDAY_11)

    assert second.result == "sent"
    [sent] = fake_twilio.messages
    assert sent.to == message.to
    assert [r.answer for r in creates(fake_twilio)] == [429, 201]
    message.refresh_from_db()
    assert message.provider_sid == sent.sid
    assert message.attempts == 2
    assert message.invitation.status == InvitationStatus.SENT


def test_a_500_then_success_sends_once(fake_twilio):
    message = dispatched()
    fake_twilio.queue_reply(status=500)

    first = sms_send(message_id=message.pk, now=WEDNESDAY_11)

    # A 5xx may hide an accepted message: the sender asked Twilio (a GET of the number's
    # messages) before giving the message back; Twilio held none.
    assert first.result == "retry"
    assert [(r.method, r.answer) for r in fake_twilio.requests] == [("POST", 500), ("GET", 200)]
    assert fake_twilio.messages == []

    assert sms_send(message_id=message.pk, now=WEDNESDAY_11).result == "sent"
    assert fake_twilio.sent_count(message.to) == 1
    message.refresh_from_db()
    assert message.status == SmsStatus.ACCEPTED
    assert message.provider_sid == fake_twilio.messages[0].sid


def test_a_lost_answer_is_reconciled_with_the_provider_and_never_sent_again(fake_twilio):
    message = dispatched()
    # Twilio accepts the message, and its answer never arrives.
    fake_twilio.queue_reply(timeout=True, accept=True)

    outcome = sms_send(message_id=message.pk, now=WEDNESDAY_11)

    [held] = fake_twilio.messages
    assert outcome.result == "sent"
    message.refresh_from_db()
    assert message.provider_sid == held.sid
    assert message.invitation.status == InvitationStatus.SENT
    # Running the task again (a redelivery) sends nothing.
    assert sms_send(message_id=message.pk, now=WEDNESDAY_11).result == "skipped"
    assert len(creates(fake_twilio)) == 1
    assert fake_twilio.sent_count(message.to) == 1


def test_find_message_matches_number_body_and_time(fake_twilio):
    before = timezone.now() - dt.timedelta(seconds=1)
    sent = send_message(
        to="+393331112233", body="Com'e' andata?", status_callback=None, validity_period=None
    )

    assert find_message(to="+393331112233", body="Com'e' andata?", since=before) == sent
    assert find_message(to="+393331112233", body="another text", since=before) is None
    assert find_message(to="+393339998877", body="Com'e' andata?", since=before) is None
    later = timezone.now() + dt.timedelta(seconds=2)
    assert find_message(to="+393331112233", body="Com'e' andata?", since=later) is None
    # Why find_message lists without Twilio's DateSent filter: a message still queued at
    # Twilio has no date_sent yet, so a DateSent filter cannot see it.
    dated = twilio_client().messages.list(to="+393331112233", date_sent_after=before)
    assert dated == []


def test_the_fake_lists_like_twilio_pages_and_date_filters(fake_twilio):
    sids = [
        send_message(to="+393331112233", body=f"n{i}", status_callback=None, validity_period=None)
        for i in range(7)
    ]
    # Delivered (as a status callback would record it): it now has a date_sent.
    fake_twilio.message(sids[2].sid).status = "delivered"
    fake_twilio.message(sids[2].sid).date_sent = timezone.now()
    client = twilio_client()

    # The SDK follows next_page_uri: seven messages in pages of three, newest first.
    listed = client.messages.list(to="+393331112233", page_size=3)
    assert [m.body for m in listed] == [f"n{i}" for i in reversed(range(7))]
    assert [r.params.get("Page", "0") for r in fake_twilio.requests if r.method == "GET"] == [
        "0",
        "1",
        "2",
    ]
    # DateSent filters whole days, on date_sent: only the delivered one has one.
    today = client.messages.list(to="+393331112233", date_sent_after=timezone.now())
    assert [m.sid for m in today] == [sids[2].sid]


def test_21610_opts_the_number_out_and_is_never_retried(fake_twilio):
    # The Celery task runs on the wall clock: a window open round the clock lets it send.
    always_open()
    now = timezone.now()
    message = dispatched(at=now)
    phone = message.to
    # A second invitation to the same number, for a later contact, still on the schedule.
    [later_id] = due_invitations(1, send_after=now + dt.timedelta(days=1), phone_base=3_331_000_000)
    fake_twilio.opt_out(phone)  # the debtor texted STOP to Twilio

    result = sms_send_task.apply(args=[message.pk]).get()

    assert result == "failed"
    assert len(creates(fake_twilio)) == 1  # the task did not retry
    assert OptOut.objects.get(phone_e164=phone).active is True
    message.refresh_from_db()
    assert (message.status, message.error_code) == (SmsStatus.FAILED, 21610)
    assert message.invitation.status == InvitationStatus.CANCELLED
    assert Invitation.objects.get(pk=later_id).status == InvitationStatus.CANCELLED
    # A redelivered task sends nothing.
    assert sms_send(message_id=message.pk, now=now).result == "skipped"
    assert len(creates(fake_twilio)) == 1
    # And a new contact with that debtor is never surveyed.
    client = ClientFactory.create()
    debtor = DebtorFactory.create(client=client, phone_e164=phone)
    contact = ContactFactory.create(
        client=client,
        account=AccountFactory.create(client=client, debtor=debtor),
        started_at=now,
        outcome=Outcome.PROMISE_TO_PAY,
    )
    contacts_plan(now=now + dt.timedelta(minutes=10), seed=1)
    planned = Invitation.objects.get(contact=contact)
    assert planned.status == InvitationStatus.SUPPRESSED
    assert planned.suppression_reason == SuppressionReason.OPTED_OUT


@pytest.mark.parametrize("code", [21614, 30006])
def test_a_landline_hands_the_invitation_to_cati_at_once(fake_twilio, code):
    message = dispatched()
    fake_twilio.fail_number(message.to, code=code)

    outcome = sms_send(message_id=message.pk, now=WEDNESDAY_11)

    assert (outcome.result, outcome.error_code) == ("failed", code)
    invitation = Invitation.objects.get(messages=message)
    assert (invitation.status, invitation.channel) == (InvitationStatus.CATI, Channel.CATI)
    case = CatiCase.objects.get(invitation=invitation)
    # Due now (inside the window, with at most ten minutes of jitter), not in 48 hours.
    assert WEDNESDAY_11 <= case.due_at <= WEDNESDAY_11 + dt.timedelta(minutes=10)
    assert fake_twilio.messages == []


@pytest.mark.parametrize("code", [21211, 30005])
def test_an_invalid_number_fails_the_invitation(fake_twilio, code):
    message = dispatched()
    fake_twilio.fail_number(message.to, code=code)

    sms_send(message_id=message.pk, now=WEDNESDAY_11)

    message.refresh_from_db()
    assert (message.status, message.error_code) == (SmsStatus.FAILED, code)
    assert message.invitation.status == InvitationStatus.FAILED
    assert not CatiCase.objects.exists()
    assert not OptOut.objects.exists()


def test_30007_pauses_the_template_and_emails_the_admins(fake_twilio, settings):
    settings.ADMINS = [("Agency operations", "ops@example.com")]
    message = dispatched()
    fake_twilio.fail_number(message.to, code=30007)

    sms_send(message_id=message.pk, now=WEDNESDAY_11)

    template = SmsTemplate.objects.get(client=None, kind=SmsKind.INVITATION, language="it")
    assert template.paused is True
    assert "30007" in template.paused_reason
    [email] = mail.outbox
    assert email.to == ["ops@example.com"]
    assert "paused" in email.subject
    assert Invitation.objects.get(messages=message).status == InvitationStatus.FAILED
    # The next invitation in Italian is held, not sent with the filtered text.
    [held_id] = due_invitations(1, send_after=WEDNESDAY_11, phone_base=3_332_000_000)
    summary = invitations_dispatch_batch(now=WEDNESDAY_11 + dt.timedelta(minutes=1))
    held = Invitation.objects.get(pk=held_id)
    assert (summary.queued, summary.rescheduled) == (0, 1)
    assert held.status == InvitationStatus.SCHEDULED
    assert held.send_after >= WEDNESDAY_11 + dt.timedelta(hours=1)


def test_a_send_that_runs_after_the_window_closed_goes_back_to_the_schedule(fake_twilio):
    message = dispatched(at=dt.datetime(2026, 11, 18, 19, 58, tzinfo=ROME))
    # The task waited in the queue: it runs at 20:01, after the 20:00 close.
    late = dt.datetime(2026, 11, 18, 20, 1, tzinfo=ROME)

    outcome = sms_send(message_id=message.pk, now=late)

    assert outcome.result == "skipped"
    assert fake_twilio.requests == []
    invitation = Invitation.objects.get(messages=message)
    assert invitation.status == InvitationStatus.SCHEDULED
    opening = invitation.send_after.astimezone(ROME)
    # Thursday from 09:00, with a little jitter.
    assert dt.datetime(2026, 11, 19, 9, 0, tzinfo=ROME) <= opening
    assert opening <= dt.datetime(2026, 11, 19, 9, 10, tzinfo=ROME)
    message.refresh_from_db()
    # The message waits for the dispatcher (the invitation row is the schedule), not for the
    # requeue pass.
    assert (message.status, message.next_attempt_at) == (SmsStatus.PENDING, None)

    # Thursday morning the dispatcher claims it again and reuses the same message row.
    thursday = dt.datetime(2026, 11, 19, 9, 30, tzinfo=ROME)
    summary = invitations_dispatch_batch(now=thursday, enqueue=False)
    assert summary.message_ids == [message.pk]
    assert sms_send(message_id=message.pk, now=thursday).result == "sent"
    assert SmsMessage.objects.filter(invitation_id=invitation.pk).count() == 1
    assert fake_twilio.sent_count(message.to) == 1


def test_a_stale_task_for_an_invitation_back_on_the_schedule_sends_nothing(fake_twilio):
    message = dispatched()
    late = dt.datetime(2026, 11, 18, 20, 30, tzinfo=ROME)
    sms_send(message_id=message.pk, now=late)  # given back to the schedule

    # A duplicate of the task, delivered later inside a window, must not send it behind the
    # dispatcher's back: the invitation is scheduled, not sending.
    assert sms_send(message_id=message.pk, now=WEDNESDAY_11).result == "skipped"
    assert fake_twilio.requests == []


def test_too_little_window_left_is_given_back_rather_than_sent(fake_twilio):
    message = dispatched(at=dt.datetime(2026, 11, 18, 19, 55, tzinfo=ROME))

    # 19:59: one minute left, less than Twilio would need to deliver it safely.
    outcome = sms_send(message_id=message.pk, now=dt.datetime(2026, 11, 18, 19, 59, tzinfo=ROME))

    assert outcome.result == "skipped"
    assert fake_twilio.requests == []
    assert Invitation.objects.get(messages=message).status == InvitationStatus.SCHEDULED


@pytest.mark.parametrize(
    ("local_time", "validity"),
    [
        # 11:00 on a Wednesday: nine hours left, so Twilio's hour.
        (dt.time(11, 0), MAX_VALIDITY_SECONDS),
        # 19:30: half an hour left in the window, so Twilio may hold it 1800 s and no longer.
        (dt.time(19, 30), 1800),
        # 19:57:30: 150 s left.
        (dt.time(19, 57, 30), 150),
    ],
)
def test_validity_period_never_outlasts_the_window_nor_an_hour(
    fake_twilio, settings, local_time, validity
):
    at = dt.datetime.combine(dt.date(2026, 11, 18), local_time, tzinfo=ROME)
    message = dispatched(at=at)

    assert sms_send(message_id=message.pk, now=at).result == "sent"

    [request] = creates(fake_twilio)
    assert request.params["ValidityPeriod"] == str(validity)
    assert request.params["StatusCallback"] == "http://127.0.0.1:8000/twilio/sms/status/"
    assert request.params["MessagingServiceSid"] == settings.TWILIO_MESSAGING_SERVICE_SID
    assert request.params["Body"] == message.body
    assert f"/s/{message.invitation.token}/" in message.body


def test_an_expired_invitation_is_not_sent(fake_twilio):
    message = dispatched()

    outcome = sms_send(message_id=message.pk, now=WEDNESDAY_11 + dt.timedelta(days=8))

    assert outcome.result == "skipped"
    assert fake_twilio.requests == []
    message.refresh_from_db()
    assert message.status == SmsStatus.CANCELLED
    assert message.invitation.status == InvitationStatus.EXPIRED


def test_an_opt_out_that_arrives_while_the_task_waits_stops_the_send(fake_twilio):
    message = dispatched()
    OptOut.objects.create(phone_e164=message.to)

    assert sms_send(message_id=message.pk, now=WEDNESDAY_11).result == "skipped"

    assert fake_twilio.requests == []
    assert Invitation.objects.get(messages=message).status == InvitationStatus.CANCELLED


def test_two_runs_of_the_same_task_send_one_message(fake_twilio):
    message = dispatched()

    results = [sms_send(message_id=message.pk, now=WEDNESDAY_11).result for _ in range(3)]

    assert results == ["sent", "skipped", "skipped"]
    assert fake_twilio.sent_count(message.to) == 1


def test_a_lost_answer_is_found_even_with_twilios_clock_behind_ours(fake_twilio):
    always_open()
    # Twilio's timestamps run 30 seconds behind this server's clock.
    fake_twilio.clock_offset = -30.0
    message = dispatched(at=timezone.now())
    fake_twilio.queue_reply(timeout=True, accept=True)

    outcome = sms_send(message_id=message.pk)  # on the wall clock, as a worker runs it

    assert outcome.result == "sent"
    assert sms_send(message_id=message.pk).result == "skipped"
    assert fake_twilio.sent_count(message.to) == 1


def test_30003_is_retried_once_four_hours_later_inside_the_window(fake_twilio):
    message = dispatched()
    fake_twilio.fail_number(message.to, code=30003)  # unreachable handset

    assert sms_send(message_id=message.pk, now=WEDNESDAY_11).result == "failed"

    invitation = Invitation.objects.get(messages=message)
    later = invitation.send_after
    assert invitation.status == InvitationStatus.SCHEDULED
    # 15:00 at the earliest, with a little jitter, well inside Wednesday's window.
    assert WEDNESDAY_11 + dt.timedelta(hours=4) <= later <= WEDNESDAY_11 + dt.timedelta(hours=5)
    message.refresh_from_db()
    assert (message.status, message.retried) == (SmsStatus.PENDING, True)

    # At that time the dispatcher queues the same message row, due for the requeue pass too
    # should that queueing be lost.
    summary = invitations_dispatch_batch(now=later, enqueue=False)
    assert summary.message_ids == [message.pk]
    message.refresh_from_db()
    assert message.next_attempt_at == later + REQUEUE_AFTER
    fake_twilio.clear_number(message.to)
    assert sms_send(message_id=message.pk, now=later).result == "sent"
    assert fake_twilio.sent_count(message.to) == 1


def test_30003_twice_fails_the_invitation(fake_twilio):
    message = dispatched()
    fake_twilio.fail_number(message.to, code=30003)
    sms_send(message_id=message.pk, now=WEDNESDAY_11)
    later = Invitation.objects.get(messages=message).send_after
    invitations_dispatch_batch(now=later, enqueue=False)

    assert sms_send(message_id=message.pk, now=later).result == "failed"

    assert Invitation.objects.get(messages=message).status == InvitationStatus.FAILED
    assert len(creates(fake_twilio)) == 2  # once, and once more, never a third time
    assert invitations_dispatch_batch(now=later + dt.timedelta(hours=5)).claimed == 0


def sent_with_reminder(fake_twilio, django_capture_on_commit_callbacks) -> SmsMessage:
    """An invitation sent now (on the wall clock), and its reminder written but not sent."""
    always_open()
    now = timezone.now()
    message = dispatched(at=now)
    assert sms_send(message_id=message.pk).result == "sent"
    Invitation.objects.filter(messages=message).update(reminder_at=now)
    with django_capture_on_commit_callbacks(execute=False):
        assert reminders_queue(now=now) == 1
    return SmsMessage.objects.get(kind=SmsKind.REMINDER)


def test_a_failed_reminder_leaves_the_sent_invitation_alone(
    fake_twilio, django_capture_on_commit_callbacks
):
    reminder = sent_with_reminder(fake_twilio, django_capture_on_commit_callbacks)
    fake_twilio.fail_number(reminder.to, code=21211)

    assert sms_send(message_id=reminder.pk).result == "failed"

    # The invitation went out and may still be answered: a failed reminder changes nothing.
    assert Invitation.objects.get(messages=reminder).status == InvitationStatus.SENT


def test_a_reminder_for_an_answered_invitation_is_not_sent(
    fake_twilio, django_capture_on_commit_callbacks
):
    reminder = sent_with_reminder(fake_twilio, django_capture_on_commit_callbacks)
    Invitation.objects.filter(messages=reminder).update(status=InvitationStatus.COMPLETED)

    assert sms_send(message_id=reminder.pk).result == "skipped"

    reminder.refresh_from_db()
    assert reminder.status == SmsStatus.CANCELLED
    assert fake_twilio.sent_count(reminder.to) == 1  # the invitation only


def test_the_bucket_never_lets_a_second_through_more_than_the_rate():
    bucket = LocalBucket(rate=20)
    taken = 0
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        if bucket.try_take() == 0:
            taken += 1

    # A full bucket right after a quiet spell: 20 a second, plus the one-token burst.
    assert 19 <= taken <= 21
