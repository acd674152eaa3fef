"""What the agency's collection system tells us: clients, operators, debtors, accounts,
contacts, promises and payments. Nothing here knows about surveys."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    ITALIAN = "it", "Italiano"
    SPANISH = "es", "Español"
    ENGLISH = "en", "English"


class Client(models.Model):
    """A creditor whose debts the agency collects. One client never sees another's data."""

    ref = models.SlugField(max_length=64, unique=True, help_text="The client's id in the feeds.")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    default_language = models.CharField(max_length=2, choices=Language.choices)
    time_zone = models.CharField(max_length=64, default="Europe/Rome")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_language__in=Language.values), name="client_language_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Operator(models.Model):
    """An agency collector. `ref` is the agency's staff id, unique across clients; the client
    they serve now is `client`, and `OperatorAssignment` keeps the history of moves."""

    ref = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="operators")
    # The same person may also work as a CATI caller: the queue never gives them their own
    # contacts to survey.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="operator",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "ref"]

    def __str__(self) -> str:
        return self.name or self.ref


class OperatorAssignment(models.Model):
    """Which client an operator served, and from when. The open row has `ended_at` null."""

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="assignments")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["operator", "started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="assignment_end_not_before_start",
            ),
            models.UniqueConstraint(
                fields=["operator"],
                condition=Q(ended_at__isnull=True),
                name="assignment_one_open_per_operator",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operator} → {self.client} from {self.started_at:%Y-%m-%d}"


class Debtor(models.Model):
    """A client's customer. The phone is stored in E.164; the cross-client survey cap is keyed
    on it, since one person may owe several clients."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="debtors")
    ref = models.CharField(max_length=64)
    phone_e164 = models.CharField(max_length=20, db_index=True)
    country = models.CharField(max_length=2)
    # The address's region (ISO 3166-2 subdivision without the country, e.g. "CA"), optional:
    # where a country spans time zones it narrows the debtor's possible zones.
    region = models.CharField(max_length=3, blank=True, default="")
    language = models.CharField(max_length=2, choices=Language.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "ref"], name="debtor_unique_ref"),
            models.CheckConstraint(
                condition=Q(phone_e164__startswith="+"), name="debtor_phone_e164"
            ),
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="debtor_language_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client.ref}/{self.ref}"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone_e164)


def mask_phone(phone: str) -> str:
    """+393331234567 -> +39 ••• ••• 4567: enough to recognise, not enough to dial."""
    if len(phone) < 7:
        return "•" * len(phone)
    return f"{phone[:3]} ••• ••• {phone[-4:]}"


class Account(models.Model):
    """A debt placed with the agency for collection."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="accounts")
    ref = models.CharField(max_length=64)
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="accounts")
    placed_on = models.DateField()
    amount_placed = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "ref"], name="account_unique_ref"),
            models.CheckConstraint(
                condition=Q(amount_placed__gt=Decimal("0")), name="account_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["client", "placed_on"])]

    def __str__(self) -> str:
        return f"{self.client.ref}/{self.ref}"


class ContactChannel(models.TextChoices):
    PHONE = "phone", _("Phone call")
    HOME_VISIT = "home_visit", _("Home visit")


class Outcome(models.TextChoices):
    PROMISE_TO_PAY = "promise_to_pay", _("Promise to pay")
    PAID = "paid", _("Paid")
    PARTIAL_PAYMENT = "partial_payment", _("Partial payment")
    PAYMENT_PLAN = "payment_plan", _("Payment plan")
    DISPUTE = "dispute", _("Dispute")
    REFUSAL = "refusal", _("Refusal")
    CALLBACK_REQUESTED = "callback_requested", _("Callback requested")
    HARDSHIP = "hardship", _("Hardship")
    THIRD_PARTY = "third_party", _("Third party")
    WRONG_PARTY = "wrong_party", _("Wrong party")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    VOICEMAIL = "voicemail", _("Voicemail")


RIGHT_PARTY_OUTCOMES: frozenset[str] = frozenset(
    {
        Outcome.PROMISE_TO_PAY,
        Outcome.PAID,
        Outcome.PARTIAL_PAYMENT,
        Outcome.PAYMENT_PLAN,
        Outcome.DISPUTE,
        Outcome.REFUSAL,
        Outcome.CALLBACK_REQUESTED,
        Outcome.HARDSHIP,
    }
)
_NOT_RIGHT_PARTY = frozenset(Outcome.values) - RIGHT_PARTY_OUTCOMES
PROMISE_OUTCOMES: frozenset[str] = frozenset({Outcome.PROMISE_TO_PAY, Outcome.PAYMENT_PLAN})
FORBIDDING_FLAGS: tuple[str, ...] = (
    "cease_contact",
    "deceased",
    "bankruptcy",
    "attorney",
    "vulnerable",
)


class Contact(models.Model):
    """One collection call or home visit, with its outcome. The survey rates a contact."""

    # No single-column indexes on the foreign keys: each leads a composite index below (or the
    # unique reference), and every index costs the ingest of a million contacts dearly.
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="contacts", db_index=False
    )
    ref = models.CharField(max_length=64)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="contacts", db_index=False
    )
    operator = models.ForeignKey(
        Operator, on_delete=models.PROTECT, related_name="contacts", db_index=False
    )
    channel = models.CharField(max_length=16, choices=ContactChannel.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    # Space-separated forbidding flags, in the order of FORBIDDING_FLAGS; empty when none.
    flags = models.CharField(max_length=80, blank=True, default="")
    # True / False when the operator asked; None when unknown.
    survey_consent = models.BooleanField(null=True, blank=True)
    right_party = models.BooleanField(
        help_text="Derived from the outcome: a right-party contact reached the debtor."
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "ref"], name="contact_unique_ref"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="contact_end_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=Outcome.values), name="contact_outcome_known"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=ContactChannel.values), name="contact_channel_known"
            ),
            models.CheckConstraint(
                condition=Q(right_party=True, outcome__in=sorted(RIGHT_PARTY_OUTCOMES))
                | Q(
                    right_party=False,
                    outcome__in=sorted(set(Outcome.values) - RIGHT_PARTY_OUTCOMES),
                ),
                name="contact_right_party_matches_outcome",
            ),
        ]
        indexes = [
            models.Index(fields=["operator", "started_at"]),
            models.Index(fields=["client", "started_at"]),
            models.Index(fields=["account", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.client.ref}/{self.ref}"

    @property
    def flag_list(self) -> list[str]:
        return self.flags.split() if self.flags else []


class ConsentRecord(models.Model):
    """The evidence of a survey consent (or refusal) captured by an operator on a contact:
    who, when, on which channel, and the wording version the operator read."""

    debtor = models.ForeignKey(
        Debtor, on_delete=models.PROTECT, related_name="consents", db_index=False
    )
    contact = models.OneToOneField(Contact, on_delete=models.PROTECT, related_name="consent")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="+")
    given = models.BooleanField()
    captured_at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=ContactChannel.choices)
    wording_version = models.CharField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["debtor", "captured_at"])]

    def __str__(self) -> str:
        return f"{'yes' if self.given else 'no'} by {self.debtor} at {self.captured_at:%Y-%m-%d}"


