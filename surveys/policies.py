"""Per-client survey policies: the defaults, which policy applies, and the validation that
refuses a bad one with a message saying what to fix."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from collections_link.models import RIGHT_PARTY_OUTCOMES, Client, Outcome
from surveys.models import Channel, Policy
from surveys.windows import PROFILES, WindowProfile

DEFAULT_CHANNELS = [Channel.SMS.value, Channel.CATI.value]
DEFAULT_CONSENT_COUNTRIES = ["IT", "ES"]


def policy_defaults() -> dict[str, Any]:
    """The values of the agency's default policy, per ../DOMAIN.md."""
    return {
        "channels": list(DEFAULT_CHANNELS),
        "eligible_outcomes": sorted(RIGHT_PARTY_OUTCOMES),
        "consent_required_countries": list(DEFAULT_CONSENT_COUNTRIES),
        "delay_after_contact": dt.timedelta(hours=2),
        "fallback_delay": dt.timedelta(hours=48),
        "cap_days": 30,
        "sampling_rate": Decimal("100.00"),
        "min_per_operator_month": 30,
        "reminder_after": dt.timedelta(hours=24),
        "link_lifetime": dt.timedelta(days=7),
        "window_country": "IT",
        "window_profile": {},
        "cati_max_attempts": 4,
        "cati_max_days": 10,
        "cati_min_gap": dt.timedelta(hours=3),
    }


# Policies change rarely and are read for every invitation the dispatcher handles: keep them
# for a few seconds per process, so an edit in admin applies within POLICY_CACHE_SECONDS.
POLICY_CACHE_SECONDS = 30.0
_policy_cache: dict[int, tuple[float, Policy]] = {}


def policy_for_client(client: Client, *, cache: dict[int, Policy] | None = None) -> Policy:
    """The client's own policy, or the agency default (created on first use)."""
    return policy_for_client_id(client.pk, cache=cache)


def policy_for_client_id(client_id: int, *, cache: dict[int, Policy] | None = None) -> Policy:
    if cache is not None and client_id in cache:
        return cache[client_id]
    cached = _policy_cache.get(client_id)
    if cached is not None and time.monotonic() - cached[0] < POLICY_CACHE_SECONDS:
        policy = cached[1]
    else:
        policy = _policy_lookup(client_id)
        _policy_cache[client_id] = (time.monotonic(), policy)
    if cache is not None:
        cache[client_id] = policy
    return policy


def policy_cache_clear() -> None:
    _policy_cache.clear()
    _profiles.clear()
    _client_countries.clear()


# A client's country, for the default policy's window: kept as long as a policy is.
_client_countries: dict[int, tuple[float, str]] = {}


def client_window_profile(client_id: int, *, country: str | None = None) -> WindowProfile:
    """When a client's debtors may be messaged or called. A client's own policy sets it (its
    full profile, or its window country). A client on the agency's default policy gets the
    built-in window of its own country when there is one (IT, ES, US: Spain's hours for a
    Spanish client's debtors, not Italy's); the default's window country serves the rest."""
    policy = policy_for_client_id(client_id)
    if policy.window_profile or policy.client_id is not None:
        return policy_window_profile_cached(policy)
    if country is None:
        cached = _client_countries.get(client_id)
        if cached is not None and time.monotonic() - cached[0] < POLICY_CACHE_SECONDS:
            country = cached[1]
        else:
            found = Client.objects.filter(pk=client_id).values_list("country", flat=True).first()
            country = (found or "").upper()
            _client_countries[client_id] = (time.monotonic(), country)
    return PROFILES.get(country.upper()) or policy_window_profile_cached(policy)


def _policy_lookup(client_id: int) -> Policy:
    policy = Policy.objects.filter(client_id=client_id).first()
    if policy is None:
        policy = Policy.objects.filter(client__isnull=True).first()
    if policy is None:
        policy = Policy.objects.create(client=None, **policy_defaults())
    return policy


