"""The three feeds' columns and the checks one row can pass or fail on its own.

Everything a single row can get wrong is caught here, in Python, before the row goes near the
database; what needs other rows or stored data (duplicates, unknown accounts, currencies,
reversals) is checked in SQL by `merge`. The checks are small precompiled functions run in a
loop, because at a million rows every microsecond per row is a second of the import.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, transaction

from collections_link.models import (
    FORBIDDING_FLAGS,
    PROMISE_OUTCOMES,
    RIGHT_PARTY_OUTCOMES,
    Client,
    ContactChannel,
    Language,
    Outcome,
)


@dataclass
class RowError:
    """One reason one row was not imported. `line` is the physical CSV line (the header is
    line 1), or the 1-based position of the item in an API request."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason}


class BadValue(ValueError):
    """A value that fails its column's check; the message is the reason shown to the user."""


REF_MAX = 64
_AMOUNT_RE = re.compile(r"(-?)(\d+)(?:\.(\d*))?\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_CURRENCY_RE = re.compile(r"[A-Z]{3}\Z")
_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]+\Z")
_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
_OUTCOMES = frozenset(Outcome.values)
_CHANNELS = frozenset(ContactChannel.values)
_LANGUAGES = frozenset(Language.values)
_FLAG_ORDER = {flag: i for i, flag in enumerate(FORBIDDING_FLAGS)}
_ZERO = Decimal(0)
_TIME_ZONES = {"IT": "Europe/Rome", "ES": "Europe/Madrid", "US": "America/New_York"}


def _text(value: str) -> str:
    return value


def _ref(value: str) -> str:
    if len(value) > REF_MAX:
        raise BadValue(f"is longer than {REF_MAX} characters")
    return value


def _name(value: str) -> str:
    if len(value) > 200:
        raise BadValue("is longer than 200 characters")
    return value


def _date(value: str) -> dt.date:
    if _DATE_RE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise BadValue(f"{value!r} is not a real date") from None
    raise BadValue(f"{value!r} is not a date in YYYY-MM-DD format")


