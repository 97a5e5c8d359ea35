"""Working-day calendar of the one-stop shop: concrete Vietnamese cases and properties."""

from __future__ import annotations

import time as systime
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lienthong.onestop.calendar import EXTRA_DAY_OFF_NAME, WorkingCalendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()
# Exercises configured days: a bridge Friday off, a make-up Saturday, an extra day off in Tết week.
CAL_CONFIGURED = WorkingCalendar.with_days(
    extra_off=["2026-01-02", "2025-05-05", date(2027, 2, 11)],
    make_up=["2026-03-07", "2025-05-10"],
)
CALENDARS = [CAL, CAL_CONFIGURED]


def vn(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VN)


# -- holidays from the library ----------------------------------------------------------------


def test_tet_2026_dates_from_holidays_library() -> None:
    tet = [date(2026, 2, d) for d in range(16, 21)]  # Mon 16 (Giao thừa) … Fri 20 (Mùng bốn)
    assert [CAL.is_working_day(d) for d in tet] == [False] * 5
    assert CAL.holiday_name(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert CAL.holiday_name(date(2026, 2, 16)) == "Giao thừa Tết Nguyên Đán"
    assert CAL.is_working_day(date(2026, 2, 13))  # last working day before Tết
    assert CAL.is_working_day(date(2026, 2, 23))  # back to work
    english = WorkingCalendar(language="en_US")
    assert english.holiday_name(date(2026, 2, 17)) == "Lunar New Year"


def test_fixed_holidays() -> None:
    assert CAL.holiday_name(date(2026, 1, 1)) == "Tết Dương lịch"
    assert CAL.holiday_name(date(2026, 4, 30)) == "Ngày Chiến thắng"
    assert CAL.holiday_name(date(2026, 5, 1)) == "Ngày Quốc tế Lao động"
    assert CAL.holiday_name(date(2026, 9, 2)) == "Quốc khánh"
    assert CAL.holiday_name(date(2026, 9, 1)) == "Quốc khánh"
    # Hùng Kings' day (10/3 lunar): Monday 7/4/2025; Sunday 26/4/2026 observed Monday 27/4.
    assert CAL.holiday_name(date(2025, 4, 7)) == "Ngày Giỗ Tổ Hùng Vương"
    assert not CAL.is_working_day(date(2026, 4, 27))
    assert CAL.holiday_name(date(2026, 4, 27)) == "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"
    # weekends are off but are not holidays; ordinary days have no name
    assert not CAL.is_working_day(date(2026, 3, 7))
    assert CAL.holiday_name(date(2026, 3, 7)) is None
    assert CAL.holiday_name(date(2026, 3, 9)) is None


def test_library_make_up_saturday_for_the_2_9_bridge() -> None:
    # 2026: Monday 31/8 is off in lieu of Saturday 22/8, which is worked.
    assert not CAL.is_working_day(date(2026, 8, 31))
    assert CAL.is_working_day(date(2026, 8, 22))
    assert not WorkingCalendar(library_make_up_days=False).is_working_day(date(2026, 8, 22))


# -- start of counting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (vn(2026, 3, 2, 6, 15), vn(2026, 3, 2, 7)),  # before 07:00 → same morning
        (vn(2026, 3, 2, 7), vn(2026, 3, 2, 7)),
        (vn(2026, 3, 2, 10, 5), vn(2026, 3, 2, 10, 5)),  # inside → itself
        (vn(2026, 3, 2, 11, 30), vn(2026, 3, 2, 13, 30)),  # lunch → 13:30
        (vn(2026, 3, 2, 12, 45), vn(2026, 3, 2, 13, 30)),
        (vn(2026, 3, 2, 17), vn(2026, 3, 3, 7)),  # at/after 17:00 → next morning
        (vn(2026, 3, 6, 17, 30), vn(2026, 3, 9, 7)),  # Friday evening → Monday
        (vn(2026, 2, 14, 9), vn(2026, 2, 23, 7)),  # weekend + Tết → 23/2
    ],
)
def test_next_working_start(moment: datetime, expected: datetime) -> None:
    assert CAL.next_working_start(moment) == expected


def test_timezones_in_and_out() -> None:
    received = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
    result = CAL.add_working_days(received, 1)
    assert result == vn(2026, 3, 3, 9)
    assert result.tzinfo == VN
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_days(datetime(2026, 3, 2, 9), 1)
    with pytest.raises(ValueError, match="naive"):
        CAL.due(datetime(2026, 3, 2, 9), working_days=1)


