"""Working-day calendar of the Vietnamese one-stop shop: due dates counted in working time.

Rules follow the due-date routine of a real provincial one-stop system (reference §5, DVC-TH
``CaculateTime.cs``); every value is a configurable default, the legal source being unknown:

* two sessions a day, 07:00–11:30 and 13:30–17:00, so one working day is 8 hours;
* Saturdays and Sundays are off, and so are Vietnam's public holidays as given by the ``holidays``
  library (lunar Tết, Hùng Kings' day, 30/4, 1/5, 2/9 and the days off it substitutes), plus the
  days off decided each year (``extra_days_off``); weekend days declared working days
  (``make_up_days``, and those the library knows of) are working days;
* counting starts at the next working moment: before 07:00 → 07:00, during lunch → 13:30, at or
  after 17:00 or on a day off → 07:00 of the next working day.

Conventions:

* Sessions are half-open for *starting* work (a filing at exactly 11:30 or 17:00 waits for the
  next session) but a deadline that falls exactly on a session end stays there: Friday 17:30 + 1
  working day is Monday 17:00, not Tuesday 07:00. Formally, ``add_working_hours(t, h)`` is the
  earliest moment at which ``h`` of working time has elapsed since ``t``; so it is associative
  and ``working_time_between`` inverts it exactly.
* Working time is wall-clock time inside the sessions, in ``zone``; datetimes in and out are
  timezone-aware (naive ones raise ``ValueError``) and results are expressed in ``zone``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays

__all__ = ["EXTRA_DAY_OFF_NAME", "VN_ZONE", "WorkingCalendar"]

VN_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
EXTRA_DAY_OFF_NAME = "Ngày nghỉ bổ sung"  # name given to an extra day off the library does not know
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)


@functools.lru_cache(maxsize=256)
def _public_holidays(year: int, language: str | None) -> tuple[Mapping[date, str], frozenset[date]]:
    """Vietnam's public holidays of one year (date → name) and its weekend days worked in lieu."""
    table = holidays.country_holidays("VN", years=year, language=language)
    names = {day: str(name) for day, name in table.items() if day.year == year}
    worked = frozenset(d for d in table.weekend_workdays if d.year == year)
    return names, worked


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got a datetime: {value!r}")
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _as_duration(hours: float | Decimal | timedelta) -> timedelta:
    if isinstance(hours, timedelta):
        duration = hours
    elif isinstance(hours, bool):
        raise TypeError("a duration cannot be a bool")
    elif isinstance(hours, Decimal):
        if not hours.is_finite():
            raise ValueError(f"duration must be finite, got {hours}")
        micros = (hours * _MICROSECONDS_PER_HOUR).to_integral_value(rounding=ROUND_HALF_EVEN)
        duration = timedelta(microseconds=int(micros))
    else:
        if not math.isfinite(hours):
            raise ValueError(f"duration must be finite, got {hours}")
        duration = timedelta(hours=hours)
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {hours}")
    return duration


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of a one-stop shop; computes due dates in working time."""

    morning: tuple[time, time] = (time(7, 0), time(11, 30))
    afternoon: tuple[time, time] = (time(13, 30), time(17, 0))
    extra_days_off: frozenset[date] = frozenset()  # decided each year (e.g. bridge days)
    make_up_days: frozenset[date] = frozenset()  # Saturdays/Sundays declared working days
    zone: ZoneInfo = VN_ZONE
    # Calendar-day durations ("Ngày"): whether holidays are left out of the count itself
    # (DVC-TH ``TinhNgayHenTraLoaiThoiGianNgayBoQuaNgayLe``); weekends always count.
    skip_holidays_in_count: bool = False
    # Language of holiday names ("vi", "en_US", "th"); weekend days the library lists as worked
    # in lieu of a bridge day off are working days unless ``library_make_up_days`` is False.
    language: str | None = "vi"
    library_make_up_days: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_days_off", frozenset(map(_as_date, self.extra_days_off)))
        object.__setattr__(self, "make_up_days", frozenset(map(_as_date, self.make_up_days)))
        both = self.extra_days_off & self.make_up_days
        if both:
            raise ValueError(f"dates both off and worked: {sorted(both)}")
        (m0, m1), (a0, a1) = self.morning, self.afternoon
        for t in (m0, m1, a0, a1):
            if t.tzinfo is not None:
                raise ValueError("session bounds are local wall-clock times, without tzinfo")
        if not m0 < m1 <= a0 < a1:
            raise ValueError("sessions must satisfy morning start < end <= afternoon start < end")

    @classmethod
    def with_days(
        cls, extra_off: Iterable[date | str] = (), make_up: Iterable[date | str] = (), **kw: Any
    ) -> WorkingCalendar:
        """Build a calendar from dates or ISO strings ("2026-01-02") of extra days off/make-up days."""
        return cls(
            extra_days_off=frozenset(_as_date(d) for d in extra_off),
            make_up_days=frozenset(_as_date(d) for d in make_up),
            **kw,
        )

    # -- days ------------------------------------------------------------------------------

    @property
    def sessions(self) -> tuple[tuple[time, time], tuple[time, time]]:
        return (self.morning, self.afternoon)

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (8 h by default): the unit of a "working day"."""
        return sum((_span(s, e) for s, e in self.sessions), _ZERO)

    def is_public_holiday(self, day: date) -> bool:
        """A public holiday or an extra day off (weekends aside), whatever the make-up days say."""
        return day in self.extra_days_off or day in _public_holidays(day.year, self.language)[0]

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):
            raise ValueError(f"expected a date, got a datetime: {day!r}")
        if day in self.make_up_days:
            return True
        if day in self.extra_days_off:
            return False
        names, worked = _public_holidays(day.year, self.language)
        if day in names:
            return False
        if day.weekday() >= 5:
            return self.library_make_up_days and day in worked
        return True

    def holiday_name(self, day: date) -> str | None:
        """Name of the holiday that makes ``day`` a day off; None for working days and weekends."""
        if self.is_working_day(day):
            return None
        name = _public_holidays(day.year, self.language)[0].get(day)
        if name is not None:
            return name
        return EXTRA_DAY_OFF_NAME if day in self.extra_days_off else None

    # -- moments ---------------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        """``moment`` as a naive wall-clock datetime in ``zone``."""
        if not isinstance(moment, datetime):
            raise TypeError(f"expected a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime not accepted: {moment!r}")
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _aware(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.zone)

    def _sessions_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [(datetime.combine(day, s), datetime.combine(day, e)) for s, e in self.sessions]

    def _next_start(self, local: datetime) -> datetime:
        day = local.date()
        while True:
            for s, e in self._sessions_on(day):
                if local < e:
                    return max(s, local)
            day += _ONE_DAY
            local = datetime.combine(day, time.min)

    def next_working_start(self, moment: datetime) -> datetime:
        """``moment`` itself if inside a session [start, end); otherwise the next session start."""
        return self._aware(self._next_start(self._local(moment)))

    def is_working_time(self, moment: datetime) -> bool:
        local = self._local(moment)
        return any(s <= local < e for s, e in self._sessions_on(local.date()))

    def _add(self, local: datetime, remaining: timedelta) -> datetime:
        day = local.date()
        full_day = self.day_length
        while True:
            sessions = self._sessions_on(day)
            if sessions and local <= sessions[0][0] and remaining > full_day:
                remaining -= full_day  # a whole working day: skip it at once
            else:
                for s, e in sessions:
                    if local > e:
                        continue
                    begin = max(s, local)
                    if remaining <= e - begin:
                        return begin + remaining
                    remaining -= e - begin
            day += _ONE_DAY
            local = datetime.combine(day, time.min)

    def add_working_hours(self, start: datetime, hours: float | Decimal | timedelta) -> datetime:
        """The earliest moment at which ``hours`` of working time have elapsed since ``start``.

        The result is inside a session or exactly at a session end (11:30, 17:00): a deadline
        ending at a session end stays there. Adding zero from outside working hours gives the
        next session start.
        """
        return self._aware(self._add(self._local(start), _as_duration(hours)))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Add ``days`` working days of ``day_length`` each: Friday 09:00 + 1 = Monday 09:00."""
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        return self.add_working_hours(start, self.day_length * days)

    def add_calendar_days(
        self, start: datetime, days: int, *, skip_holidays_in_count: bool | None = None
    ) -> datetime:
        """Add ``days`` calendar days (weekends count), then move off a day off / off hours.

        Holidays (and extra days off) are left out of the count when ``skip_holidays_in_count``
        (default: the calendar's field) is true. The resulting wall-clock time is moved forward
        with ``next_working_start`` (a non-working day → next working morning).
        """
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        skip = (
            self.skip_holidays_in_count
            if skip_holidays_in_count is None
            else skip_holidays_in_count
        )
        local = self._local(start)
        day = local.date()
        left = days
        while left:
            day += _ONE_DAY
            if not (skip and self.is_public_holiday(day) and day not in self.make_up_days):
                left -= 1
        return self._aware(self._next_start(datetime.combine(day, local.time())))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end``; negative when ``end`` comes first."""
        a, b = self._local(start), self._local(end)
        if b < a:
            return -self._between(b, a)
        return self._between(a, b)

    def _between(self, a: datetime, b: datetime) -> timedelta:
        total = _ZERO
        day = a.date()
        full_day = self.day_length
        while day <= b.date():
            sessions = self._sessions_on(day)
            if sessions and a <= sessions[0][0] and sessions[-1][1] <= b:
                total += full_day
            else:
                for s, e in sessions:
                    lo, hi = max(s, a), min(e, b)
                    if hi > lo:
                        total += hi - lo
            day += _ONE_DAY
        return total

    def paused_time(self, paused: timedelta | Sequence[tuple[datetime, datetime]]) -> timedelta:
        """Working time covered by pause intervals (overlaps counted once), or a given duration."""
        if isinstance(paused, timedelta):
            if paused < _ZERO:
                raise ValueError(f"pause must not be negative, got {paused}")
            return paused
        intervals = sorted((self._local(s), self._local(e)) for s, e in paused)
        total = _ZERO
        cur: tuple[datetime, datetime] | None = None
        for s, e in intervals:
            if e < s:
                raise ValueError(f"pause ends before it starts: {s} > {e}")
            if cur is not None and s <= cur[1]:
                cur = (cur[0], max(cur[1], e))
                continue
            if cur is not None:
                total += self._between(*cur)
            cur = (s, e)
        if cur is not None:
            total += self._between(*cur)
        return total

    def due(
        self,
        received: datetime,
        *,
        working_days: int | None = None,
        working_hours: float | Decimal | timedelta | None = None,
        calendar_days: int | None = None,
        paused: timedelta | Sequence[tuple[datetime, datetime]] = (),
    ) -> datetime:
        """Due time of a dossier received at ``received``.

        Counting starts at ``next_working_start(received)``. Give ``working_days`` and/or
        ``working_hours`` (added together, as DVC-TH stores hours: days = hours div 8), or
        ``calendar_days`` alone. Pauses (supplement requests) push the deadline further by the
        working time they cover (or by a given working-time ``timedelta``).
        """
        if working_days is None and working_hours is None and calendar_days is None:
            raise ValueError("give working_days, working_hours or calendar_days")
        if calendar_days is not None and (working_days is not None or working_hours is not None):
            raise ValueError("calendar_days cannot be combined with working days or hours")
        begin = self._next_start(self._local(received))
        extension = self.paused_time(paused)
        if calendar_days is not None:
            base = self._local(self.add_calendar_days(self._aware(begin), calendar_days))
            if extension == _ZERO:
                return self._aware(base)
            return self._aware(self._add(base, extension))
        if working_days is not None and working_days < 0:
            raise ValueError(f"working_days must not be negative, got {working_days}")
        duration = self.day_length * (working_days or 0)
        if working_hours is not None:
            duration += _as_duration(working_hours)
        return self._aware(self._add(begin, duration + extension))


def _span(start: time, end: time) -> timedelta:
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)
