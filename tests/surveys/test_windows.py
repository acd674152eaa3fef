"""The debtor's allowed contact windows (DOMAIN rule 2), with hand-checked dates.

Calendar facts used below: 2026-11-20 is a Friday; 2026-12-07 a Monday and 2026-12-08
(Immacolata / Inmaculada) a Tuesday; 2026-12-24 a Thursday, 2026-12-25 a Friday, 2026-12-26
(Santo Stefano, an Italian holiday) a Saturday. DST: Europe ends/starts on the last Sunday of
March/October (2026-03-29, 2026-10-25); the US on 2026-03-08 and 2026-11-01.
"""

from __future__ import annotations

import functools
import json
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.windows import (
    JITTER_MARGIN_SECONDS,
    PROFILES,
    WindowProfile,
    intervals,
    is_allowed,
    next_allowed,
    possible_time_zones,
    window_end,
)

ROME = ZoneInfo("Europe/Rome")
MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
IT, ES, US = PROFILES["IT"], PROFILES["ES"], PROFILES["US"]
IN_ROME = ("Europe/Rome",)
IN_MADRID = ("Europe/Madrid",)
NY_AND_LA = ("America/Los_Angeles", "America/New_York")


def rome(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=ROME)


def madrid(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=MADRID)


def eastern(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=NEW_YORK)


def day_windows(day: datetime, zones: tuple[str, ...], profile: WindowProfile, tz: ZoneInfo):
    """The allowed intervals of one local day, as local (HH:MM, HH:MM) strings."""
    found = intervals(day, day + timedelta(days=1), zones=zones, profile=profile)
    return [
        (s.astimezone(tz).strftime("%H:%M"), e.astimezone(tz).strftime("%H:%M")) for s, e in found
    ]


# --- Italy ------------------------------------------------------------------------------------


def test_friday_evening_contact_plus_two_hours_moves_to_saturday_ten():
    due = rome(2026, 11, 20, 19, 55) + timedelta(hours=2)  # 21:55 Friday, after 20:00
    assert not is_allowed(due, zones=IN_ROME, profile=IT)

    found = next_allowed(due, zones=IN_ROME, profile=IT)

    assert found == rome(2026, 11, 21, 10, 0)
    assert found == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # CET is UTC+1 in November


def test_jitter_stays_inside_the_saturday_window():
    due = rome(2026, 11, 20, 21, 55)
    rng = random.Random(7)
    picks = []
    for _ in range(200):
        found = next_allowed(due, zones=IN_ROME, profile=IT, jitter_seconds=12 * 3600, rng=rng)
        assert found is not None
        picks.append(found)
    assert min(picks) >= rome(2026, 11, 21, 10, 0)
    # Jitter of up to 12 h is capped by the 9 h window minus the safety margin.
    assert max(picks) <= rome(2026, 11, 21, 19, 0) - timedelta(seconds=JITTER_MARGIN_SECONDS)
    # ...and it does spread: the picks cover more than half of the window.
    assert max(picks) - min(picks) > timedelta(hours=4.5)


def test_jitter_is_dropped_when_the_window_is_about_to_close():
    due = rome(2026, 11, 19, 19, 59, 30)  # Thursday, 30 s before 20:00
    found = next_allowed(due, zones=IN_ROME, profile=IT, jitter_seconds=3600, rng=random.Random(1))
    assert found == due


def test_inside_the_window_the_instant_itself_is_returned():
    due = rome(2026, 11, 19, 12, 30, 15, 250_000)
    assert next_allowed(due, zones=IN_ROME, profile=IT) == due


def test_nothing_allowed_on_a_sunday_in_italy():
    sunday = rome(2026, 11, 22)
    assert day_windows(sunday, IN_ROME, IT, ROME) == []
    assert not is_allowed(rome(2026, 11, 22, 12, 0), zones=IN_ROME, profile=IT)
    assert next_allowed(rome(2026, 11, 21, 19, 0), zones=IN_ROME, profile=IT) == rome(
        2026, 11, 23, 9, 0
    )