# -- working days and hours -------------------------------------------------------------------


def test_friday_morning_plus_one_working_day_is_monday_same_hour() -> None:
    assert CAL.add_working_days(vn(2026, 3, 6, 9), 1) == vn(2026, 3, 9, 9)
    assert CAL.day_length == timedelta(hours=8)


def test_friday_after_hours_plus_one_day_ends_monday_17h() -> None:
    # Counting starts Monday 30/11 07:00; 8 working hours later is Monday 17:00. Convention: a
    # deadline ending exactly at a session end stays there (not Tuesday 07:00).
    received = vn(2026, 11, 27, 17, 30)
    assert CAL.due(received, working_days=1) == vn(2026, 11, 30, 17)
    assert CAL.add_working_days(received, 1) == vn(2026, 11, 30, 17)
    # the next working hour starts Tuesday morning
    assert CAL.add_working_hours(vn(2026, 11, 30, 17), 1) == vn(2026, 12, 1, 8)


def test_session_end_convention_at_lunch() -> None:
    assert CAL.add_working_hours(vn(2026, 3, 2, 7), 4.5) == vn(2026, 3, 2, 11, 30)
    assert CAL.add_working_hours(vn(2026, 3, 2, 7), Decimal("4.75")) == vn(2026, 3, 2, 13, 45)
    assert CAL.add_working_hours(vn(2026, 3, 2, 11), timedelta(hours=1)) == vn(2026, 3, 2, 14)
    assert CAL.add_working_hours(vn(2026, 3, 2, 16), 1.5) == vn(2026, 3, 3, 7, 30)
    assert CAL.add_working_hours(vn(2026, 3, 2, 12), 0) == vn(2026, 3, 2, 13, 30)


def test_five_working_days_filed_just_before_tet_skip_the_holiday() -> None:
    # Friday 13/2/2026 15:00: 2 h that day, then weekend + Tết (16–20/2) + weekend are skipped.
    received = vn(2026, 2, 13, 15)
    assert CAL.due(received, working_days=5) == vn(2026, 2, 27, 15)
    assert CAL.working_time_between(received, vn(2026, 2, 23, 7)) == timedelta(hours=2)


def test_hung_kings_day_is_skipped() -> None:
    # Friday 24/4/2026 09:00 + 1 day: weekend and the observed Monday 27/4 are skipped.
    assert CAL.due(vn(2026, 4, 24, 9), working_days=1) == vn(2026, 4, 28, 9)
    # 2025: Monday 7/4
    assert CAL.due(vn(2025, 4, 4, 9), working_days=1) == vn(2025, 4, 8, 9)


def test_30_4_and_1_5_are_skipped() -> None:
    # Wednesday 29/4/2026 16:00: 1 h, then Thu 30/4, Fri 1/5 and the weekend; 7 h on Monday 4/5.
    assert CAL.due(vn(2026, 4, 29, 16), working_days=1) == vn(2026, 5, 4, 16)


def test_national_day_2_9_and_its_bridge_are_skipped() -> None:
    # Friday 28/8/2026 09:00 + 1 day: Mon 31/8 (bridge), Tue 1/9 and Wed 2/9 off → Thu 3/9.
    assert CAL.due(vn(2026, 8, 28, 9), working_days=1) == vn(2026, 9, 3, 9)
    # Friday 21/8/2026 09:00 + 1 day: Saturday 22/8 is worked.
    assert CAL.due(vn(2026, 8, 21, 9), working_days=1) == vn(2026, 8, 22, 9)


def test_configured_make_up_saturday() -> None:
    assert CAL_CONFIGURED.is_working_day(date(2026, 3, 7))
    assert CAL_CONFIGURED.due(vn(2026, 3, 6, 9), working_days=1) == vn(2026, 3, 7, 9)
    assert CAL.due(vn(2026, 3, 6, 9), working_days=1) == vn(2026, 3, 9, 9)


def test_configured_extra_day_off() -> None:
    assert not CAL_CONFIGURED.is_working_day(date(2026, 1, 2))
    assert CAL_CONFIGURED.holiday_name(date(2026, 1, 2)) == EXTRA_DAY_OFF_NAME
    # Wed 31/12/2025 09:00 + 2 days: Thu 1/1 holiday, Fri 2/1 extra day off → Tue 6/1 09:00.
    assert CAL_CONFIGURED.due(vn(2025, 12, 31, 9), working_days=2) == vn(2026, 1, 6, 9)
    assert CAL.due(vn(2025, 12, 31, 9), working_days=2) == vn(2026, 1, 5, 9)