class Promise(models.Model):
    """A promise to pay made on a contact (outcome promise_to_pay or payment_plan)."""

    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="promise")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="promises")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    due_on = models.DateField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=Decimal("0")), name="promise_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} by {self.due_on}"


class Payment(models.Model):
    """Money recovered on an account. A reversal is its own row pointing at the payment it
    undoes; net collected = payments - reversals."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    ref = models.CharField(max_length=64)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    paid_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "ref"], name="payment_unique_ref"),
            models.CheckConstraint(
                condition=Q(amount__gt=Decimal("0")), name="payment_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(reversal_of=F("id")), name="payment_not_reversing_itself"
            ),
        ]
        indexes = [models.Index(fields=["account", "paid_at"])]

    def __str__(self) -> str:
        return f"{self.client.ref}/{self.ref}"

    @property
    def signed_amount(self) -> Decimal:
        return -self.amount if self.reversal_of_id else self.amount


class ImportRun(models.Model):
    """One ingest of one feed (a CSV file or an API call), with its counts and the rows it
    rejected, so an agency can see what landed and what did not."""

    class Feed(models.TextChoices):
        ACCOUNTS = "accounts", "Accounts"
        CONTACTS = "contacts", "Contacts"
        PAYMENTS = "payments", "Payments"

    feed = models.CharField(max_length=16, choices=Feed.choices)
    source = models.CharField(max_length=300, help_text="File name, or 'api'")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first rejected rows, each {"line", "column", "reason"}; the full report is printed.
    errors = models.JSONField(default=list, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.feed} from {self.source} at {self.started_at:%Y-%m-%d %H:%M}"


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    SUPERVISOR = "supervisor", "Supervisor"
    CALLER = "caller", "CATI caller"
    CLIENT_VIEWER = "client_viewer", "Client viewer"


class Membership(models.Model):
    """A user's role in the product. A client viewer is bound to exactly one client and can
    never read another's data; the agency roles see every client."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="viewers"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role="client_viewer", client__isnull=False)
                | (~Q(role="client_viewer") & Q(client__isnull=True)),
                name="membership_client_iff_viewer",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_known"),
        ]

    def __str__(self) -> str:
        suffix = f" of {self.client}" if self.client_id else ""
        return f"{self.user} ({self.get_role_display()}{suffix})"