def test_weekday_and_saturday_hours_in_italy():
    assert day_windows(rome(2026, 11, 19), IN_ROME, IT, ROME) == [("09:00", "20:00")]
    assert day_windows(rome(2026, 11, 21), IN_ROME, IT, ROME) == [("10:00", "19:00")]
    assert is_allowed(rome(2026, 11, 19, 9, 0), zones=IN_ROME, profile=IT)
    assert not is_allowed(rome(2026, 11, 19, 8, 59, 59), zones=IN_ROME, profile=IT)
    assert is_allowed(rome(2026, 11, 19, 19, 59, 59), zones=IN_ROME, profile=IT)
    assert not is_allowed(rome(2026, 11, 19, 20, 0), zones=IN_ROME, profile=IT)


def test_immacolata_is_closed_and_the_monday_before_is_a_pre_holiday():
    assert day_windows(rome(2026, 12, 8), IN_ROME, IT, ROME) == []
    assert day_windows(rome(2026, 12, 7), IN_ROME, IT, ROME) == [("10:00", "19:00")]
    assert not is_allowed(rome(2026, 12, 7, 9, 30), zones=IN_ROME, profile=IT)
    assert is_allowed(rome(2026, 12, 7, 18, 59), zones=IN_ROME, profile=IT)
    assert not is_allowed(rome(2026, 12, 7, 19, 0), zones=IN_ROME, profile=IT)
    assert next_allowed(rome(2026, 12, 7, 19, 0), zones=IN_ROME, profile=IT) == rome(
        2026, 12, 9, 9, 0
    )


def test_christmas_closes_and_christmas_eve_is_a_pre_holiday():
    assert day_windows(rome(2026, 12, 24), IN_ROME, IT, ROME) == [("10:00", "19:00")]
    assert day_windows(rome(2026, 12, 25), IN_ROME, IT, ROME) == []
    # 26 (Santo Stefano, a Saturday) is a holiday too and 27 is a Sunday: next is Monday 28.
    assert next_allowed(rome(2026, 12, 24, 19, 0), zones=IN_ROME, profile=IT) == rome(
        2026, 12, 28, 9, 0
    )


def test_window_end_for_validity_period():
    assert window_end(rome(2026, 11, 19, 15, 0), zones=IN_ROME, profile=IT) == rome(
        2026, 11, 19, 20, 0
    )
    assert window_end(rome(2026, 11, 19, 20, 0), zones=IN_ROME, profile=IT) is None


# --- Spain ------------------------------------------------------------------------------------


def test_spanish_weekend_closed_and_friday_ends_at_nine_pm():
    assert is_allowed(madrid(2026, 11, 20, 20, 59), zones=IN_MADRID, profile=ES)
    assert not is_allowed(madrid(2026, 11, 20, 21, 0), zones=IN_MADRID, profile=ES)
    assert day_windows(madrid(2026, 11, 21), IN_MADRID, ES, MADRID) == []
    assert day_windows(madrid(2026, 11, 22), IN_MADRID, ES, MADRID) == []
    assert next_allowed(madrid(2026, 11, 20, 21, 0), zones=IN_MADRID, profile=ES) == madrid(
        2026, 11, 23, 9, 0
    )


def test_spanish_national_holidays_closed_without_pre_holiday_hours():
    assert day_windows(madrid(2026, 12, 8), IN_MADRID, ES, MADRID) == []
    assert day_windows(madrid(2026, 12, 25), IN_MADRID, ES, MADRID) == []
    # Spain has no pre-holiday hours: the Monday before the Inmaculada is a normal day.
    assert day_windows(madrid(2026, 12, 7), IN_MADRID, ES, MADRID) == [("09:00", "21:00")]


def test_spanish_debtor_in_the_canaries_and_on_the_mainland():
    zones = possible_time_zones("+34922123456", "ES", subdivision="MD")  # Tenerife landline
    assert zones == ("Atlantic/Canary", "Europe/Madrid")
    # The Canaries run an hour behind: 09:00-21:00 in both is 10:00-21:00 Madrid time.
    assert day_windows(madrid(2026, 11, 18), zones, ES, MADRID) == [("10:00", "21:00")]


# --- United States ------------------------------------------------------------------------------


def test_new_york_number_with_california_address_gives_both_zones():
    assert possible_time_zones("+12125550123", "US", subdivision="CA") == NY_AND_LA
    assert possible_time_zones("+12125550123", "US-CA") == NY_AND_LA


