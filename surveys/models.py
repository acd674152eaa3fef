"""Asking: survey definitions, per-client policies, invitations (the outbox), SMS messages,
opt-outs, CATI cases and the responses they produce."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from collections_link.models import Client, Contact, ContactChannel, Debtor, Language, Operator


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    CATI = "cati", "CATI"


class Survey(models.Model):
    """A client's survey (or the shared default when `client` is null). Its questions live in
    immutable `SurveyVersion` rows so an answer keeps the wording it answered."""

    client = models.OneToOneField(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="survey"
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Exactly one shared default survey (client null).
            models.UniqueConstraint(
                fields=["name"], condition=Q(client__isnull=True), name="survey_one_default_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def current_version(self) -> SurveyVersion:
        version = self.versions.order_by("-number").first()
        if version is None:
            raise SurveyVersion.DoesNotExist(f"Survey {self} has no version")
        return version


class SurveyVersion(models.Model):
    """One frozen wording of a survey. `questions` is a list of
    {"key", "kind", "required", "text": {"it","es","en"}, "choices": [{"value","label":{...}}]}
    validated by `surveys.definitions.validate_questions` (NPS first, then the reason, then at
    most five extras)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    questions = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "number"], name="survey_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} v{self.number}"


class Policy(models.Model):
    """How and when a client's debtors are surveyed. `client` null is the agency default used
    by every client without its own. Validation lives in `surveys.policies.policy_validate`."""

    client = models.OneToOneField(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="survey_policy"
    )
    channels = models.JSONField(default=list, help_text='In order, e.g. ["sms", "cati"].')
    delay_after_contact = models.DurationField(default=dt.timedelta(hours=2))
    fallback_delay = models.DurationField(
        default=dt.timedelta(hours=48),
        help_text="An SMS invitation with no answer after this becomes a CATI case.",
    )
    eligible_outcomes = models.JSONField(default=list, help_text="Contact outcome codes.")
    consent_required_countries = models.JSONField(
        default=list, help_text='Countries where SMS needs recorded opt-in, e.g. ["IT", "ES"].'
    )
    cap_days = models.PositiveIntegerField(
        default=30, help_text="At most one survey per debtor (phone) in this many days."
    )
    sampling_rate = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("100.00"), help_text="Percent."
    )
    min_per_operator_month = models.PositiveIntegerField(
        default=30, help_text="Sample at least this many contacts per operator per month."
    )
    reminder_after = models.DurationField(
        null=True, blank=True, help_text="Send one reminder after this long; empty for none."
    )
    link_lifetime = models.DurationField(default=dt.timedelta(days=7))
    window_country = models.CharField(
        max_length=2, default="IT", help_text="Built-in window profile: IT, ES or US."
    )
    window_profile = models.JSONField(
        default=dict, blank=True, help_text="A full window profile overriding the built-in one."
    )
    cati_max_attempts = models.PositiveIntegerField(default=4)
    cati_max_days = models.PositiveIntegerField(default=10)
    cati_min_gap = models.DurationField(default=dt.timedelta(hours=3))
    us_call_ledger = models.BooleanField(
        default=False, help_text="Count survey calls in the Reg F 7-in-7 ledger."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(sampling_rate__gte=0) & Q(sampling_rate__lte=100),
                name="policy_sampling_rate_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"Policy for {self.client or 'every client (default)'}"


class InvitationStatus(models.TextChoices):
    SUPPRESSED = "suppressed", "Suppressed (not surveyed)"
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    CATI = "cati", "In the CATI queue"
    PARTIAL = "partial", "Partly answered"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class SuppressionReason(models.TextChoices):
    INELIGIBLE_OUTCOME = "ineligible_outcome", "Ineligible outcome"
    FORBIDDING_FLAG = "forbidding_flag", "Forbidding flag"
    NO_CONSENT = "no_consent", "No consent"
    OPTED_OUT = "opted_out", "Opted out"
    CAPPED = "capped", "Capped (surveyed recently)"
    NOT_SAMPLED = "not_sampled", "Not sampled"
    NO_CHANNEL = "no_channel", "No usable channel"
    NO_WINDOW = "no_window", "No allowed time window"
    TOO_OLD = "too_old", "Contact too old to survey"
    INVALID_NUMBER = "invalid_number", "Invalid phone number"


def new_token() -> str:
    # 16 random bytes = 128 bits, 22 URL-safe characters: short enough for one SMS segment.
    return secrets.token_urlsafe(16)


class Invitation(models.Model):
    """One attempt to survey one debtor about one contact. Every contact gets exactly one row:
    either an invitation with a `send_after` inside the debtor's window, or a suppression with
    its reason. The row is the schedule: the dispatcher claims rows that are due."""

    contact = models.OneToOneField(Contact, on_delete=models.PROTECT, related_name="invitation")
    # No index of their own on client, operator and phone: the composite indexes below begin
    # with them (each index is one more write on every status change).
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="invitations", db_index=False
    )
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="invitations", db_index=False
    )
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="invitations")
    phone_e164 = models.CharField(max_length=20)
    language = models.CharField(max_length=2, choices=Language.choices)
    # The IANA zones the debtor may be in, space-separated; the window is their overlap.
    time_zones = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=InvitationStatus.choices)
    suppression_reason = models.CharField(
        max_length=24, choices=SuppressionReason.choices, blank=True, default=""
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True, default="")
    survey_version = models.ForeignKey(
        SurveyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Migration 0004 drops the pattern (LIKE) index PostgreSQL gets beside the unique one.
    token = models.CharField(max_length=32, unique=True, null=True, blank=True)
    send_after = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    fallback_at = models.DateTimeField(null=True, blank=True)
    reminder_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=InvitationStatus.values), name="invitation_status_known"
            ),
            models.CheckConstraint(
                condition=(Q(status="suppressed") & ~Q(suppression_reason=""))
                | (~Q(status="suppressed") & Q(suppression_reason="")),
                name="invitation_reason_iff_suppressed",
            ),
            models.CheckConstraint(
                condition=~Q(status="scheduled") | Q(send_after__isnull=False),
                name="invitation_scheduled_has_time",
            ),
        ]
        indexes = [
            # The dispatcher's claim: due SMS invitations in send_after order.
            models.Index(
                fields=["send_after"],
                condition=Q(status="scheduled"),
                name="invitation_due_idx",
            ),
            models.Index(fields=["client", "status"]),
            models.Index(fields=["phone_e164", "created_at"]),
            models.Index(fields=["operator", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk} ({self.status})"

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and (now or timezone.now()) >= self.expires_at

    def is_answerable(self, now: dt.datetime | None = None) -> bool:
        return self.status in {
            InvitationStatus.SENT,
            InvitationStatus.PARTIAL,
            InvitationStatus.CATI,
        } and not self.is_expired(now)


class SmsKind(models.TextChoices):
    INVITATION = "invitation", "Invitation"
    REMINDER = "reminder", "Reminder"
    CONFIRMATION = "confirmation", "Opt-out confirmation"
    REPLY = "reply", "Reply to the debtor"


class SmsStatus(models.TextChoices):
    # Ordered: a status callback only ever moves a message forward in this list.
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    ACCEPTED = "accepted", "Accepted by the provider"
    QUEUED = "queued", "Queued at the provider"
    SENT = "sent", "Sent to the carrier"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled before sending"


class SmsMessage(models.Model):
    """One outbound SMS. The intent row is written before the provider is called, and the
    provider id stored after; a second run of the send task finds the id and does nothing."""

    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    kind = models.CharField(max_length=16, choices=SmsKind.choices)
    to = models.CharField(max_length=20)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=SmsStatus.choices, default=SmsStatus.PENDING)
    backend = models.CharField(max_length=16)
    # Unique where set (a partial index, `sms_provider_sid_unique`): a message is written
    # without one, and an index entry for every NULL would only cost the dispatcher's insert.
    provider_sid = models.CharField(max_length=64, null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    error_message = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    # A transient delivery error (30003, 30008) gets one more try, never two.
    retried = models.BooleanField(default=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One invitation SMS and at most one reminder per invitation, ever.
            models.UniqueConstraint(
                fields=["invitation", "kind"],
                condition=Q(kind__in=["invitation", "reminder"]),
                name="sms_one_per_invitation_kind",
            ),
            models.UniqueConstraint(
                fields=["provider_sid"],
                condition=Q(provider_sid__isnull=False),
                name="sms_provider_sid_unique",
            ),
        ]
        indexes = [
            # The requeue pass (pending messages whose task never ran) and the reaper (sent
            # messages stuck in "sending"): each index holds only the rows its pass looks for.
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="sms_pending_idx"
            ),
            models.Index(
                fields=["sending_started_at"], condition=Q(status="sending"), name="sms_sending_idx"
            ),
            models.Index(fields=["to", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"SMS {self.pk} {self.kind} ({self.status})"


class SmsTemplate(models.Model):
    """The invitation text per client (or default when `client` is null) and language, with
    `{link}` where the survey link goes. Checked when saved (`surveys.templates_check`)."""

    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="sms_templates"
    )
    kind = models.CharField(max_length=16, choices=SmsKind.choices, default=SmsKind.INVITATION)
    language = models.CharField(max_length=2, choices=Language.choices)
    body = models.CharField(max_length=400)
    paused = models.BooleanField(
        default=False, help_text="Paused after a carrier filtered it (error 30007)."
    )
    paused_reason = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "kind", "language"], name="sms_template_unique"
            ),
            models.UniqueConstraint(
                fields=["kind", "language"],
                condition=Q(client__isnull=True),
                name="sms_template_unique_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} [{self.language}] for {self.client or 'default'}"


class OptOut(models.Model):
    """A phone number that must not be surveyed, for every client. `active` false after the
    debtor opts back in; the events keep the evidence."""

    phone_e164 = models.CharField(max_length=20, unique=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)
    confirmation_sent = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.phone_e164} ({'out' if self.active else 'in'})"


class OptOutEvent(models.Model):
    class Source(models.TextChoices):
        SMS_KEYWORD = "sms_keyword", "SMS keyword"
        SMS_REVIEW = "sms_review", "Reviewed free text"
        PROVIDER = "provider", "Provider error 21610"
        CATI_DNC = "cati_dnc", "CATI do-not-call"
        WEB = "web", "Survey page link"
        ADMIN = "admin", "Administrator"

    opt_out = models.ForeignKey(OptOut, on_delete=models.PROTECT, related_name="events")
    opted_out = models.BooleanField(help_text="True for an opt-out, false for an opt-in.")
    source = models.CharField(max_length=16, choices=Source.choices)
    detail = models.CharField(max_length=300, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return (
            f"{'opt-out' if self.opted_out else 'opt-in'} via {self.source} at {self.at:%Y-%m-%d}"
        )


class InboundMessage(models.Model):
    """An SMS from a debtor, deduplicated on Twilio's MessageSid."""

    class Kind(models.TextChoices):
        SCORE = "score", "Score"
        REASON = "reason", "Reason"
        OPT_OUT = "opt_out", "Opt-out keyword"
        OPT_IN = "opt_in", "Opt-in keyword"
        REVIEW = "review", "Needs review"
        OTHER = "other", "Other"

    message_sid = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=20, db_index=True)
    to_number = models.CharField(max_length=20, blank=True, default="")
    body = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True, default="")
    invitation = models.ForeignKey(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.message_sid} from {self.from_number}"