def _datetime(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadValue(
            f"{value!r} is not an ISO 8601 date-time (expected e.g. 2026-11-20T15:42:00+01:00)"
        ) from None
    if parsed.tzinfo is None or len(value) <= 10:
        raise BadValue(
            f"{value!r} has no time with a UTC offset (expected e.g. 2026-11-20T15:42:00+01:00)"
        )
    return parsed


def _amount(value: str) -> Decimal:
    match = _AMOUNT_RE.match(value)
    if match is None:
        raise BadValue(
            f"{value!r} is not an amount (use a dot and at most two decimals, e.g. 412.80)"
        )
    sign, units, decimals = match.groups()
    if sign:
        raise BadValue(f"{value!r} is negative: amounts must be greater than 0")
    if decimals is not None and len(decimals) > 2:
        raise BadValue(f"{value!r} has more than two decimals")
    if len(units.lstrip("0")) > 12:
        raise BadValue(f"{value!r} is too large (at most 12 digits before the dot)")
    amount = Decimal(value)
    if amount <= _ZERO:
        raise BadValue(f"{value!r} is zero: amounts must be greater than 0")
    return amount


def _currency(value: str) -> str:
    if _CURRENCY_RE.match(value):
        return value
    raise BadValue(f"{value!r} is not an ISO 4217 currency code (three capitals, e.g. EUR)")


def _country(value: str) -> str:
    upper = value.upper()
    if len(upper) == 2 and upper in _COUNTRIES:
        return upper
    raise BadValue(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. IT)")


def _language(value: str) -> str:
    lower = value.lower()
    if lower in _LANGUAGES:
        return lower
    raise BadValue(f"{value!r} is not a supported language (it, es or en)")


def _channel(value: str) -> str:
    if value in _CHANNELS:
        return value
    raise BadValue(f"{value!r} is not a channel (phone or home_visit)")


def _outcome(value: str) -> str:
    if value in _OUTCOMES:
        return value
    raise BadValue(f"{value!r} is not a contact outcome ({', '.join(Outcome.values)})")


def _flags(value: str) -> str:
    flags = value.split()
    for flag in flags:
        if flag not in _FLAG_ORDER:
            raise BadValue(f"{flag!r} is not a forbidding flag ({', '.join(FORBIDDING_FLAGS)})")
    # Stored in the canonical order, once each, so the same flags always compare equal.
    return " ".join(sorted(set(flags), key=_FLAG_ORDER.__getitem__))


def _consent(value: str) -> bool:
    lower = value.lower()
    if lower == "yes":
        return True
    if lower == "no":
        return False
    raise BadValue(f"{value!r} is not yes, no or empty")


@functools.lru_cache(maxsize=8192)
def phone_e164(raw: str, country: str) -> str:
    """`raw` as E.164, read as dialled from `country`; BadValue when it is not a valid number.
    Cached because parsing costs ~60 µs and debtors with several accounts repeat numbers."""
    reason = f"{raw!r} is not a phone number for {country}"
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise BadValue(reason) from None
    if not phonenumbers.is_valid_number(number):
        raise BadValue(reason)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


Check = Callable[[str], Any]


@dataclass(frozen=True)
class Column:
    name: str
    check: Check
    required: bool = True


@dataclass(frozen=True)
class FeedSpec:
    """A feed's columns in their canonical order (the order the row checks see them in), and
    the staging table the valid rows go to: (name, kind) pairs after `line` and `client_id`."""

    name: str
    ref_column: str
    columns: tuple[Column, ...]
    stage: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


ACCOUNTS = FeedSpec(
    name="accounts",
    ref_column="account_ref",
    columns=(
        Column("client_ref", _ref),
        Column("account_ref", _ref),
        Column("debtor_ref", _ref),
        Column("debtor_phone", _text),
        Column("debtor_country", _country),
        Column("debtor_language", _language, required=False),
        Column("placed_at", _date),
        Column("amount_placed", _amount),
        Column("currency", _currency),
    ),
    stage=(
        ("ref", "text"),
        ("debtor_ref", "text"),
        ("phone", "text"),
        ("country", "text"),
        ("language", "text"),
        ("placed_on", "date"),
        ("amount", "dec"),
        ("currency", "text"),
    ),
)
CONTACTS = FeedSpec(
    name="contacts",
    ref_column="contact_ref",
    columns=(
        Column("client_ref", _ref),
        Column("contact_ref", _ref),
        Column("account_ref", _ref),
        Column("operator_ref", _ref),
        Column("operator_name", _name, required=False),
        Column("channel", _channel),
        Column("started_at", _datetime),
        Column("ended_at", _datetime, required=False),
        Column("outcome", _outcome),
        Column("flags", _flags, required=False),
        Column("promise_amount", _amount, required=False),
        Column("promise_due", _date, required=False),
        Column("survey_consent", _consent, required=False),
    ),
    stage=(
        ("ref", "text"),
        ("account_ref", "text"),
        ("operator_ref", "text"),
        ("operator_name", "text"),
        ("channel", "text"),
        ("started_at", "ts"),
        ("ended_at", "ts"),
        ("outcome", "text"),
        ("flags", "text"),
        ("right_party", "bool"),
        ("promise_amount", "dec"),
        ("promise_due", "date"),
        ("survey_consent", "bool"),
    ),
)
PAYMENTS = FeedSpec(
    name="payments",
    ref_column="payment_ref",
    columns=(
        Column("client_ref", _ref),
        Column("payment_ref", _ref),
        Column("account_ref", _ref),
        Column("paid_at", _datetime),
        Column("amount", _amount),
        Column("currency", _currency),
        Column("reversal_of", _ref, required=False),
    ),
    stage=(
        ("ref", "text"),
        ("account_ref", "text"),
        ("paid_at", "ts"),
        ("amount", "dec"),
        ("currency", "text"),
        ("reversal_of", "text"),
    ),
)
FEEDS: dict[str, FeedSpec] = {spec.name: spec for spec in (ACCOUNTS, CONTACTS, PAYMENTS)}


@dataclass
class ClientInfo:
    id: int
    default_language: str


class Clients:
    """The clients named by the rows, looked up once each (misses too). With `create` an
    unknown client is created the first time a row that is otherwise valid names it."""

    def __init__(self, *, create: bool) -> None:
        self.create = create
        self._known: dict[str, ClientInfo | None] = {}

    def get(self, ref: str) -> ClientInfo | None:
        try:
            return self._known[ref]
        except KeyError:
            pass
        client = Client.objects.filter(ref=ref).only("id", "default_language").first()
        info = ClientInfo(client.id, client.default_language) if client else None
        self._known[ref] = info
        return info

    def make(self, ref: str, *, country: str, language: str) -> ClientInfo:
        defaults = {
            "name": ref,
            "country": country,
            "default_language": language,
            "time_zone": _TIME_ZONES.get(country, "UTC"),
        }
        try:
            with transaction.atomic():
                client, _ = Client.objects.get_or_create(ref=ref, defaults=defaults)
        except IntegrityError:
            # Another import created it between our look-up and our insert.
            client = Client.objects.get(ref=ref)
        info = ClientInfo(client.id, client.default_language)
        self._known[ref] = info
        return info


def unknown_client_reason(ref: str) -> str:
    return f"unknown client {ref!r} (create it first, or import with --create-clients)"


class RowChecker:
    """Turns one row (its values in the feed's canonical column order) into the tuple the
    staging table takes, or into the list of everything wrong with it."""

    def __init__(self, spec: FeedSpec, *, clients: Clients) -> None:
        self.spec = spec
        self.clients = clients
        self.checks = [(c.name, c.check, c.required) for c in spec.columns]
        self._finish: Callable[[list[Any], int, list[RowError]], tuple[Any, ...] | None] = {
            "accounts": self._account,
            "contacts": self._contact,
            "payments": self._payment,
        }[spec.name]

    def __call__(self, values: Sequence[str], line: int) -> tuple[Any, ...] | list[RowError]:
        parsed: list[Any] = []
        errors: list[RowError] = []
        for (name, check, required), raw in zip(self.checks, values, strict=True):
            value = raw.strip()
            if not value:
                if required:
                    errors.append(RowError(line, name, "is required but empty"))
                parsed.append(None)
                continue
            try:
                parsed.append(check(value))
            except BadValue as exc:
                errors.append(RowError(line, name, str(exc)))
                parsed.append(None)
        staged = self._finish(parsed, line, errors)
        if errors or staged is None:
            return errors
        return staged

    def _client(
        self, ref: str | None, line: int, errors: list[RowError], *, country: str, language: str
    ) -> ClientInfo | None:
        if ref is None:
            return None
        info = self.clients.get(ref)
        if info is not None:
            return info
        if not self.clients.create:
            errors.append(RowError(line, "client_ref", unknown_client_reason(ref)))
        elif self.spec.name != "accounts":
            # A new client has no accounts yet, so its contact or payment would be rejected
            # anyway: creating the client would land something of a bad row.
            errors.append(
                RowError(
                    line,
                    "client_ref",
                    f"unknown client {ref!r}: import its accounts first (the accounts feed "
                    "creates clients with --create-clients)",
                )
            )
        elif not _SLUG_RE.match(ref):
            errors.append(
                RowError(
                    line,
                    "client_ref",
                    f"{ref!r} is not a valid client reference (letters, digits, - and _)",
                )
            )
        elif not errors:
            # Only a row that will land may create its client: nothing of a bad row lands.
            return self.clients.make(ref, country=country, language=language)
        return None

    def _account(self, p: list[Any], line: int, errors: list[RowError]) -> tuple[Any, ...] | None:
        client_ref, ref, debtor_ref, phone, country, language, placed_on, amount, currency = p
        if phone is not None and country is not None:
            try:
                phone = phone_e164(phone, country)
            except BadValue as exc:
                errors.append(RowError(line, "debtor_phone", str(exc)))
        info = self._client(
            client_ref, line, errors, country=country or "IT", language=language or "it"
        )
        if errors or info is None:
            return None
        return (
            line,
            info.id,
            ref,
            debtor_ref,
            phone,
            country,
            language or info.default_language,
            placed_on,
            amount,
            currency,
        )

    def _contact(self, p: list[Any], line: int, errors: list[RowError]) -> tuple[Any, ...] | None:
        (
            client_ref,
            ref,
            account_ref,
            operator_ref,
            operator_name,
            channel,
            started_at,
            ended_at,
            outcome,
            flags,
            promise_amount,
            promise_due,
            consent,
        ) = p
        if ended_at is not None and started_at is not None and ended_at < started_at:
            errors.append(RowError(line, "ended_at", "is before started_at"))
        if (promise_amount is None) != (promise_due is None):
            missing = "promise_due" if promise_due is None else "promise_amount"
            other = "promise_amount" if missing == "promise_due" else "promise_due"
            if not any(e.column == missing for e in errors):
                errors.append(RowError(line, missing, f"is required with {other}"))
        elif promise_amount is not None and outcome is not None and outcome not in PROMISE_OUTCOMES:
            errors.append(
                RowError(
                    line,
                    "promise_amount",
                    f"a promise needs outcome promise_to_pay or payment_plan, not {outcome!r}",
                )
            )
        info = self._client(client_ref, line, errors, country="IT", language="it")
        if errors or info is None:
            return None
        return (
            line,
            info.id,
            ref,
            account_ref,
            operator_ref,
            operator_name or "",
            channel,
            started_at,
            ended_at,
            outcome,
            flags or "",
            outcome in RIGHT_PARTY_OUTCOMES,
            promise_amount,
            promise_due,
            consent,
        )

    def _payment(self, p: list[Any], line: int, errors: list[RowError]) -> tuple[Any, ...] | None:
        client_ref, ref, account_ref, paid_at, amount, currency, reversal_of = p
        if reversal_of is not None and reversal_of == ref:
            errors.append(RowError(line, "reversal_of", "a payment cannot reverse itself"))
        info = self._client(client_ref, line, errors, country="IT", language="it")
        if errors or info is None:
            return None
        return (line, info.id, ref, account_ref, paid_at, amount, currency, reversal_of)


def consent_wording_version() -> str:
    return str(getattr(settings, "CONSENT_WORDING_VERSION", "v1"))