def test_with_days_validation() -> None:
    with pytest.raises(ValueError, match="both off and worked"):
        WorkingCalendar.with_days(["2026-03-07"], ["2026-03-07"])
    with pytest.raises(ValueError, match="datetime"):
        WorkingCalendar.with_days([datetime(2026, 3, 7, tzinfo=VN)], [])
    with pytest.raises(ValueError, match="Invalid isoformat"):
        WorkingCalendar.with_days(["7/3/2026"], [])
    with pytest.raises(ValueError, match="sessions"):
        WorkingCalendar(morning=(time(7), time(14)))
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_hours(vn(2026, 3, 2, 9), -1)
    with pytest.raises(ValueError, match="give"):
        CAL.due(vn(2026, 3, 2, 9))
    with pytest.raises(ValueError, match="cannot be combined"):
        CAL.due(vn(2026, 3, 2, 9), working_days=1, calendar_days=1)


def test_custom_sessions_change_the_day_length() -> None:
    cal = WorkingCalendar(morning=(time(8), time(12)), afternoon=(time(13), time(17)))
    assert cal.day_length == timedelta(hours=8)
    assert cal.due(vn(2026, 3, 2, 12, 30), working_hours=1) == vn(2026, 3, 2, 14)


def test_working_days_and_hours_add_up() -> None:
    received = vn(2026, 3, 2, 9)
    assert CAL.due(received, working_days=1, working_hours=2) == CAL.due(received, working_hours=10)


# -- calendar days ----------------------------------------------------------------------------


def test_calendar_days_land_on_a_weekend_move_to_next_working_morning() -> None:
    assert CAL.due(vn(2026, 3, 2, 9), calendar_days=5) == vn(2026, 3, 9, 7)
    assert CAL.due(vn(2026, 3, 2, 9), calendar_days=3) == vn(2026, 3, 5, 9)
    # filed after hours: counting starts the next morning
    assert CAL.due(vn(2026, 3, 2, 18), calendar_days=3) == vn(2026, 3, 6, 7)


def test_calendar_days_optionally_skip_holidays_in_count() -> None:
    received = vn(2026, 4, 23, 10)  # Thursday before Hùng Kings' day and 30/4–1/5
    assert CAL.due(received, calendar_days=5) == vn(2026, 4, 28, 10)
    # 24 (1), 25 (2), 26–27 holiday, 28 (3), 29 (4), 30/4–1/5 holiday, Sat 2/5 (5) → Mon 4/5
    assert CAL.add_calendar_days(received, 5, skip_holidays_in_count=True) == vn(2026, 5, 4, 7)
    skipping = WorkingCalendar(skip_holidays_in_count=True)
    assert skipping.due(received, calendar_days=5) == vn(2026, 5, 4, 7)


# -- pauses -----------------------------------------------------------------------------------


def test_pause_intervals_extend_by_working_time_covered() -> None:
    received = vn(2026, 3, 2, 9)  # Monday
    assert CAL.due(received, working_days=1) == vn(2026, 3, 3, 9)
    # Mon 16:00 → Tue 08:00 covers 1 h + 1 h of working time
    pause = [(vn(2026, 3, 2, 16), vn(2026, 3, 3, 8))]
    assert CAL.due(received, working_days=1, paused=pause) == vn(2026, 3, 3, 11)
    # overlapping intervals are counted once
    overlapping = [*pause, (vn(2026, 3, 2, 16, 30), vn(2026, 3, 2, 18))]
    assert CAL.due(received, working_days=1, paused=overlapping) == vn(2026, 3, 3, 11)
    # a pause given as working time
    assert CAL.due(received, working_days=1, paused=timedelta(hours=4)) == vn(2026, 3, 3, 15)
    # a pause over a weekend costs nothing
    weekend = [(vn(2026, 3, 7, 8), vn(2026, 3, 8, 20))]
    assert CAL.due(received, working_days=1, paused=weekend) == vn(2026, 3, 3, 9)
    # calendar-day deadlines are extended too
    assert CAL.due(received, calendar_days=1, paused=timedelta(hours=1)) == vn(2026, 3, 3, 10)