def test_new_york_and_los_angeles_overlap_is_eleven_to_nine_eastern():
    zones = possible_time_zones("+12125550123", "US-CA")
    assert is_allowed(eastern(2026, 6, 3, 11, 0), zones=zones, profile=US)
    assert not is_allowed(eastern(2026, 6, 3, 10, 59), zones=zones, profile=US)
    assert not is_allowed(eastern(2026, 6, 3, 21, 0), zones=zones, profile=US)
    assert is_allowed(eastern(2026, 6, 3, 20, 59), zones=zones, profile=US)
    assert day_windows(eastern(2026, 6, 3), zones, US, NEW_YORK) == [("11:00", "21:00")]
    assert next_allowed(eastern(2026, 6, 3, 8, 0), zones=zones, profile=US) == eastern(
        2026, 6, 3, 11, 0
    )
    assert window_end(eastern(2026, 6, 3, 15, 0), zones=zones, profile=US) == eastern(
        2026, 6, 3, 21, 0
    )


def test_us_federal_holidays_are_open_by_default_and_can_be_closed():
    thanksgiving = eastern(2026, 11, 26, 12, 0)
    assert is_allowed(thanksgiving, zones=("America/New_York",), profile=US)
    closed = WindowProfile.from_dict(US.to_dict() | {"holiday": []})
    assert not is_allowed(thanksgiving, zones=("America/New_York",), profile=closed)


# --- Time zones from phone and address ----------------------------------------------------------


def test_italian_mobile_with_italian_address_is_only_rome():
    assert possible_time_zones("+393471234567", "IT") == ("Europe/Rome",)


def test_spanish_mobile_says_nothing_so_the_address_decides():
    assert possible_time_zones("+34612345678", "ES") == ("Atlantic/Canary", "Europe/Madrid")
    assert possible_time_zones("+34612345678", "ES", subdivision="CN") == ("Atlantic/Canary",)


def test_phone_and_address_in_different_countries_count_both():
    assert possible_time_zones("+393471234567", "ES-MD") == ("Europe/Madrid", "Europe/Rome")


def test_new_york_number_with_a_country_only_us_address_stays_in_new_york():
    assert possible_time_zones("+12125550123", "US") == ("America/New_York",)


def test_us_toll_free_number_falls_back_to_the_address():
    assert possible_time_zones("+18005550123", "US-CA") == ("America/Los_Angeles",)


def test_unparsable_phone_falls_back_to_the_address_and_nothing_known_is_an_error():
    assert possible_time_zones("+999", "IT") == ("Europe/Rome",)
    with pytest.raises(ValueError, match="no time zone"):
        possible_time_zones("+999", "XX")


# --- DST --------------------------------------------------------------------------------------


def test_rome_spring_forward_weekend_lands_on_monday_nine_cest():
    found = next_allowed(rome(2026, 3, 28, 20, 0), zones=IN_ROME, profile=IT)
    assert found == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST = UTC+2
    assert found.astimezone(ROME).strftime("%a %H:%M %z") == "Mon 09:00 +0200"
    # The Friday before still opened at 09:00 CET = 08:00 UTC.
    assert next_allowed(rome(2026, 3, 27, 7, 0), zones=IN_ROME, profile=IT) == datetime(
        2026, 3, 27, 8, 0, tzinfo=UTC
    )


def test_rome_fall_back_weekend_lands_on_monday_nine_cet():
    found = next_allowed(rome(2026, 10, 24, 19, 30), zones=IN_ROME, profile=IT)
    assert found == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET = UTC+1
    assert found.astimezone(ROME).strftime("%a %H:%M %z") == "Mon 09:00 +0100"
    assert next_allowed(rome(2026, 10, 23, 7, 0), zones=IN_ROME, profile=IT) == datetime(
        2026, 10, 23, 7, 0, tzinfo=UTC
    )


