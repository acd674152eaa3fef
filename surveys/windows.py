"""When a debtor may be contacted: allowed windows in the debtor's local time (DOMAIN rule 2).

Pure module (no models, no database): the planner, the dispatcher's send-time re-check, the
SMS ValidityPeriod and the CATI queue all call it, so it is built to be cheap to call.

Model
-----
A `WindowProfile` lists, per weekday, the local-time ranges in which contact is allowed, plus
the ranges for the day before a public holiday and for public holidays themselves. A debtor may
be in several time zones (`possible_time_zones`); an instant is allowed only when it is allowed
in *every* one of them (12 CFR 1006.6(b)(1)(i): "convenient in all of them").

Each local day's ranges are turned into UTC intervals once (cached per profile, zone and date)
and the zones' interval streams are intersected lazily, window by window, so `next_allowed`
never steps minute by minute. Ranges are half-open: a window 09:00-21:00 allows 20:59:59 and
not 21:00:00.

DST: local times are converted with zoneinfo. A range boundary that falls in a DST gap or
overlap is resolved so that the window gets shorter, never longer (a start takes the later
reading, an end the earlier one); "24:00" ends exactly where the next local day begins. The
default profiles never touch the small hours, where the changes happen.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from phonenumbers import timezone as pn_timezone

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
# Jitter stops this many seconds before the window closes, so that a send queued at the very
# end still leaves the provider (and clock skew) a moment inside the window.
JITTER_MARGIN_SECONDS = 60
DEFAULT_HORIZON_DAYS = 30

# A range is [start, end) in minutes since local midnight; end may be 1440 ("24:00").
Range = tuple[int, int]
Ranges = tuple[Range, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_DAY_SECONDS = 86_400
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_RNG = random.Random()  # jitter spreads load; it is not a secret


# --------------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------------


class WindowProfileDict(TypedDict):
    """The JSON shape of a profile (what a per-client policy stores in a JSONField)."""

    weekdays: dict[str, list[list[str]]]
    pre_holiday: list[list[str]] | None
    holiday: list[list[str]]
    holidays_country: str | None
    holidays_subdivision: str | None


@dataclass(frozen=True)
class WindowProfile:
    """Allowed local-time ranges per weekday (Mon..Sun), before holidays and on holidays.

    `pre_holiday=None` means the day before a holiday is an ordinary day; otherwise that day,
    if its weekday is open at all, gets these ranges instead. `holiday=()` means closed on
    public holidays. `holidays_country=None` disables the holiday calendar altogether.
    """

    weekdays: tuple[Ranges, ...]
    pre_holiday: Ranges | None = None
    holiday: Ranges = ()
    holidays_country: str | None = None
    holidays_subdivision: str | None = None

    def validate(self) -> None:
        """Raise ValueError saying what to fix; return None when the profile is usable."""
        if len(self.weekdays) != len(WEEKDAYS):
            raise ValueError(
                f"weekdays needs exactly 7 entries (Mon..Sun), got {len(self.weekdays)}"
            )
        for name, ranges in zip(WEEKDAYS, self.weekdays, strict=True):
            _validate_ranges(f"weekdays.{name}", ranges)
        if self.pre_holiday is not None:
            _validate_ranges("pre_holiday", self.pre_holiday)
        _validate_ranges("holiday", self.holiday)
        _validate_holiday_calendar(self.holidays_country, self.holidays_subdivision)

    def ranges_on(self, day: date) -> Ranges:
        """The ranges that apply on a local calendar day (holiday > closed day > pre-holiday)."""
        country = self.holidays_country
        if country is not None:
            if day in _holiday_dates(country, self.holidays_subdivision, day.year):
                return self.holiday
            base = self.weekdays[day.weekday()]
            if base and self.pre_holiday is not None:
                tomorrow = day + timedelta(days=1)
                if tomorrow in _holiday_dates(country, self.holidays_subdivision, tomorrow.year):
                    return self.pre_holiday
            return base
        return self.weekdays[day.weekday()]

    def to_dict(self) -> WindowProfileDict:
        return {
            "weekdays": {
                name: _ranges_to_json(ranges)
                for name, ranges in zip(WEEKDAYS, self.weekdays, strict=True)
            },
            "pre_holiday": None if self.pre_holiday is None else _ranges_to_json(self.pre_holiday),
            "holiday": _ranges_to_json(self.holiday),
            "holidays_country": self.holidays_country,
            "holidays_subdivision": self.holidays_subdivision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, validate: bool = True) -> WindowProfile:
        """Parse (and by default validate) the JSON shape; raise ValueError saying what to fix.

        A range is `["09:00", "20:00"]` or the string `"09:00-20:00"`; `[]` means closed.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a window profile must be an object")
        unknown = set(data) - set(WindowProfileDict.__annotations__)
        if unknown:
            raise ValueError(
                f"unknown profile key(s) {sorted(unknown)}: use weekdays, pre_holiday, holiday, "
                "holidays_country, holidays_subdivision"
            )
        raw_weekdays = data.get("weekdays")
        if not isinstance(raw_weekdays, Mapping):
            raise ValueError("weekdays must be an object with the keys mon, tue, ..., sun")
        bad_keys = [str(key) for key in raw_weekdays if key not in WEEKDAYS]
        if bad_keys:
            raise ValueError(
                f"unknown weekday key(s) {bad_keys}: use mon, tue, wed, thu, fri, sat, sun"
            )
        missing = [name for name in WEEKDAYS if name not in raw_weekdays]
        if missing:
            raise ValueError(f"weekdays is missing {missing}: use [] for a closed day")
        weekdays = tuple(_parse_ranges(f"weekdays.{name}", raw_weekdays[name]) for name in WEEKDAYS)
        raw_pre = data.get("pre_holiday")
        pre_holiday = None if raw_pre is None else _parse_ranges("pre_holiday", raw_pre)
        holiday = _parse_ranges("holiday", data.get("holiday", []))
        country = _parse_code("holidays_country", data.get("holidays_country"))
        subdivision = _parse_code("holidays_subdivision", data.get("holidays_subdivision"))
        profile = cls(
            weekdays=weekdays,
            pre_holiday=pre_holiday,
            holiday=holiday,
            holidays_country=country,
            holidays_subdivision=subdivision,
        )
        if validate:
            profile.validate()
        return profile


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _ranges_to_json(ranges: Ranges) -> list[list[str]]:
    return [[_fmt(start), _fmt(end)] for start, end in ranges]