class StatusEvent(models.Model):
    """A delivery-status callback, deduplicated on (MessageSid, MessageStatus)."""

    message_sid = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    error_code = models.IntegerField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message_sid", "status"], name="status_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.message_sid} {self.status}"


class ReviewItem(models.Model):
    """Free text that sounds like "stop writing to me": a supervisor decides."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        OPTED_OUT = "opted_out", "Opted out"
        DISMISSED = "dismissed", "Dismissed"

    inbound = models.OneToOneField(InboundMessage, on_delete=models.CASCADE, related_name="review")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Review of {self.inbound} ({self.state})"


class ResponseChannel(models.TextChoices):
    WEB = "web", _("Web page")
    SMS_REPLY = "sms_reply", _("SMS reply")
    CATI = "cati", _("CATI")


class Response(models.Model):
    """The answers to one invitation: at most one per invitation, whatever the channel. It
    carries the client, operator, contact channel and outcome it rates, denormalised so the
    analytics aggregate one table."""

    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="response")
    # Indexed by the (client, answered_at) and (operator, answered_at) indexes below.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="responses", db_index=False
    )
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="responses", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="responses")
    contact_channel = models.CharField(max_length=16, choices=ContactChannel.choices)
    contact_outcome = models.CharField(max_length=24)
    channel = models.CharField(max_length=16, choices=ResponseChannel.choices)
    survey_version = models.ForeignKey(SurveyVersion, on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=2, choices=Language.choices)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    answers = models.JSONField(default=dict, blank=True)
    complete = models.BooleanField(default=False)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cati_responses",
    )
    started_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the NPS score was given."
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    # Lets the analytics roll-up refresh only what changed since its last pass.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=10)),
                name="response_score_0_10",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(answered_at__isnull=False),
                name="response_scored_has_time",
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(completed_at__gte=F("started_at")),
                name="response_complete_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "answered_at"]),
            models.Index(fields=["operator", "answered_at"]),
        ]

    def __str__(self) -> str:
        return f"Response {self.pk} score={self.score}"

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "reason": self.reason, "answers": self.answers}


class Disposition(models.Model):
    """A CATI call outcome, after AAPOR's codes, kept as data: its AAPOR class, how long to
    wait before the next attempt, whether it ends the case, and the caller's shortcut key."""

    class AaporClass(models.TextChoices):
        I = "I", "Complete interview"  # noqa: E741
        P = "P", "Partial interview"
        R = "R", "Refusal and break-off"
        NC = "NC", "Non-contact"
        O = "O", "Other"  # noqa: E741
        UH = "UH", "Unknown eligibility (household)"
        UO = "UO", "Unknown eligibility (other)"
        NE = "NE", "Not eligible"

    code = models.SlugField(max_length=32, unique=True)
    label = models.CharField(max_length=100)
    aapor_code = models.CharField(max_length=8, help_text="e.g. 1.1, 2.111b, 3.13")
    aapor_class = models.CharField(max_length=2, choices=AaporClass.choices)
    retry_after = models.DurationField(null=True, blank=True)
    final = models.BooleanField(default=False)
    # A do-not-call ends surveys of this number for every client.
    opt_out = models.BooleanField(default=False)
    counts_as_attempt = models.BooleanField(default=True)
    conversation = models.BooleanField(
        default=False, help_text="A conversation with the debtor (for the US call ledger)."
    )
    shortcut = models.CharField(max_length=1, unique=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return f"{self.label} ({self.aapor_code})"


class CatiCaseStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    HELD = "held", "Held by a caller"
    DONE = "done", "Done"


class CatiCase(models.Model):
    """An invitation in the callers' queue. One caller holds it at a time, under a lease that
    runs out if the caller vanishes."""

    invitation = models.OneToOneField(Invitation, on_delete=models.PROTECT, related_name="cati")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=8, choices=CatiCaseStatus.choices, default=CatiCaseStatus.QUEUED
    )
    due_at = models.DateTimeField(help_text="Not offered before this instant.")
    callback_at = models.DateTimeField(null=True, blank=True)
    callback_note = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    final_disposition = models.ForeignKey(
        Disposition, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="held")
                | (Q(held_by__isnull=False) & Q(lease_expires_at__isnull=False)),
                name="cati_held_has_lease",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="queued"), name="cati_due_idx"),
            # Call-backs due now come first: without this the claim scans the whole queue.
            models.Index(
                fields=["callback_at"],
                condition=Q(status="queued") & Q(callback_at__isnull=False),
                name="cati_callback_idx",
            ),
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="held"), name="cati_lease_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"CATI case {self.pk} ({self.status})"


class CallAttempt(models.Model):
    """One call a caller placed (or began) on a case, and how it ended."""

    case = models.ForeignKey(CatiCase, on_delete=models.CASCADE, related_name="attempts_log")
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    disposition = models.ForeignKey(
        Disposition, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")
    lease_lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"Attempt on case {self.case_id} at {self.started_at:%Y-%m-%d %H:%M}"