def test_us_fall_back_moves_eight_am_by_an_hour_in_utc():
    ny = ("America/New_York",)
    before = next_allowed(datetime(2026, 10, 31, 2, 0, tzinfo=UTC), zones=ny, profile=US)
    after = next_allowed(datetime(2026, 11, 1, 5, 0, tzinfo=UTC), zones=ny, profile=US)
    assert before == datetime(2026, 10, 31, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert after == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    # The Sunday of the change is a normal 13-hour window, ending 21:00 EST = 02:00 UTC.
    assert window_end(after, zones=ny, profile=US) == datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def test_us_spring_forward_moves_eight_am_by_an_hour_in_utc():
    ny = ("America/New_York",)
    assert next_allowed(eastern(2026, 3, 7, 6, 0), zones=ny, profile=US) == datetime(
        2026, 3, 7, 13, 0, tzinfo=UTC
    )
    assert next_allowed(eastern(2026, 3, 8, 1, 0), zones=ny, profile=US) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )


def round_the_clock(**extra):
    week = {
        name: [["00:00", "24:00"]] for name in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    return WindowProfile.from_dict({"weekdays": week, **extra})


def test_local_days_are_23_and_25_hours_long_on_dst_sundays():
    always = round_the_clock()
    spring = intervals(rome(2026, 3, 29), rome(2026, 3, 30), zones=IN_ROME, profile=always)
    autumn = intervals(rome(2026, 10, 25), rome(2026, 10, 26), zones=IN_ROME, profile=always)
    assert [e - s for s, e in spring] == [timedelta(hours=23)]
    assert [e - s for s, e in autumn] == [timedelta(hours=25)]
    # Back-to-back days join into one stretch, cut at the 30-day horizon.
    # (30 days of elapsed time: the wall clock reads 13:00 by then, after the change.)
    assert window_end(rome(2026, 3, 28, 12), zones=IN_ROME, profile=always) == rome(2026, 4, 27, 13)


def sunday_nights(*ranges: list[str]) -> WindowProfile:
    week: dict[str, list[list[str]]] = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    return WindowProfile.from_dict({"weekdays": {**week, "sun": list(ranges)}})


def utc_windows(day: datetime, profile: WindowProfile) -> list[tuple[str, str]]:
    found = intervals(day, day + timedelta(days=1), zones=IN_ROME, profile=profile)
    return [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in found]


def test_boundaries_in_the_spring_gap_shrink_the_window():
    # 02:00-03:00 does not exist on 2026-03-29 in Rome (01:00 UTC the clocks jump to 03:00).
    profile = sunday_nights(["00:00", "02:30"], ["02:30", "05:00"])
    # The first range ends at the earlier reading of 02:30 (00:30 UTC = 01:30 CET), the
    # second opens at the later one (01:30 UTC = 03:30 CEST): shorter, never longer.
    assert utc_windows(rome(2026, 3, 29), profile) == [("23:00", "00:30"), ("01:30", "03:00")]


def test_a_day_ending_at_24_00_ends_where_the_next_day_begins():
    # Santiago springs forward at midnight: 2026-09-06 00:00 never happens, the clocks jump
    # from Saturday 23:59:59 -04 to Sunday 01:00 -03, at 04:00 UTC.
    week: dict[str, list[list[str]]] = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sun")}
    saturdays = WindowProfile.from_dict({"weekdays": {**week, "sat": [["00:00", "24:00"]]}})
    noon = datetime(2026, 9, 5, 12, 0, tzinfo=ZoneInfo("America/Santiago"))
    ends = window_end(noon, zones=("America/Santiago",), profile=saturdays)
    assert ends == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


def test_boundaries_in_the_autumn_overlap_shrink_the_window():
    # 02:00-03:00 happens twice on 2026-10-25 in Rome: 00:00-01:00 UTC (CEST), 01:00-02:00 (CET).
    profile = sunday_nights(["00:00", "02:30"], ["02:30", "05:00"])
    # Ends take the first 02:30 (00:30 UTC), starts the second (01:30 UTC).
    assert utc_windows(rome(2026, 10, 25), profile) == [("22:00", "00:30"), ("01:30", "04:00")]


# --- Zones that never overlap, and bad input ------------------------------------------------


def test_zones_without_overlap_give_no_instant():
    zones = ("Europe/Rome", "Pacific/Honolulu")
    assert next_allowed(rome(2026, 11, 18, 12), zones=zones, profile=IT) is None
    assert window_end(rome(2026, 11, 18, 12), zones=zones, profile=IT) is None
    assert not is_allowed(rome(2026, 11, 18, 12), zones=zones, profile=IT)


def test_naive_instants_and_empty_zones_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        is_allowed(datetime(2026, 11, 18, 12), zones=IN_ROME, profile=IT)
    with pytest.raises(ValueError, match="time zone"):
        next_allowed(rome(2026, 11, 18, 12), zones=(), profile=IT)


# --- Profiles: validation and JSON ----------------------------------------------------------------


def it_dict() -> dict:
    return json.loads(json.dumps(IT.to_dict()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weekdays": {**it_dict()["weekdays"], "mon": [["20:00", "09:00"]]}},
         "weekdays.mon: range 20:00-09:00 ends before it starts"),
        ({"weekdays": {**it_dict()["weekdays"], "tue": [["09:00", "15:00"], ["14:00", "20:00"]]}},
         "weekdays.tue: ranges 09:00-15:00 and 14:00-20:00 overlap"),
        ({"weekdays": {**it_dict()["weekdays"], "monday": []}},
         r"unknown weekday key\(s\) \['monday'\]"),
        ({"weekdays": {**it_dict()["weekdays"], "wed": [["9am", "20:00"]]}},
         "weekdays.wed: bad time '9am'"),
        ({"pre_holiday": [["10:00", "25:00"]]}, "pre_holiday: time 25:00 is outside 00:00-24:00"),
        ({"holidays_country": "XX"}, "unknown holidays country 'XX'"),
        ({"holidays_country": "ES", "holidays_subdivision": "ZZ"},
         "unknown holidays subdivision 'ZZ' for ES"),
        ({"weekdays": {k: v for k, v in it_dict()["weekdays"].items() if k != "sun"}},
         r"weekdays is missing \['sun'\]: use \[\] for a closed day"),
        ({"windows": {}}, r"unknown profile key\(s\) \['windows'\]"),
    ],
)  # fmt: skip
def test_profile_validation_says_what_to_fix(change, message):
    with pytest.raises(ValueError, match=message):
        WindowProfile.from_dict(it_dict() | change)