def test_working_time_between() -> None:
    assert CAL.working_time_between(vn(2026, 3, 2, 7), vn(2026, 3, 9, 7)) == timedelta(hours=40)
    assert CAL.working_time_between(vn(2026, 3, 2, 11), vn(2026, 3, 2, 14)) == timedelta(hours=1)
    assert CAL.working_time_between(vn(2026, 3, 2, 14), vn(2026, 3, 2, 11)) == -timedelta(hours=1)
    assert CAL.working_time_between(vn(2026, 2, 14), vn(2026, 2, 22, 23)) == timedelta(0)


def test_long_durations_are_fast() -> None:
    begin = systime.perf_counter()
    for i in range(200):
        CAL.add_working_days(vn(2026, 1, 5, 9) + timedelta(hours=i), 30)
    assert CAL.due(vn(2026, 1, 5, 9), working_days=250) > vn(2026, 12, 31)
    assert systime.perf_counter() - begin < 2.0


# -- properties -------------------------------------------------------------------------------

PROPS = settings(max_examples=200, deadline=None)
ZONES = st.sampled_from([VN, UTC, ZoneInfo("Europe/Paris")])
calendars = st.sampled_from(CALENDARS)
moments = st.builds(
    lambda naive, zone: naive.replace(tzinfo=VN).astimezone(zone),
    st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    ZONES,
)
minutes = st.integers(min_value=0, max_value=30 * 8 * 60).map(lambda m: timedelta(minutes=m))


def at_work_or_session_end(cal: WorkingCalendar, moment: datetime) -> bool:
    local = moment.astimezone(cal.zone)
    ends = {cal.morning[1], cal.afternoon[1]}
    return cal.is_working_time(moment) or (
        cal.is_working_day(local.date()) and local.time() in ends
    )


@PROPS
@given(cal=calendars, received=moments, hours=minutes, days=st.integers(0, 40))
def test_due_is_inside_working_hours_or_at_session_end(
    cal: WorkingCalendar, received: datetime, hours: timedelta, days: int
) -> None:
    for result in (
        cal.due(received, working_hours=hours),
        cal.due(received, working_days=days),
        cal.due(received, calendar_days=days),
    ):
        assert at_work_or_session_end(cal, result)
        assert result.tzinfo == cal.zone
        assert result >= received


@PROPS
@given(cal=calendars, start=moments, a=minutes, b=minutes)
def test_add_working_hours_is_associative(
    cal: WorkingCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    assert cal.add_working_hours(start, a + b) == cal.add_working_hours(
        cal.add_working_hours(start, a), b
    )


@PROPS
@given(cal=calendars, moment=moments, hours=minutes)
def test_working_time_between_inverts_add_working_hours(
    cal: WorkingCalendar, moment: datetime, hours: timedelta
) -> None:
    start = cal.next_working_start(moment)
    assert cal.is_working_time(start)
    assert cal.working_time_between(start, cal.add_working_hours(start, hours)) == hours
    # holds from outside working hours too: off time costs nothing
    assert cal.working_time_between(moment, cal.add_working_hours(moment, hours)) == hours


@PROPS
@given(
    cal=calendars,
    received=moments,
    a=minutes,
    b=minutes,
    d1=st.integers(0, 40),
    d2=st.integers(0, 40),
)
def test_due_is_monotone_in_the_duration(
    cal: WorkingCalendar, received: datetime, a: timedelta, b: timedelta, d1: int, d2: int
) -> None:
    lo, hi = sorted((a, b))
    assert cal.due(received, working_hours=lo) <= cal.due(received, working_hours=hi)
    d_lo, d_hi = sorted((d1, d2))
    assert cal.due(received, working_days=d_lo) <= cal.due(received, working_days=d_hi)
    assert cal.due(received, calendar_days=d_lo) <= cal.due(received, calendar_days=d_hi)


@PROPS
@given(
    cal=calendars,
    received=moments,
    hours=minutes,
    pauses=st.lists(st.tuples(moments, st.integers(0, 10 * 24 * 60)), max_size=4),
)
def test_pauses_never_shorten_a_deadline(
    cal: WorkingCalendar,
    received: datetime,
    hours: timedelta,
    pauses: list[tuple[datetime, int]],
) -> None:
    intervals = [(s, s + timedelta(minutes=m)) for s, m in pauses]
    base = cal.due(received, working_hours=hours)
    paused = cal.due(received, working_hours=hours, paused=intervals)
    assert paused >= base
    assert cal.working_time_between(base, paused) == cal.paused_time(intervals)
    assert cal.due(received, calendar_days=3, paused=intervals) >= cal.due(
        received, calendar_days=3
    )
