"""When a CATI case may be called: the client's policy, the debtor's zones and window, and the
rotation of attempts over the parts of the day (DOMAIN rule 3). Reads the policy; writes
nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from surveys.models import CatiCase, Policy
from surveys.policies import client_window_profile, policy_for_client_id
from surveys.windows import WindowProfile, intervals, is_allowed, next_allowed

# Day-parts in the debtor's local time: (name, first minute).
DAY_PARTS: tuple[tuple[str, int], ...] = (
    ("morning", 0),
    ("afternoon", 12 * 60),
    ("evening", 17 * 60),
)
# Moving an attempt into the next day-part may delay it by at most this much.
ROTATION_MAX_DELAY = dt.timedelta(hours=24)


@dataclass(frozen=True)
class CaseRules:
    policy: Policy
    zones: tuple[str, ...]
    profile: WindowProfile

    @property
    def zone(self) -> ZoneInfo:
        """The zone the console shows times in (the first of the debtor's possible zones)."""
        return ZoneInfo(self.zones[0]) if self.zones else ZoneInfo("UTC")

    def allowed(self, instant: dt.datetime) -> bool:
        return not self.zones or is_allowed(instant, zones=self.zones, profile=self.profile)

    def next_open(self, instant: dt.datetime) -> dt.datetime | None:
        if not self.zones:
            return instant
        return next_allowed(instant, zones=self.zones, profile=self.profile)

    def deadline(self, case: CatiCase) -> dt.datetime | None:
        if case.first_attempt_at is None:
            return None
        return case.first_attempt_at + dt.timedelta(days=self.policy.cati_max_days)

    def local_day_hours(self, instant: dt.datetime) -> str:
        """The allowed hours on the debtor's local day of `instant`, for a refusal message."""
        tz = self.zone
        day = instant.astimezone(tz).date()
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        spans = intervals(start, end, zones=self.zones, profile=self.profile) if self.zones else []
        label = f"{day:%A %d %B %Y}"
        if not spans:
            return f"On {label} the debtor may not be called at all."
        hours = ", ".join(
            f"{a.astimezone(tz):%H:%M}-{'24:00' if b >= end else f'{b.astimezone(tz):%H:%M}'}"
            for a, b in spans
        )
        return f"On {label} the debtor may be called {hours} ({tz.key} time)."


def case_rules(case: CatiCase) -> CaseRules:
    policy = policy_for_client_id(case.client_id)
    zones = tuple(case.invitation.time_zones.split())
    return CaseRules(policy=policy, zones=zones, profile=client_window_profile(case.client_id))


def day_part(instant: dt.datetime, tz: ZoneInfo) -> int:
    local = instant.astimezone(tz)
    minute = local.hour * 60 + local.minute
    part = 0
    for index, (_, first_minute) in enumerate(DAY_PARTS):
        if minute >= first_minute:
            part = index
    return part


def _next_day_part_start(instant: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    local = instant.astimezone(tz)
    part = day_part(instant, tz)
    if part + 1 < len(DAY_PARTS):
        minutes = DAY_PARTS[part + 1][1]
        day = local.date()
    else:
        minutes = DAY_PARTS[0][1]
        day = local.date() + dt.timedelta(days=1)
    naive = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(minutes=minutes)
    return naive.replace(tzinfo=tz)


def next_due(
    *, rules: CaseRules, earliest: dt.datetime, last_attempt_at: dt.datetime | None, rotate: bool
) -> dt.datetime | None:
    """The first allowed instant from `earliest`, moved into another day-part than the last
    attempt's when that costs at most a day."""
    due = rules.next_open(earliest)
    if due is None or not rotate or last_attempt_at is None or not rules.zones:
        return due
    tz = rules.zone
    if day_part(due, tz) != day_part(last_attempt_at, tz):
        return due
    moved = rules.next_open(_next_day_part_start(due, tz))
    if moved is not None and moved - due <= ROTATION_MAX_DELAY:
        return moved
    return due