def test_validate_catches_profiles_built_in_code():
    broken = WindowProfile(weekdays=(((540, 1200),),) * 6 + (((1200, 540),),))
    with pytest.raises(ValueError, match=r"weekdays\.sun: range 20:00-09:00 ends before"):
        broken.validate()
    with pytest.raises(ValueError, match="exactly 7 entries"):
        WindowProfile(weekdays=((),) * 5).validate()


@pytest.mark.parametrize("code", ["IT", "ES", "US"])
def test_builtin_profiles_are_valid(code):
    PROFILES[code].validate()


@pytest.mark.parametrize("code", ["IT", "ES", "US"])
def test_profiles_round_trip_through_json(code):
    profile = PROFILES[code]
    again = WindowProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile
    assert hash(again) == hash(profile)


def test_ranges_may_be_written_as_strings_and_allow_a_lunch_gap():
    week = it_dict()["weekdays"] | {
        "mon": ["15:00-16:00", "09:00-15:00"],
        "tue": ["09:00-15:00", "16:00-21:00"],
    }
    profile = WindowProfile.from_dict(it_dict() | {"weekdays": week})
    assert profile.to_dict()["weekdays"]["mon"] == [["09:00", "15:00"], ["15:00", "16:00"]]
    # Touching ranges join; a gap stays a gap.
    assert day_windows(rome(2026, 11, 16), IN_ROME, profile, ROME) == [("09:00", "16:00")]
    assert day_windows(rome(2026, 11, 17), IN_ROME, profile, ROME) == [
        ("09:00", "15:00"),
        ("16:00", "21:00"),
    ]
    assert next_allowed(rome(2026, 11, 17, 15, 0), zones=IN_ROME, profile=profile) == rome(
        2026, 11, 17, 16, 0
    )


# --- Properties -------------------------------------------------------------------------------
#
# The oracle below is written from the rules in DOMAIN.md, straight from each zone's wall clock
# and the holidays package, independently of the interval machinery under test.


@functools.cache
def _holiday(country: str, day: date) -> bool:
    return day in holidays.country_holidays(country, years=day.year)


