"""The dispatcher in-process, on SQLite and on PostgreSQL: what it claims, the re-checks it makes
at send time, the one message it writes per invitation, queueing after commit, and the passes
that repair what a crash or a broker outage left behind (requeue, reaper), plus fallback to
CATI, reminders and expiry."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from kombu import pools as kombu_pools

from config import celery_app
from surveys.dispatch import (
    REQUEUE_AFTER,
    STUCK_AFTER,
    invitations_dispatch,
    invitations_dispatch_batch,
    invitations_expire,
    invitations_fall_back,
    messages_reap,
    messages_requeue,
    reminders_queue,
)
from surveys.models import (
    CatiCase,
    Channel,
    Invitation,
    InvitationStatus,
    OptOut,
    Policy,
    Response,
    ResponseChannel,
    SmsKind,
    SmsMessage,
    SmsStatus,
    SmsTemplate,
)
from surveys.policies import policy_cache_clear
from surveys.seed import DEFAULT_TEMPLATES, seed_apply
from surveys.twilio import send_message
from tests.surveys.workers import always_open, due_invitations, free_port

ROME = ZoneInfo("Europe/Rome")
# Wednesday 18 November 2026, 11:00 in Rome: inside the Italian weekday window 09:00-20:00.
WEDNESDAY_11 = dt.datetime(2026, 11, 18, 11, 0, tzinfo=ROME)

pytestmark = pytest.mark.usefixtures("shipped_sms_data")


def statuses(ids: list[int]) -> list[str]:
    by_id = dict(Invitation.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [by_id[pk] for pk in ids]


# --- claiming ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_due_invitations_are_claimed_once_each_with_one_message():
    due = due_invitations(3, send_after=WEDNESDAY_11 - dt.timedelta(minutes=1))
    future = due_invitations(1, send_after=WEDNESDAY_11 + dt.timedelta(minutes=1))

    summary = invitations_dispatch_batch(now=WEDNESDAY_11, enqueue=False)

    assert (summary.claimed, summary.queued) == (3, 3)
    assert statuses(due) == [InvitationStatus.SENDING] * 3
    assert statuses(future) == [InvitationStatus.SCHEDULED]
    messages = SmsMessage.objects.filter(pk__in=summary.message_ids).select_related("invitation")
    assert {m.invitation_id for m in messages} == set(due)
    for message in messages:
        assert message.status == SmsStatus.PENDING
        assert message.kind == SmsKind.INVITATION
        assert message.to == message.invitation.phone_e164
        # The shipped Italian text, with the invitation's own link.
        link = f"http://127.0.0.1:8000/s/{message.invitation.token}/"
        assert message.body == DEFAULT_TEMPLATES[("invitation", "it")].replace("{link}", link)
        assert message.next_attempt_at == WEDNESDAY_11 + REQUEUE_AFTER
    # A second pass finds nothing more to do.
    again = invitations_dispatch_batch(now=WEDNESDAY_11, enqueue=False)
    assert again.claimed == 0
    assert SmsMessage.objects.count() == 3


@pytest.mark.django_db
def test_a_message_written_behind_the_dispatchers_back_is_reused_not_doubled():
    ids = due_invitations(3, send_after=WEDNESDAY_11 - dt.timedelta(minutes=1))
    # Something other than the dispatcher wrote an invitation message for a never-claimed
    # invitation: the batch must neither fail for ever nor write a second message.
    stray = SmsMessage.objects.create(
        invitation_id=ids[1],
        kind=SmsKind.INVITATION,
        to="+390000000000",
        body="x",
        backend="outbox",
    )

    summary = invitations_dispatch_batch(now=WEDNESDAY_11, enqueue=False)

    assert summary.claimed == 3
    assert stray.pk in summary.message_ids and len(summary.message_ids) == 3
    assert SmsMessage.objects.filter(invitation_id__in=ids).count() == 3


@pytest.mark.django_db
def test_the_dispatcher_claims_batch_after_batch_until_nothing_is_due():
    ids = due_invitations(1_203, send_after=WEDNESDAY_11 - dt.timedelta(minutes=1))

    summary = invitations_dispatch(now=WEDNESDAY_11, batch_size=500, enqueue=False)

    assert (summary.claimed, summary.queued) == (1_203, 1_203)
    assert set(statuses(ids)) == {InvitationStatus.SENDING}
    assert SmsMessage.objects.filter(invitation_id__in=ids).count() == 1_203


@pytest.mark.django_db
def test_claim_re_checks_opt_out_expiry_window_and_a_paused_text():
    [opted_out] = due_invitations(1, send_after=WEDNESDAY_11, phone_base=3_331_000_000)
    [expired] = due_invitations(1, send_after=WEDNESDAY_11, phone_base=3_332_000_000)
    [fine] = due_invitations(1, send_after=WEDNESDAY_11, phone_base=3_333_000_000)
    OptOut.objects.create(phone_e164="+393331000000")
    Invitation.objects.filter(pk=expired).update(expires_at=WEDNESDAY_11)

    summary = invitations_dispatch_batch(now=WEDNESDAY_11, enqueue=False)

    assert (summary.claimed, summary.cancelled, summary.expired, summary.queued) == (3, 1, 1, 1)
    assert statuses([opted_out, expired, fine]) == [
        InvitationStatus.CANCELLED,
        InvitationStatus.EXPIRED,
        InvitationStatus.SENDING,
    ]
    assert list(SmsMessage.objects.values_list("invitation_id", flat=True)) == [fine]

    # Due at 20:30 (after the 20:00 close): moved to Thursday's opening, no message written.
    [evening] = due_invitations(1, send_after=WEDNESDAY_11, phone_base=3_334_000_000)
    late = dt.datetime(2026, 11, 18, 20, 30, tzinfo=ROME)
    summary = invitations_dispatch_batch(now=late, enqueue=False)
    invitation = Invitation.objects.get(pk=evening)
    assert (summary.claimed, summary.rescheduled, summary.queued) == (1, 1, 0)
    assert invitation.status == InvitationStatus.SCHEDULED
    opening = invitation.send_after.astimezone(ROME)
    assert dt.datetime(2026, 11, 19, 9, 0, tzinfo=ROME) <= opening
    assert opening <= dt.datetime(2026, 11, 19, 9, 10, tzinfo=ROME)
    assert not SmsMessage.objects.filter(invitation_id=evening).exists()

    # A text paused after a carrier filtered it holds its invitations an hour at a time.
    SmsTemplate.objects.filter(client=None, kind="invitation", language="it").update(paused=True)
    [held] = due_invitations(1, send_after=WEDNESDAY_11, phone_base=3_335_000_000)
    summary = invitations_dispatch_batch(now=WEDNESDAY_11, enqueue=False)
    assert (summary.rescheduled, summary.queued) == (1, 0)
    assert Invitation.objects.get(pk=held).send_after >= WEDNESDAY_11 + dt.timedelta(hours=1)


@pytest.mark.django_db
def test_sends_are_queued_only_after_the_claim_commits(
    fake_twilio, django_capture_on_commit_callbacks
):
    always_open()
    now = timezone.now()
    ids = due_invitations(4, send_after=now - dt.timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        summary = invitations_dispatch_batch(now=now)

    # Claimed and written, but nothing queued (so nothing sent) before the commit: a worker
    # must never pick up a message whose row it cannot see yet.
    assert summary.queued == 4
    assert fake_twilio.requests == []
    assert len(callbacks) == 1

    callbacks[0]()  # the commit

    assert len(fake_twilio.messages) == 4
    assert set(statuses(ids)) == {InvitationStatus.SENT}
    assert {m.to for m in fake_twilio.messages} == set(
        Invitation.objects.filter(pk__in=ids).values_list("phone_e164", flat=True)
    )


@pytest.mark.django_db
def test_dispatch_due_command_reports_what_it_did(settings, django_capture_on_commit_callbacks):
    always_open()
    settings.SMS_BACKEND = "outbox"
    now = timezone.now()
    ids = due_invitations(2, send_after=now - dt.timedelta(minutes=1))
    due_invitations(1, send_after=now + dt.timedelta(hours=1))

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("dispatch_due", "--now", now.isoformat(), stdout=out)

    assert "Claimed 2 due invitation(s): 2 message(s) queued" in out.getvalue()
    # Tasks run eagerly here (no broker), through the development outbox.
    assert set(statuses(ids)) == {InvitationStatus.SENT}
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {SmsStatus.DELIVERED}


# --- the broker down, the requeue pass --------------------------------------------------------


@pytest.fixture
def dead_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Celery pointed at a port where no broker listens, and back to eager mode after."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    # Celery reads CELERY_BROKER_URL from the environment before its own setting (as in CI).
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    conf = celery_app.conf
    saved = {"task_always_eager": conf.task_always_eager, "broker_url": conf.broker_url}
    conf.update(task_always_eager=False, broker_url=url)
    _reset_celery_pools()
    try:
        yield url
    finally:
        conf.update(saved)
        _reset_celery_pools()


def _reset_celery_pools() -> None:
    # The app (and kombu, process-wide) cache broker connections and producers on first use:
    # drop them all so the next publish connects to the broker now configured.
    kombu_pools.reset()
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_unreachable_broker_loses_nothing_and_requeue_sends_later(fake_twilio, dead_broker):
    always_open()
    now = timezone.now()
    ids = due_invitations(3, send_after=now - dt.timedelta(minutes=1))

    summary = invitations_dispatch(now=now)  # enqueue fails after commit: logged, not raised

    assert summary.queued == 3
    assert set(statuses(ids)) == {InvitationStatus.SENDING}
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {SmsStatus.PENDING}
    assert fake_twilio.requests == []

    # Still down at the next pass: the rows stay pending, due again later.
    assert messages_requeue(now=now + REQUEUE_AFTER) == 0
    assert fake_twilio.requests == []

    # The broker is back (here: eager again); the next requeue pass queues them, once.
    celery_app.conf.update(task_always_eager=True)
    assert messages_requeue(now=now + REQUEUE_AFTER) == 0  # not due again yet
    assert messages_requeue(now=now + 2 * REQUEUE_AFTER) == 3
    assert len(fake_twilio.messages) == 3
    assert set(statuses(ids)) == {InvitationStatus.SENT}
    assert messages_requeue(now=now + 4 * REQUEUE_AFTER) == 0
    assert len(fake_twilio.messages) == 3


@pytest.mark.django_db
def test_requeue_leaves_alone_messages_waiting_for_the_schedule(fake_twilio):
    # Given back to the schedule at send time (window closed): the invitation row decides
    # when it goes, not the requeue pass.
    [invitation_id] = due_invitations(1, send_after=WEDNESDAY_11)
    invitations_dispatch_batch(now=WEDNESDAY_11, enqueue=False)
    message = SmsMessage.objects.get(invitation_id=invitation_id)
    from surveys.channels.sms import sms_send

    sms_send(message_id=message.pk, now=dt.datetime(2026, 11, 18, 21, 0, tzinfo=ROME))

    assert messages_requeue(now=timezone.now() + dt.timedelta(days=30)) == 0
    assert fake_twilio.requests == []


# --- the reaper -------------------------------------------------------------------------------


def stuck_in_sending(message: SmsMessage) -> None:
    """What a worker killed mid-send leaves: the guarded pending -> sending update made, no
    provider id stored."""
    assert (
        SmsMessage.objects.filter(pk=message.pk, status=SmsStatus.PENDING).update(
            status=SmsStatus.SENDING, sending_started_at=timezone.now(), attempts=1
        )
        == 1
    )


@pytest.fixture
def one_message(fake_twilio) -> SmsMessage:
    always_open()
    now = timezone.now()
    [invitation_id] = due_invitations(1, send_after=now - dt.timedelta(minutes=1))
    invitations_dispatch_batch(now=now, enqueue=False)
    return SmsMessage.objects.get(invitation_id=invitation_id)


@pytest.mark.django_db
def test_the_reaper_trusts_the_provider_record_when_the_worker_died_after_sending(
    fake_twilio, one_message
):
    message = one_message
    stuck_in_sending(message)
    # The worker's request reached Twilio, then the worker died before storing the sid.
    sent = send_message(
        to=message.to, body=message.body, status_callback=None, validity_period=3600
    )

    # Not stuck long enough yet: the worker might still be in its call.
    assert messages_reap(now=timezone.now()) == 0
    returned = messages_reap(now=timezone.now() + STUCK_AFTER + dt.timedelta(seconds=5))

    assert returned == 0
    message.refresh_from_db()
    assert (message.provider_sid, message.status) == (sent.sid, SmsStatus.ACCEPTED)
    assert message.invitation.status == InvitationStatus.SENT
    assert messages_requeue(now=timezone.now() + dt.timedelta(hours=1)) == 0
    assert fake_twilio.sent_count(message.to) == 1


@pytest.mark.django_db
def test_the_reaper_sends_once_what_never_reached_the_provider(fake_twilio, one_message):
    message = one_message
    stuck_in_sending(message)
    later = timezone.now() + STUCK_AFTER + dt.timedelta(seconds=5)

    assert messages_reap(now=later) == 1
    message.refresh_from_db()
    assert message.status == SmsStatus.PENDING
    assert messages_requeue(now=later) == 1  # eager here: sent at once

    assert fake_twilio.sent_count(message.to) == 1
    message.refresh_from_db()
    assert message.invitation.status == InvitationStatus.SENT
    assert messages_reap(now=later + STUCK_AFTER) == 0
    assert fake_twilio.sent_count(message.to) == 1


@pytest.mark.django_db
def test_the_reaper_waits_while_the_provider_cannot_be_asked(fake_twilio, one_message):
    message = one_message
    stuck_in_sending(message)
    fake_twilio.stop()

    assert messages_reap(now=timezone.now() + STUCK_AFTER + dt.timedelta(seconds=5)) == 0

    message.refresh_from_db()
    assert message.status == SmsStatus.SENDING  # never resent without the provider's answer


# --- concurrency (PostgreSQL) ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_claim_disjoint_invitations():
    seed_apply(apps)
    ids = due_invitations(2_000, send_after=WEDNESDAY_11 - dt.timedelta(minutes=1))
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def dispatcher(name: str) -> None:
        try:
            start.wait(timeout=10)
            while True:
                summary = invitations_dispatch_batch(now=WEDNESDAY_11, batch_size=50, enqueue=False)
                if not summary.claimed:
                    return
                claimed[name].extend(summary.message_ids)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    assert len(claimed["a"]) > 0 and len(claimed["b"]) > 0  # both really worked
    assert len(claimed["a"]) + len(claimed["b"]) == 2_000
    assert not set(claimed["a"]) & set(claimed["b"])
    assert SmsMessage.objects.count() == 2_000
    assert set(statuses(ids)) == {InvitationStatus.SENDING}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_rows_another_dispatcher_holds():
    seed_apply(apps)
    ids = due_invitations(10, send_after=WEDNESDAY_11 - dt.timedelta(minutes=1))
    held: list[int] = []
    release = threading.Event()
    locked = threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                summary = invitations_dispatch_batch(now=WEDNESDAY_11, batch_size=4, enqueue=False)
                held.extend(summary.message_ids)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(timeout=30)
    try:
        # While the first transaction holds four rows, a second claim neither waits for them
        # nor takes them.
        summary = invitations_dispatch_batch(now=WEDNESDAY_11, batch_size=100, enqueue=False)
    finally:
        release.set()
        thread.join(timeout=30)
    assert (len(held), summary.claimed) == (4, 6)
    assert set(statuses(ids)) == {InvitationStatus.SENDING}


# --- after sending: fallback to CATI, reminders, expiry ---------------------------------------


def sent_invitation(now: dt.datetime, **changes: object) -> Invitation:
    [invitation_id] = due_invitations(1, send_after=now - dt.timedelta(days=3))
    Invitation.objects.filter(pk=invitation_id).update(
        status=InvitationStatus.SENT, sent_at=now - dt.timedelta(days=3), **changes
    )
    return Invitation.objects.get(pk=invitation_id)


@pytest.mark.django_db
def test_an_unanswered_sms_becomes_a_cati_case_after_the_policy_delay():
    now = WEDNESDAY_11
    unanswered = sent_invitation(now, fallback_at=now - dt.timedelta(hours=1))
    not_yet = sent_invitation(now, fallback_at=now + dt.timedelta(hours=1))
    answered = sent_invitation(now, fallback_at=now - dt.timedelta(hours=1))
    Response.objects.create(
        invitation=answered,
        client_id=answered.client_id,
        operator_id=answered.operator_id,
        contact_id=answered.contact_id,
        contact_channel="phone",
        contact_outcome="promise_to_pay",
        channel=ResponseChannel.WEB,
        survey_version_id=apps.get_model("surveys", "SurveyVersion").objects.first().pk,
        language="it",
    )

    assert invitations_fall_back(now=now) == 1

    unanswered.refresh_from_db()
    assert (unanswered.status, unanswered.channel) == (InvitationStatus.CATI, Channel.CATI)
    case = CatiCase.objects.get(invitation=unanswered)
    assert now <= case.due_at <= now + dt.timedelta(minutes=10)
    assert Invitation.objects.get(pk=not_yet.pk).status == InvitationStatus.SENT
    assert Invitation.objects.get(pk=answered.pk).status == InvitationStatus.SENT
    assert invitations_fall_back(now=now) == 0  # once
    assert CatiCase.objects.count() == 1


@pytest.mark.django_db
def test_one_reminder_at_most(fake_twilio, django_capture_on_commit_callbacks):
    always_open(reminder_after=dt.timedelta(hours=24))
    now = timezone.now()
    invitation = sent_invitation(now, reminder_at=now - dt.timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert reminders_queue(now=now) == 1  # eager: sent at once
    assert reminders_queue(now=now) == 0
    assert reminders_queue(now=now + dt.timedelta(days=1)) == 0

    [reminder] = SmsMessage.objects.filter(invitation=invitation, kind=SmsKind.REMINDER)
    assert reminder.status == SmsStatus.ACCEPTED
    assert fake_twilio.sent_count(invitation.phone_e164) == 1
    link = f"http://127.0.0.1:8000/s/{invitation.token}/"
    assert reminder.body == DEFAULT_TEMPLATES[("reminder", "it")].replace("{link}", link)


@pytest.mark.django_db
def test_links_past_their_lifetime_expire():
    now = WEDNESDAY_11
    old = sent_invitation(now, expires_at=now - dt.timedelta(seconds=1))
    fresh = sent_invitation(now, expires_at=now + dt.timedelta(days=1))

    assert invitations_expire(now=now) == 1

    assert Invitation.objects.get(pk=old.pk).status == InvitationStatus.EXPIRED
    assert Invitation.objects.get(pk=fresh.pk).status == InvitationStatus.SENT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_policy_another_thread_has_not_committed_yet_does_not_stop_a_dispatcher():
    # The first planner or dispatcher to run makes the default policy, inside its own
    # transaction; a second thread of the same process shares the policy cache and must work
    # from the policy object, not read that row back before it is committed.
    from types import SimpleNamespace

    from surveys.dispatch import invitation_zones_profile
    from surveys.policies import policy_for_client_id
    from surveys.windows import is_allowed
    from tests.factories import ClientFactory

    Policy.objects.all().delete()
    policy_cache_clear()
    client = ClientFactory.create()
    created, finish = threading.Event(), threading.Event()

    def first_dispatcher() -> None:
        try:
            with transaction.atomic():
                policy_for_client_id(client.pk)  # creates the default policy, uncommitted
                created.set()
                finish.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=first_dispatcher)
    thread.start()
    try:
        assert created.wait(timeout=10)
        assert not Policy.objects.exists()  # not visible from here yet
        invitation = SimpleNamespace(client_id=client.pk, time_zones="Europe/Rome")
        zones, profile = invitation_zones_profile(invitation)
        assert zones == ("Europe/Rome",)
        # The default Italian window: Wednesday at 11:00 in Rome is open, 22:00 is not.
        assert is_allowed(WEDNESDAY_11, zones=zones, profile=profile)
        assert not is_allowed(WEDNESDAY_11.replace(hour=22), zones=zones, profile=profile)
    finally:
        finish.set()
        thread.join(timeout=10)