def policy_window_profile(policy: Policy) -> WindowProfile:
    """The window profile a policy uses: its own full profile if set, else the built-in one
    for its window country."""
    if policy.window_profile:
        return WindowProfile.from_dict(policy.window_profile)
    return PROFILES[policy.window_country]


# Parsed profiles by (policy, version): parsing a custom profile costs more than the window
# check itself, and the dispatcher and the CATI queue ask for every row they look at.
_profiles: dict[tuple[int | None, dt.datetime | None], WindowProfile] = {}
_PROFILES_MAX = 256


def policy_window_profile_cached(policy: Policy) -> WindowProfile:
    """`policy_window_profile`, parsed once per policy version. Built from the policy at hand,
    never read back from the database: the policy may be one this transaction created and
    another thread cannot see yet."""
    key = (policy.pk, policy.updated_at)
    profile = _profiles.get(key)
    if profile is None:
        if len(_profiles) >= _PROFILES_MAX:
            _profiles.clear()
        profile = _profiles[key] = policy_window_profile(policy)
    return profile


def policy_validate(policy: Policy) -> None:
    """Raise ValidationError, keyed by field, for every rule a policy breaks."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    channels = policy.channels
    if not isinstance(channels, list) or not channels:
        add("channels", 'List the channels in order, e.g. ["sms", "cati"].')
    else:
        unknown = [c for c in channels if c not in Channel.values]
        if unknown:
            add(
                "channels",
                f"Unknown channel(s) {', '.join(map(repr, unknown))}: use "
                f"{' or '.join(map(repr, Channel.values))}.",
            )
        if len(set(channels)) != len(channels):
            add("channels", "Each channel may appear only once.")
    outcomes = policy.eligible_outcomes
    if not isinstance(outcomes, list) or not outcomes:
        add("eligible_outcomes", "List at least one eligible contact outcome.")
    else:
        unknown = [o for o in outcomes if o not in Outcome.values]
        if unknown:
            add("eligible_outcomes", f"Unknown outcome code(s): {', '.join(map(str, unknown))}.")
        not_rpc = [o for o in outcomes if o in Outcome.values and o not in RIGHT_PARTY_OUTCOMES]
        if not_rpc:
            add(
                "eligible_outcomes",
                f"Only right-party contacts may be surveyed; remove {', '.join(not_rpc)}.",
            )
    countries = policy.consent_required_countries
    if not isinstance(countries, list) or any(
        not (isinstance(c, str) and len(c) == 2 and c.isupper()) for c in countries
    ):
        add("consent_required_countries", 'Use two-letter country codes, e.g. ["IT", "ES"].')
    for field in ("delay_after_contact", "fallback_delay", "link_lifetime", "cati_min_gap"):
        value = getattr(policy, field)
        if value is not None and value < dt.timedelta(0):
            add(field, "A delay cannot be negative.")
    if policy.reminder_after is not None:
        if policy.reminder_after <= dt.timedelta(0):
            add("reminder_after", "The reminder delay must be positive (or empty for none).")
        elif policy.link_lifetime and policy.reminder_after >= policy.link_lifetime:
            add("reminder_after", "The reminder must come before the link expires.")
    if policy.link_lifetime is not None and policy.link_lifetime < dt.timedelta(hours=1):
        add("link_lifetime", "A survey link must live at least one hour.")
    rate = policy.sampling_rate
    if rate is None or rate < 0 or rate > 100:
        add("sampling_rate", "The sampling rate is a percentage between 0 and 100.")
    if policy.cati_max_attempts is not None and policy.cati_max_attempts < 1:
        add("cati_max_attempts", "Allow at least one CATI attempt.")
    if policy.window_profile:
        try:
            WindowProfile.from_dict(policy.window_profile).validate()
        except (ValueError, KeyError, TypeError) as exc:
            add("window_profile", f"Window profile: {exc}")
    elif policy.window_country not in PROFILES:
        add(
            "window_country",
            f"No built-in window profile for {policy.window_country!r}; use one of "
            f"{', '.join(sorted(PROFILES))} or give a full window profile.",
        )
    if errors:
        raise ValidationError(errors)