def _parse_time(where: str, value: object) -> int:
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(2)) > 59:
        raise ValueError(f"{where}: bad time {value!r}, write HH:MM between 00:00 and 24:00")
    # Out-of-day values such as 25:00 parse here and are reported by validate(), which also
    # guards profiles built in code.
    return int(match.group(1)) * 60 + int(match.group(2))


def _parse_ranges(where: str, value: object) -> Ranges:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where}: expected a list of ranges such as [['09:00', '20:00']]")
    out: list[Range] = []
    for item in value:
        if isinstance(item, str) and "-" in item:
            pair: Sequence[object] = item.split("-", 1)
        elif isinstance(item, list | tuple) and len(item) == 2:
            pair = item
        else:
            raise ValueError(f"{where}: bad range {item!r}, write ['09:00', '20:00']")
        out.append((_parse_time(where, pair[0]), _parse_time(where, pair[1])))
    return tuple(sorted(out))


def _parse_code(where: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a code such as 'IT', got {value!r}")
    return value.strip().upper()


def _validate_ranges(where: str, ranges: Ranges) -> None:
    for start, end in ranges:
        for minutes in (start, end):
            if not 0 <= minutes <= DAY_MINUTES:
                raise ValueError(f"{where}: time {_fmt(minutes)} is outside 00:00-24:00")
        if end <= start:
            raise ValueError(
                f"{where}: range {_fmt(start)}-{_fmt(end)} ends before it starts "
                "(a range cannot cross midnight: split it over two days)"
            )
    ordered = sorted(ranges)
    for (s1, e1), (s2, e2) in itertools.pairwise(ordered):
        if s2 < e1:
            raise ValueError(
                f"{where}: ranges {_fmt(s1)}-{_fmt(e1)} and {_fmt(s2)}-{_fmt(e2)} overlap"
            )


@functools.cache
def _holiday_calendar_error(country: str, subdivision: str | None) -> str | None:
    """Why the holidays package cannot give this calendar, or None when it can.

    Asks for the calendar itself (under a millisecond) rather than listing every supported
    country, which imports them all (a fifth of a second at startup)."""
    try:
        calendar = holidays.country_holidays(country)
    except NotImplementedError:
        return (
            f"unknown holidays country {country!r}: use an ISO 3166-1 code the holidays "
            "package knows, such as IT, ES or US (or leave it empty for no holidays)"
        )
    known = tuple(calendar.subdivisions)
    if subdivision is not None and subdivision not in known:
        return (
            f"unknown holidays subdivision {subdivision!r} for {country}: known ones are "
            f"{', '.join(known) or 'none'}"
        )
    return None


def _validate_holiday_calendar(country: str | None, subdivision: str | None) -> None:
    if country is None:
        if subdivision is not None:
            raise ValueError("holidays_subdivision is set but holidays_country is empty")
        return
    error = _holiday_calendar_error(country, subdivision)
    if error is not None:
        raise ValueError(error)


@functools.lru_cache(maxsize=512)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays of one year; building a calendar costs milliseconds, so cache it."""
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(calendar.keys())


def _profile(
    weekday: list[list[str]],
    saturday: list[list[str]],
    sunday: list[list[str]],
    *,
    pre_holiday: list[list[str]] | None,
    holiday: list[list[str]],
    country: str,
) -> WindowProfile:
    week = {name: weekday for name in WEEKDAYS[:5]} | {"sat": saturday, "sun": sunday}
    # Not validated here: checking the holiday calendars would import each country's holiday
    # module at startup; the tests validate the built-ins.
    return WindowProfile.from_dict(
        validate=False,
        data={
            "weekdays": week,
            "pre_holiday": pre_holiday,
            "holiday": holiday,
            "holidays_country": country,
            "holidays_subdivision": None,
        },
    )


# Defaults from DOMAIN rule 2 (counsel may change them per client): IT follows the Garante's
# telemarketing code, ES LGDCU art. 96.2, US Reg F 1006.6(b)(1)(i). US federal holidays are
# open by default (holiday ranges = the usual ones); set `holiday` to [] to close them.
PROFILES: Mapping[str, WindowProfile] = MappingProxyType(
    {
        "IT": _profile(
            [["09:00", "20:00"]],
            [["10:00", "19:00"]],
            [],
            pre_holiday=[["10:00", "19:00"]],
            holiday=[],
            country="IT",
        ),
        "ES": _profile([["09:00", "21:00"]], [], [], pre_holiday=None, holiday=[], country="ES"),
        "US": _profile(
            [["08:00", "21:00"]],
            [["08:00", "21:00"]],
            [["08:00", "21:00"]],
            pre_holiday=None,
            holiday=[["08:00", "21:00"]],
            country="US",
        ),
    }
)


# --------------------------------------------------------------------------------------------
# Time zones of a debtor
# --------------------------------------------------------------------------------------------

_ET, _CT, _MT, _PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
_AZ, _AK, _HAST, _HI = "America/Phoenix", "America/Anchorage", "America/Adak", "Pacific/Honolulu"

# Address-level zones for the countries we serve first. One representative zone per set of
# rules (America/Boise keeps Denver's rules, Africa/Ceuta Madrid's...) keeps the sets small.
_COUNTRY_ZONES: dict[str, frozenset[str]] = {
    "IT": frozenset({"Europe/Rome"}),
    "ES": frozenset({"Europe/Madrid", "Atlantic/Canary"}),
    "US": frozenset({_ET, _CT, _MT, _AZ, _PT, _AK, _HAST, _HI}),
}

# States spanning two zones list both: the address does not say which side the debtor is on.
_US_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": (_CT,), "AK": (_AK, _HAST), "AZ": (_AZ, _MT), "AR": (_CT,), "CA": (_PT,),
    "CO": (_MT,), "CT": (_ET,), "DC": (_ET,), "DE": (_ET,), "FL": (_ET, _CT), "GA": (_ET,),
    "HI": (_HI,), "IA": (_CT,), "ID": (_MT, _PT), "IL": (_CT,), "IN": (_ET, _CT),
    "KS": (_CT, _MT), "KY": (_ET, _CT), "LA": (_CT,), "MA": (_ET,), "MD": (_ET,),
    "ME": (_ET,), "MI": (_ET, _CT), "MN": (_CT,), "MO": (_CT,), "MS": (_CT,), "MT": (_MT,),
    "NC": (_ET,), "ND": (_CT, _MT), "NE": (_CT, _MT), "NH": (_ET,), "NJ": (_ET,),
    "NM": (_MT,), "NV": (_PT, _MT), "NY": (_ET,), "OH": (_ET,), "OK": (_CT,),
    "OR": (_PT, _MT), "PA": (_ET,), "RI": (_ET,), "SC": (_ET,), "SD": (_CT, _MT),
    "TN": (_ET, _CT), "TX": (_CT, _MT), "UT": (_MT,), "VA": (_ET,), "VT": (_ET,),
    "WA": (_PT,), "WI": (_CT,), "WV": (_ET,), "WY": (_MT,),
}  # fmt: skip


def _subdivision_zones(country: str, subdivision: str) -> frozenset[str] | None:
    """Zones of a region of the address, or None when we do not know the region."""
    if country == "US":
        zones = _US_STATE_ZONES.get(subdivision)
        return frozenset(zones) if zones else None
    if country == "ES":
        if subdivision == "CN":  # Canarias
            return frozenset({"Atlantic/Canary"})
        if subdivision in {"CE", "ML"}:  # Ceuta, Melilla
            return frozenset({"Africa/Ceuta"})
        return frozenset({"Europe/Madrid"})
    if country == "IT":
        return frozenset({"Europe/Rome"})
    return None


@functools.cache
def _zone_tab() -> Mapping[str, frozenset[str]]:
    """ISO country -> zones, from the tz database's zone.tab (system copy or tzdata package)."""
    candidates: list[Path] = [Path(base) / "zone.tab" for base in zoneinfo.TZPATH]
    text: str | None = None
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
            break
        except OSError:
            continue
    if text is None:
        try:
            text = (resources.files("tzdata.zoneinfo") / "zone.tab").read_text(encoding="utf-8")
        except (ModuleNotFoundError, OSError):
            logger.warning("zone.tab not found; only built-in country zones are known")
            return {}
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            table.setdefault(parts[0], set()).add(parts[2])
    return {country: frozenset(zones) for country, zones in table.items()}


@functools.cache
def _zone_exists(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _country_zones(country: str) -> frozenset[str]:
    """Address-level zones of a country: the built-in table, else the tz database's."""
    return _COUNTRY_ZONES.get(country) or _zone_tab().get(country, frozenset())


def _phone_zones(phone_e164: str) -> tuple[frozenset[str], str | None]:
    """Zones the number's prefix points to, limited to the number's own country when possible
    (an Italian number also lists Europe/Vatican, a US toll-free one all of NANPA)."""
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        logger.warning("cannot parse phone %s for time zones", phone_e164[:4])
        return frozenset(), None
    zones = {
        zone
        for zone in pn_timezone.time_zones_for_number(number)
        if zone != pn_timezone.UNKNOWN_TIMEZONE and _zone_exists(zone)
    }
    region = phonenumbers.region_code_for_number(number)
    if region:
        own = zones & (_country_zones(region) | _zone_tab().get(region, frozenset()))
        if own:
            zones = own
    return frozenset(zones), region


def possible_time_zones(
    phone_e164: str, country: str, *, subdivision: str | None = None
) -> tuple[str, ...]:
    """The IANA zones the debtor may be in, from the phone number and the address.

    `country` is the address's ISO 3166-1 code; the region (US state, Spanish community...) may
    be given as `subdivision="CA"` or as `country="US-CA"`.

    The rule (P = the phone's zones, A = the address's zones):
    - the phone says nothing useful (unknown zone, unparsable, or a number valid anywhere in
      the address country, like a Spanish mobile or a US toll-free number): A;
    - phone and address in the same country and the address gives no region: P (the phone is
      the more precise of the two; an Italian mobile in Italy gives only Europe/Rome);
    - otherwise (different countries, or a region that may differ from the area code): P | A,
      since the debtor may be in either place (a 212 number with a California address gives
      New York and Los Angeles).
    Raises ValueError when neither source gives a zone.
    """
    country = country.strip().upper()
    if "-" in country:
        country, _, region_part = country.partition("-")
        subdivision = subdivision or region_part
    subdivision = subdivision.strip().upper() if subdivision else None

    phone, phone_country = _phone_zones(phone_e164)
    country_wide = _country_zones(country)
    regional = _subdivision_zones(country, subdivision) if subdivision else None
    address = regional or country_wide

    if not phone or (phone_country == country and country_wide and phone >= country_wide):
        chosen = address or phone
    elif phone_country == country and regional is None:
        chosen = phone
    else:
        chosen = phone | address
    if not chosen:
        raise ValueError(f"no time zone known for phone {phone_e164[:4]}... in {country!r}")
    return tuple(sorted(chosen))


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


def _epoch_floor(instant: datetime) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    return (instant - _EPOCH) // _SECOND


def _from_epoch(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _zones_tuple(zones: Iterable[str]) -> tuple[str, ...]:
    if isinstance(zones, str):  # one zone name, not an iterable of letters
        zones = (zones,)
    unique = tuple(dict.fromkeys(zones))
    if not unique:
        raise ValueError("at least one time zone is needed")
    return unique


def _local_to_epoch(day: date, minutes: int, tz: ZoneInfo, *, later: bool) -> int:
    """UTC seconds of a local wall time; in a DST gap or overlap the two readings differ and
    the caller picks the one that shortens the window."""
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    first = int(naive.replace(tzinfo=tz).timestamp())
    second = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    return max(first, second) if later else min(first, second)


@functools.lru_cache(maxsize=32_768)
def _day_intervals(profile: WindowProfile, zone: str, ordinal: int) -> tuple[Range, ...]:
    """UTC [start, end) seconds of one local day's ranges in one zone."""
    day = date.fromordinal(ordinal)
    tz = ZoneInfo(zone)
    out: list[Range] = []
    for start, end in profile.ranges_on(day):
        utc_start = _local_to_epoch(day, start, tz, later=True)
        # 24:00 ends where the next local day starts (same reading), so back-to-back days join.
        utc_end = _local_to_epoch(day, end, tz, later=end == DAY_MINUTES)
        if utc_start < utc_end:
            out.append((utc_start, utc_end))
    return tuple(out)


def _local_ordinal(seconds: int, tz: ZoneInfo) -> int:
    return datetime.fromtimestamp(seconds, tz).toordinal()


def _zone_stream(profile: WindowProfile, zone: str, start: int, stop: int) -> Iterator[Range]:
    """Merged allowed intervals of one zone within [start, stop), in order, day by day.

    Starts one local day early: a day's intervals never reach past the next day's start, but
    an instant whose wall date is D can still fall in D-1's last range around a DST change."""
    tz = ZoneInfo(zone)
    ordinal = _local_ordinal(start, tz) - 1
    last = _local_ordinal(stop, tz)
    pending: Range | None = None
    while ordinal <= last:
        for s, e in _day_intervals(profile, zone, ordinal):
            if e <= start or s >= stop:
                continue
            s, e = max(s, start), min(e, stop)
            if pending is not None and s <= pending[1]:
                pending = (pending[0], max(pending[1], e))
            else:
                if pending is not None:
                    yield pending
                pending = (s, e)
        ordinal += 1
    if pending is not None:
        yield pending


def _allowed(
    profile: WindowProfile, zones: tuple[str, ...], start: int, stop: int
) -> Iterator[Range]:
    """Intervals allowed in every zone: a lazy sweep over the zones' sorted streams."""
    if len(zones) == 1:
        yield from _zone_stream(profile, zones[0], start, stop)
        return
    streams = [_zone_stream(profile, zone, start, stop) for zone in zones]
    current: list[Range] = []
    for stream in streams:
        first = next(stream, None)
        if first is None:
            return
        current.append(first)
    while True:
        lo = max(s for s, _ in current)
        hi = min(e for _, e in current)
        if lo < hi:
            yield lo, hi
        # Intervals ending at `hi` can overlap nothing later; move those streams on.
        for i, (_, e) in enumerate(current):
            if e == hi:
                following = next(streams[i], None)
                if following is None:
                    return
                current[i] = following


def _contains(intervals: tuple[Range, ...], seconds: int) -> bool:
    return any(s <= seconds < e for s, e in intervals)


def is_allowed(instant: datetime, *, zones: Iterable[str], profile: WindowProfile) -> bool:
    """True when `instant` (aware) is inside the profile's ranges in every zone."""
    seconds = _epoch_floor(instant)
    for zone in _zones_tuple(zones):
        ordinal = _local_ordinal(seconds, ZoneInfo(zone))
        if not (
            _contains(_day_intervals(profile, zone, ordinal), seconds)
            or _contains(_day_intervals(profile, zone, ordinal - 1), seconds)
        ):
            return False
    return True


def next_allowed(
    instant: datetime,
    *,
    zones: Iterable[str],
    profile: WindowProfile,
    jitter_seconds: int = 0,
    rng: random.Random | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> datetime | None:
    """The earliest instant >= `instant` allowed in every zone, plus jitter; None if there is
    none within `horizon_days`.

    Jitter is a whole number of seconds drawn uniformly from
    [0, min(jitter_seconds, seconds left in that window - JITTER_MARGIN_SECONDS)], so it never
    pushes past the window's end. The result is in UTC.
    """
    start = _epoch_floor(instant)
    stop = start + horizon_days * _DAY_SECONDS
    zone_names = _zones_tuple(zones)
    for s, e in _allowed(profile, zone_names, start, stop):
        # Boundaries are whole seconds, so the floored instant is inside iff the instant is.
        found = instant.astimezone(UTC) if s <= start else _from_epoch(s)
        room = int((_from_epoch(e) - found).total_seconds()) - JITTER_MARGIN_SECONDS
        spread = min(int(jitter_seconds), room)
        if spread > 0:
            found += timedelta(seconds=(rng or _RNG).randint(0, spread))
        return found
    return None


def window_end(
    instant: datetime, *, zones: Iterable[str], profile: WindowProfile
) -> datetime | None:
    """When the allowed stretch containing `instant` ends (the earliest end across zones), in
    UTC; None if `instant` is not allowed. A stretch longer than the default horizon (a
    round-the-clock profile) is cut at the horizon."""
    if not is_allowed(instant, zones=zones, profile=profile):
        return None
    start = _epoch_floor(instant)
    stop = start + DEFAULT_HORIZON_DAYS * _DAY_SECONDS
    for _, e in _allowed(profile, _zones_tuple(zones), start, stop):
        return _from_epoch(e)
    return None  # pragma: no cover - is_allowed() guarantees a first interval


def intervals(
    start: datetime, end: datetime, *, zones: Iterable[str], profile: WindowProfile
) -> list[tuple[datetime, datetime]]:
    """The allowed [start, end) intervals between two aware instants, in UTC, ordered."""
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi <= lo:
        return []
    out: list[tuple[datetime, datetime]] = []
    # Ceil the stop so that a fractional `end` still sees the interval it cuts.
    stop = _epoch_floor(end) + (0 if hi == _from_epoch(_epoch_floor(end)) else 1)
    for s, e in _allowed(profile, _zones_tuple(zones), _epoch_floor(start), stop):
        piece = (max(_from_epoch(s), lo), min(_from_epoch(e), hi))
        if piece[0] < piece[1]:
            out.append(piece)
    return out
