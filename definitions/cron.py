"""Cron expressions in Spring's dialect, as Conductor's scheduler reads them.

Six fields, seconds first: ``second minute hour day-of-month month day-of-week``, or one
of the macros ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
(``@midnight``) and ``@hourly``. Each field takes ``*``, a value, a range ``a-b``, a
step ``*/n``, ``a/n`` (from ``a`` to the field's end) or ``a-b/n``, and comma lists of
those. Months take ``JAN``-``DEC`` and days of week ``MON``-``SUN`` (any case); day of
week counts ``1`` (Monday) to ``7`` (Sunday), and ``0`` is Sunday too. ``?`` means ``*`` in the
two day fields. The day of month also takes ``L`` (last day), ``L-n`` (n days before
it), ``nW`` (the weekday nearest day n, within the month) and ``LW`` (the last weekday);
the day of week takes ``nL`` (the last such day of the month) and ``n#m`` (the m-th such
day). As in Spring, a day must match both day fields (Unix cron takes either).

Time zones: an instant matches when its wall-clock time in the zone matches. So a time
that a spring-forward transition skips does not fire that day, and a time a fall-back
transition repeats fires at both of its instants (an hourly schedule runs twice in the
repeated hour), which is what Spring's `CronExpression.next` does on a `ZonedDateTime`.

Pure: no I/O and no clock; `next_after` takes the instant to search after.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MACROS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
# Spring's numbering: Monday is 1, Sunday 7 (and 0), so MON-SUN is a range and SUN-MON is not.
DAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
FIELD_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
# Longer than any cycle of days and weekdays (28 years) with room for a leap day in it.
SEARCH_YEARS = 30
# Times past this have no next fire (Python's datetime ends with year 9999).
LAST_YEAR = 9000
LAST_INSTANT_MS = int(datetime(LAST_YEAR, 1, 1, tzinfo=UTC).timestamp() * 1000)


class CronError(ValueError):
    """An expression or zone that cannot be used; the message names the problem."""


def zone(zone_id: str) -> ZoneInfo:
    """The time zone of a Java `ZoneId` name (``UTC``, ``America/New_York``, ``Z``)."""
    name = "UTC" if zone_id in ("Z", "GMT", "UT") else zone_id
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"Unknown time zone '{zone_id}'") from None


@dataclass(frozen=True)
class _DayOfMonth:
    days: frozenset[int]  # plain days 1-31
    last_offsets: frozenset[int]  # L (0) and L-n (n)
    nearest_weekday: frozenset[int]  # nW
    last_weekday: bool  # LW

    def matching(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        found = {d for d in self.days if d <= length}
        found |= {length - n for n in self.last_offsets if length - n >= 1}
        for day in self.nearest_weekday:
            if day <= length:
                found.add(_nearest_weekday(year, month, day, length))
        if self.last_weekday:
            found.add(_nearest_weekday(year, month, length, length))
        return found


@dataclass(frozen=True)
class _DayOfWeek:
    days: frozenset[int]  # Python weekdays, Monday 0
    last_of_month: frozenset[int]  # nL
    nth_of_month: frozenset[tuple[int, int]]  # n#m: (weekday, m)

    def matching(self, year: int, month: int) -> set[int]:
        length = calendar.monthrange(year, month)[1]
        first = date(year, month, 1).weekday()
        found = set()
        for day in range(1, length + 1):
            weekday = (first + day - 1) % 7
            if weekday in self.days:
                found.add(day)
            if weekday in self.last_of_month and day + 7 > length:
                found.add(day)
            if (weekday, (day - 1) // 7 + 1) in self.nth_of_month:
                found.add(day)
        return found


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    weekday = date(year, month, day).weekday()
    if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, unless that leaves the month
        return day + 1 if day < length else day - 2
    return day


@dataclass(frozen=True)
class CronExpression:
    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: _DayOfMonth | None  # None: any day
    months: frozenset[int]
    day_of_week: _DayOfWeek | None

    @staticmethod
    def parse(expression: str) -> CronExpression:
        text = expression.strip()
        fields = MACROS.get(text.lower(), text).split()
        if len(fields) != 6:
            raise CronError(f'Cron expression must consist of 6 fields (found {len(fields)} in "{expression}")')
        try:
            second, minute, hour, dom, month, dow = fields
            return CronExpression(
                expression=expression,
                seconds=tuple(sorted(_values(second, 0, 59, "second"))),
                minutes=tuple(sorted(_values(minute, 0, 59, "minute"))),
                hours=tuple(sorted(_values(hour, 0, 23, "hour"))),
                day_of_month=_parse_day_of_month(dom),
                months=frozenset(_values(month, 1, 12, "month", MONTHS, 1)),
                day_of_week=_parse_day_of_week(dow),
            )
        except CronError as error:
            raise CronError(f'Invalid cron expression "{expression}": {error}') from None

    def _days(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        days = set(range(1, length + 1))
        if self.day_of_month is not None:
            days &= self.day_of_month.matching(year, month)
        if self.day_of_week is not None:
            days &= self.day_of_week.matching(year, month)
        return sorted(days)

    def next_local(self, start: datetime) -> datetime | None:
        """The first naive wall-clock time at or after `start` (whole seconds) that matches."""
        current = start.replace(microsecond=0)
        limit = min(start.year + SEARCH_YEARS, LAST_YEAR)
        while current.year <= limit:
            if current.month not in self.months:
                current = _first_of_next_month(current)
                continue
            days = [d for d in self._days(current.year, current.month) if d >= current.day]
            if not days:
                current = _first_of_next_month(current)
                continue
            if days[0] != current.day:
                current = current.replace(day=days[0], hour=0, minute=0, second=0)
            time = self._time_at_or_after(current.hour, current.minute, current.second)
            if time is None:
                current = current.replace(hour=0, minute=0, second=0) + timedelta(days=1)
                continue
            return current.replace(hour=time[0], minute=time[1], second=time[2])
        return None

    def _time_at_or_after(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        for h in self.hours:
            if h < hour:
                continue
            for m in self.minutes:
                if h == hour and m < minute:
                    continue
                for s in self.seconds:
                    if h == hour and m == minute and s < second:
                        continue
                    return h, m, s
        return None

    def next_after(self, after_ms: int, zone_id: str = "UTC") -> int | None:
        """The first instant (epoch ms, whole seconds) after `after_ms` whose wall-clock time
        in the zone matches; None when there is none within SEARCH_YEARS."""
        tz = zone(zone_id)
        if after_ms >= LAST_INSTANT_MS:
            return None
        instant = max(after_ms, -1) // 1000 + 1
        horizon = instant + (SEARCH_YEARS + 1) * 366 * 86400
        while instant < horizon:
            # Between two offset changes wall-clock time moves with the instant: search there.
            offset = _offset(tz, instant)
            segment_end = _next_transition(tz, instant, offset, horizon)
            local = datetime.fromtimestamp(instant + offset, UTC).replace(tzinfo=None)
            found = self.next_local(local)
            if found is None:
                return None
            candidate = int(found.replace(tzinfo=UTC).timestamp()) - offset
            if candidate < segment_end:
                return candidate * 1000
            instant = segment_end
        return None


def _offset(tz: ZoneInfo, instant: int) -> int:
    offset = datetime.fromtimestamp(instant, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _next_transition(tz: ZoneInfo, instant: int, offset: int, horizon: int) -> int:
    """The first instant after `instant` whose offset is not `offset` (or `horizon`). Steps a
    day at a time, then bisects: zones change their offset at most once a day."""
    step = 86400
    low = instant
    while low < horizon:
        high = min(low + step, horizon)
        if _offset(tz, high) != offset:
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(tz, middle) == offset:
                    low = middle
                else:
                    high = middle
            return high
        low = high
    return horizon


def _is_number(text: str) -> bool:
    # ASCII only: str.isdigit() also takes superscripts and other scripts' digits.
    return text.isascii() and text.isdigit()


def _first_of_next_month(current: datetime) -> datetime:
    if current.month == 12:
        return datetime(current.year + 1, 1, 1)
    return datetime(current.year, current.month + 1, 1)


def _number(text: str, low: int, high: int, field: str, names: list[str] | None, base: int) -> int:
    if names is not None and text.upper() in names:
        return names.index(text.upper()) + base
    if not _is_number(text):
        raise CronError(f"'{text}' is not a valid {field} value")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field} value {value} must be between {low} and {high}")
    return value


def _values(text: str, low: int, high: int, field: str, names: list[str] | None = None, base: int = 0) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"empty value in the {field} field '{text}'")
        spec, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _is_number(step_text) or int(step_text) < 1:
                raise CronError(f"step '{step_text}' of the {field} field must be a number of 1 or more")
            step = int(step_text)
        if spec in ("*", "?"):
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            start = _number(first, low, high, field, names, base)
            end = _number(last, low, high, field, names, base)
            if start > end:
                raise CronError(f"range '{spec}' of the {field} field runs backwards")
        else:
            start = _number(spec, low, high, field, names, base)
            end = high if slash else start
        found.update(range(start, end + 1, step))
    return found


def _parse_day_of_month(text: str) -> _DayOfMonth | None:
    if text in ("*", "?"):
        return None
    days: set[int] = set()
    last_offsets: set[int] = set()
    nearest: set[int] = set()
    last_weekday = False
    for part in text.split(","):
        upper = part.upper()
        if upper == "LW":
            last_weekday = True
        elif upper == "L":
            last_offsets.add(0)
        elif upper.startswith("L-"):
            offset = upper[2:]
            if not _is_number(offset) or not 1 <= int(offset) <= 30:
                raise CronError(f"'{part}' in the day-of-month field: L-n takes n from 1 to 30")
            last_offsets.add(int(offset))
        elif upper.endswith("W"):
            nearest.add(_number(upper[:-1], 1, 31, "day-of-month", None, 0))
        else:
            days |= _values(part, 1, 31, "day-of-month")
    return _DayOfMonth(frozenset(days), frozenset(last_offsets), frozenset(nearest), last_weekday)


def _weekday(text: str) -> int:
    """Spring's day of week (0-7 or a name) as Python's weekday (Monday 0)."""
    return (_number(text, 0, 7, "day-of-week", DAYS, 1) + 6) % 7


def _parse_day_of_week(text: str) -> _DayOfWeek | None:
    if text in ("*", "?"):
        return None
    days: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for part in text.split(","):
        upper = part.upper()
        if "#" in upper:
            day, _, ordinal = upper.partition("#")
            if not _is_number(ordinal) or not 1 <= int(ordinal) <= 5:
                raise CronError(f"'{part}' in the day-of-week field: n#m takes m from 1 to 5")
            nth.add((_weekday(day), int(ordinal)))
        elif upper.endswith("L") and len(upper) > 1:
            last.add(_weekday(upper[:-1]))
        elif upper == "L":
            raise CronError("'L' alone in the day-of-week field is not supported: name the day, as in 5L or FRIL")
        else:
            # Spring's 0-7 numbering, names, ranges and steps, then as Python weekdays.
            days |= {(value + 6) % 7 for value in _values(part, 0, 7, "day-of-week", DAYS, 1)}
    return _DayOfWeek(frozenset(days), frozenset(last), frozenset(nth))


def parse(expression: str) -> CronExpression:
    return CronExpression.parse(expression)
