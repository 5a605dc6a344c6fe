"""How a date range splits into whole months, whole ISO weeks and edge days: every day exactly once, and as few
rows per key as the calendar allows."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from stats.periods import DAY, MONTH, WEEK, month_start, next_month, range_split, week_start

D = dt.date


def days_covered(pieces) -> list[dt.date]:
    """The days the pieces stand for, in order of the pieces (a week or month piece: all days of its periods)."""
    out = []
    for grain, first, last in pieces:
        period = first
        while period <= last:
            if grain == DAY:
                out.append(period)
                period += dt.timedelta(days=1)
            elif grain == WEEK:
                assert period.weekday() == 0  # a weekly row carries its Monday
                out += [period + dt.timedelta(days=i) for i in range(7)]
                period += dt.timedelta(days=7)
            else:
                assert period.day == 1
                end = next_month(period)
                out += [period + dt.timedelta(days=i) for i in range((end - period).days)]
                period = end
    return out


def every_day(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def test_week_and_month_starts():
    assert week_start(D(2026, 11, 22)) == D(2026, 11, 16)  # a Sunday belongs to the week of the Monday before
    assert week_start(D(2026, 11, 16)) == D(2026, 11, 16)
    assert week_start(D(2026, 1, 1)) == D(2025, 12, 29)  # ISO week 1 of 2026 starts in 2025
    assert month_start(D(2026, 2, 28)) == D(2026, 2, 1)
    assert next_month(D(2026, 12, 31)) == D(2027, 1, 1)
    assert next_month(D(2024, 1, 31)) == D(2024, 2, 1)


def test_a_range_shorter_than_a_week_is_read_by_days():
    assert range_split(D(2026, 11, 17), D(2026, 11, 21)) == [(DAY, D(2026, 11, 17), D(2026, 11, 21))]
    assert range_split(D(2026, 11, 22), D(2026, 11, 22)) == [(DAY, D(2026, 11, 22), D(2026, 11, 22))]
    # Seven days that are not Monday to Sunday are not a week.
    assert range_split(D(2026, 11, 17), D(2026, 11, 23)) == [(DAY, D(2026, 11, 17), D(2026, 11, 23))]


def test_whole_iso_weeks_monday_to_sunday():
    assert range_split(D(2026, 11, 16), D(2026, 11, 22)) == [(WEEK, D(2026, 11, 16), D(2026, 11, 16))]
    # Wednesday to the Tuesday two weeks on: one whole week, days either side.
    assert range_split(D(2026, 11, 4), D(2026, 11, 17)) == [
        (WEEK, D(2026, 11, 9), D(2026, 11, 9)),
        (DAY, D(2026, 11, 4), D(2026, 11, 8)),
        (DAY, D(2026, 11, 16), D(2026, 11, 17)),
    ]


def test_whole_months_then_weeks_then_days_at_the_edges():
    assert range_split(D(2026, 2, 1), D(2026, 2, 28)) == [(MONTH, D(2026, 2, 1), D(2026, 2, 1))]
    # 2026-01-07 is a Wednesday: the 12th to the 25th are two whole weeks, the last days of January days.
    assert range_split(D(2026, 1, 7), D(2026, 3, 3)) == [
        (MONTH, D(2026, 2, 1), D(2026, 2, 1)),
        (WEEK, D(2026, 1, 12), D(2026, 1, 19)),
        (DAY, D(2026, 1, 7), D(2026, 1, 11)),
        (DAY, D(2026, 1, 26), D(2026, 1, 31)),
        (DAY, D(2026, 3, 1), D(2026, 3, 3)),
    ]


def test_the_benchmark_year_reads_eleven_months_four_weeks_and_two_days():
    """The bench's year (the last 365 days up to Sunday 2026-11-22): 17 rows per key instead of 41 (11 months
    and 30 edge days) or 365."""
    pieces = range_split(D(2025, 11, 23), D(2026, 11, 22))
    assert pieces == [
        (MONTH, D(2025, 12, 1), D(2026, 10, 1)),
        (WEEK, D(2025, 11, 24), D(2025, 11, 24)),
        (DAY, D(2025, 11, 23), D(2025, 11, 23)),
        (WEEK, D(2026, 11, 2), D(2026, 11, 16)),
        (DAY, D(2026, 11, 1), D(2026, 11, 1)),
    ]
    assert sorted(days_covered(pieces)) == every_day(D(2025, 11, 23), D(2026, 11, 22))


def test_a_calendar_year_is_twelve_months():
    assert range_split(D(2026, 1, 1), D(2026, 12, 31)) == [(MONTH, D(2026, 1, 1), D(2026, 12, 1))]


def test_weeks_straddle_a_month_boundary_unless_grouping_by_month():
    # Monday 2026-09-28 to Sunday 2026-10-11: two whole weeks, the first across September's end.
    assert range_split(D(2026, 9, 28), D(2026, 10, 11)) == [(WEEK, D(2026, 9, 28), D(2026, 10, 5))]
    # By month the week of 09-28 would file October's first four days under September: they are days then.
    assert range_split(D(2026, 9, 28), D(2026, 10, 11), weeks_within_months=True) == [
        (DAY, D(2026, 9, 28), D(2026, 9, 30)),
        (WEEK, D(2026, 10, 5), D(2026, 10, 5)),
        (DAY, D(2026, 10, 1), D(2026, 10, 4)),
    ]


def test_without_weeks_the_edges_are_days():
    assert range_split(D(2026, 1, 7), D(2026, 3, 3), (MONTH,)) == [
        (MONTH, D(2026, 2, 1), D(2026, 2, 1)),
        (DAY, D(2026, 1, 7), D(2026, 1, 31)),
        (DAY, D(2026, 3, 1), D(2026, 3, 3)),
    ]
    assert range_split(D(2026, 1, 7), D(2026, 3, 3), ()) == [(DAY, D(2026, 1, 7), D(2026, 3, 3))]
    assert range_split(D(2026, 3, 3), D(2026, 3, 2)) == []


@given(
    start=st.dates(min_value=D(2020, 1, 1), max_value=D(2030, 12, 31)),
    length=st.integers(0, 800),
    by_month=st.booleans(),
)
def test_every_day_of_any_range_is_read_exactly_once(start, length, by_month):
    end = start + dt.timedelta(days=length)
    pieces = range_split(start, end, weeks_within_months=by_month)
    assert sorted(days_covered(pieces)) == every_day(start, end)
    if by_month:  # no week crosses into another month
        for grain, first, last in pieces:
            if grain == WEEK:
                assert month_start(first) == month_start(last + dt.timedelta(days=6))
    # Besides its whole months a range reads at most 8 weeks and 24 days per key (a side: up to 4 weeks and 6
    # days before and after them), whatever its length.
    weeks = sum(_periods(first, last, 7) for grain, first, last in pieces if grain == WEEK)
    days = sum(_periods(first, last, 1) for grain, first, last in pieces if grain == DAY)
    assert weeks <= 8 and days <= 24


def _periods(first: dt.date, last: dt.date, step: int) -> int:
    return (last - first).days // step + 1