def wall_clock_allows(instant: datetime, zone: str, code: str) -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    day, minute = local.date(), local.hour * 60 + local.minute
    if code == "US":
        return 8 * 60 <= minute < 21 * 60
    if _holiday(code, day):
        return False
    if code == "ES":
        return day.weekday() < 5 and 9 * 60 <= minute < 21 * 60
    if day.weekday() == 6:
        return False
    if day.weekday() == 5 or _holiday("IT", day + timedelta(days=1)):
        return 10 * 60 <= minute < 19 * 60
    return 9 * 60 <= minute < 20 * 60


ZONE_SETS = [
    ("Europe/Rome",),
    ("Atlantic/Canary", "Europe/Madrid"),
    NY_AND_LA,
    ("America/Chicago",),
    ("America/New_York", "Europe/Rome"),
    ("America/New_York", "Pacific/Honolulu"),
]


def _interesting_days() -> list[date]:
    """Holidays of the three countries and the DST Sundays, where bugs would hide."""
    days: set[date] = set()
    for year in (2025, 2026, 2027):
        for country in ("IT", "ES", "US"):
            days.update(holidays.country_holidays(country, years=year))
    days.update(date.fromisoformat(d) for d in ("2026-03-08", "2026-03-29", "2026-10-25"))
    days.update(date.fromisoformat(d) for d in ("2026-11-01", "2025-03-30", "2027-10-31"))
    return sorted(days)


near_interesting_days = st.builds(
    lambda day, offset: datetime(day.year, day.month, day.day, tzinfo=UTC) + offset,
    st.sampled_from(_interesting_days()),
    st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3)),
)
instants = st.one_of(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    near_interesting_days,
)
cases = st.tuples(instants, st.sampled_from(["IT", "ES", "US"]), st.sampled_from(ZONE_SETS))


def allowed_everywhere(instant: datetime, zones: tuple[str, ...], code: str) -> bool:
    return all(wall_clock_allows(instant, zone, code) for zone in zones)


@settings(max_examples=300, deadline=None)
@given(cases)
def test_is_allowed_matches_the_wall_clock_in_every_zone(case):
    instant, code, zones = case
    assert is_allowed(instant, zones=zones, profile=PROFILES[code]) == allowed_everywhere(
        instant, zones, code
    )


@settings(max_examples=300, deadline=None)
@given(cases)
def test_next_allowed_is_allowed_and_minimal(case):
    instant, code, zones = case
    profile = PROFILES[code]
    found = next_allowed(instant, zones=zones, profile=profile)
    if found is None:
        assert intervals(instant, instant + timedelta(days=30), zones=zones, profile=profile) == []
        return
    assert found >= instant
    assert is_allowed(found, zones=zones, profile=profile)
    assert allowed_everywhere(found, zones, code)
    if found != instant:
        # Opened exactly on a whole second, and one second earlier was closed somewhere.
        assert found.microsecond == 0
        earlier = found - timedelta(seconds=1)
        assert earlier < instant or not allowed_everywhere(earlier, zones, code)


@settings(max_examples=300, deadline=None)
@given(cases, st.integers(min_value=1, max_value=6 * 3600), st.integers(0, 2**32))
def test_jitter_stays_in_the_same_window(case, jitter, seed):
    instant, code, zones = case
    profile = PROFILES[code]
    plain = next_allowed(instant, zones=zones, profile=profile)
    jittered = next_allowed(
        instant, zones=zones, profile=profile, jitter_seconds=jitter, rng=random.Random(seed)
    )
    if plain is None:
        assert jittered is None
        return
    assert jittered is not None
    assert plain <= jittered <= plain + timedelta(seconds=jitter)
    assert allowed_everywhere(jittered, zones, code)
    assert window_end(jittered, zones=zones, profile=profile) == window_end(
        plain, zones=zones, profile=profile
    )


@settings(max_examples=150, deadline=None)
@given(cases, st.integers(min_value=1, max_value=96))
def test_intervals_are_ordered_disjoint_and_allowed_throughout(case, hours):
    start, code, zones = case
    profile = PROFILES[code]
    end = start + timedelta(hours=hours)
    found = intervals(start, end, zones=zones, profile=profile)
    for i, (s, e) in enumerate(found):
        assert start <= s < e <= end
        assert i + 1 == len(found) or e < found[i + 1][0]
        assert allowed_everywhere(s, zones, code)
        assert allowed_everywhere(e - timedelta(seconds=1), zones, code)
        if e < end:
            assert not allowed_everywhere(e, zones, code)
