"""The calendar of the roll-ups: which week and month a day counts in, and how a date range splits into whole
months, whole ISO weeks (Monday to Sunday) and the days left at its edges, so a figure reads a few roll-up
rows per key instead of one row per day."""

from __future__ import annotations

import datetime as dt

MONTH, WEEK, DAY = "month", "week", "day"
ONE_DAY = dt.timedelta(days=1)
ONE_WEEK = dt.timedelta(days=7)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after the day's month."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def week_start(day: dt.date) -> dt.date:
    """The Monday of the day's ISO week: the day a weekly roll-up row carries."""
    return day - dt.timedelta(days=day.weekday())


PERIOD_START = {MONTH: month_start, WEEK: week_start}


def _whole(grain: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The whole periods inside [start, end] as [first day, stop): stop <= first when there is none."""
    if grain == MONTH:
        first = start if start.day == 1 else next_month(start)
        return first, month_start(end + ONE_DAY)
    first = start if start.weekday() == 0 else week_start(start) + ONE_WEEK
    return first, week_start(end + ONE_DAY)


def range_split(
    start: dt.date,
    end: dt.date,
    grains: tuple[str, ...] = (MONTH, WEEK),
    *,
    weeks_within_months: bool = False,
) -> list[tuple[str, dt.date, dt.date]]:
    """Cover the days start..end (inclusive) exactly once: the whole periods of the coarsest grain first, what is
    left at either edge by the next grain, the rest by days. Each piece is (grain, first, last) where first and
    last are period starts, i.e. the `day` values of the roll-up rows to read (for days: the days themselves).

    weeks_within_months: a week may not straddle two months (a figure grouped by month files a week row under
    its Monday's month, so a straddling week would put some days in the wrong month).
    """
    if start > end:
        return []
    if not grains:
        return [(DAY, start, end)]
    grain, finer = grains[0], grains[1:]
    if grain == WEEK and weeks_within_months and month_start(start) != month_start(end):
        boundary = next_month(start)
        return [
            *range_split(start, boundary - ONE_DAY, grains, weeks_within_months=True),
            *range_split(boundary, end, grains, weeks_within_months=True),
        ]
    first, stop = _whole(grain, start, end)
    if stop <= first:
        return range_split(start, end, finer, weeks_within_months=weeks_within_months)
    last = PERIOD_START[grain](stop - ONE_DAY)
    return [
        (grain, first, last),
        *range_split(start, first - ONE_DAY, finer, weeks_within_months=weeks_within_months),
        *range_split(stop, end, finer, weeks_within_months=weeks_within_months),
    ]


# The rolling windows the fold keeps summed (stats.models.WindowCount): the report form's presets, the last 30
# days (its default) and the last 365 days, each ending today. A range that is one of them exactly reads the
# window's rows; any other range reads its months, weeks and edge days.
ROLLING_WINDOWS = (30, 365)


def window_days(days: int, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the window of `days` days ending today."""
    return today - dt.timedelta(days=days - 1), today
