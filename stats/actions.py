"""Writes of the stats app: folding the case history into daily counts and their weekly and monthly roll-ups,
their by-region forms and the rolling windows; rebuilding them; assessment targets.

The fold reads `cards.event` journal rows after its checkpoint, and `cards.use_daily` rows (a day's absolute
use count per institution and scenario, folded as the difference from what was folded before). Journal numbers
commit in order (the journal counter serialises writers), so a checkpoint never skips an event that commits
late, bulk paths (stock-in, return files, use ingestion: bulk inserts that send no signals) are folded like
single actions, and rows a sync applies from a child node (re-journaled with their origin) are counted at the
parent the same way.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from collections import Counter as Tally

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.common import EVENT_KIND
from cards.actions.uses import USE_DAILY_KIND
from cards.choices import CardEventKind
from cards.models import CardEvent, CardUseDaily, ProductionPlan
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError
from registry.journal import JOURNAL_COUNTER
from registry.models import Counter, JournalEntry
from registry.scope import user_can_see_region
from stats.models import (
    AssessmentTarget,
    DailyCount,
    FoldCheckpoint,
    MonthlyCount,
    RegionDailyCount,
    RegionMonthlyCount,
    StatsWindow,
    WeeklyCount,
    WindowCount,
)
from stats.periods import DAY, MONTH, ROLLING_WINDOWS, WEEK, month_start, range_split, week_start, window_days

log = logging.getLogger(__name__)

SOURCE = EVENT_KIND  # the checkpoint's name: the journal kind it folds
FOLD_BATCH = 20_000

Key = tuple[dt.date, str, str, str, str]  # day, county, institution, card maker, measure
# Kinds also counted per reason (the event's data field holding it): cancellations by reason, incl. death.
REASON_FIELDS = {CardEventKind.CANCELLED: "cancellation_reason"}


USE = "use"  # card uses: measure "use:<scenario>" (rural co-operative settlement: "use:ncms", ...)


def reason_measure(kind: str, reason: str) -> str:
    """The measure counting one kind of event with one reason (a cancellation by death: "cancelled:death")."""
    return f"{kind}:{reason}"


def measures_of(kind: str, data: dict) -> list[str]:
    """What one event counts towards: its kind, and for a cancellation also its kind with the reason."""
    reason = data.get(REASON_FIELDS[kind]) if kind in REASON_FIELDS else None
    return [kind, reason_measure(kind, reason)] if reason else [kind]


def use_measure(scenario: str) -> str:
    """The measure counting card uses of one scenario (from the daily use aggregates, `cards.use_daily`)."""
    return reason_measure(USE, scenario)


def _use_deltas(payloads: list[dict]) -> Tally:
    """What `cards.use_daily` rows (absolute counts per day, institution and scenario, the last one standing) add
    to the daily counts: each key's new count less the count folded so far. A row applied twice adds nothing."""
    latest: dict[Key, int] = {}
    for payload in payloads:  # in journal order: a later total of the same key replaces an earlier one
        key = (
            dt.date.fromisoformat(payload["day"]),
            payload["region"],
            payload["institution"],
            "",
            use_measure(payload["scenario"]),
        )
        latest[key] = int(payload["count"])
    if not latest:
        return Tally()
    stored = DailyCount.objects.filter(
        day__in={key[0] for key in latest},
        institution_code__in={key[2] for key in latest},
        measure__in={key[4] for key in latest},
        card_maker_code="",
    ).values_list("day", "region", "institution_code", "card_maker_code", "measure", "count")
    folded = {tuple(row[:5]): row[5] for row in stored}
    return Tally(
        {key: count - folded.get(key, 0) for key, count in latest.items() if count != folded.get(key, 0)}
    )


def _checkpoint() -> FoldCheckpoint:
    FoldCheckpoint.objects.get_or_create(source=SOURCE)
    return FoldCheckpoint.objects.select_for_update().get(source=SOURCE)


def _makers(plan_numbers: set[str]) -> dict[str, str]:
    if not plan_numbers:
        return {}
    return dict(
        ProductionPlan.objects.filter(number__in=plan_numbers).values_list("number", "card_maker__code")
    )


def _rolled_up(tally: Tally, period_start) -> Tally:
    """The tally's counts per period (the key's day replaced by its period's first day: a Monday, a 1st)."""
    periods: Tally = Tally()
    for (day, *rest), count in tally.items():
        periods[(period_start(day), *rest)] += count
    return periods


def _by_region(tally: Tally) -> Tally:
    regions: Tally = Tally()
    for (day, region, _institution, maker, measure), count in tally.items():
        regions[(day, region, maker, measure)] += count
    return regions


Window = tuple[dt.date, dt.date]  # its first and last day


def _in_windows(tally: Tally, windows: list[Window]) -> Tally:
    """The tally's counts in each window its day falls in, filed under the window's first day."""
    summed: Tally = Tally()
    for first, last in windows:
        for (day, *rest), count in tally.items():
            if first <= day <= last:
                summed[(first, *rest)] += count
    return summed


def _tables(tally: Tally, windows: list[Window]) -> list[tuple[type, Tally]]:
    """Every fact table with the counts it gets from one tally of (day, county, institution, maker, measure): the
    daily counts, their weekly and monthly roll-ups, the by-region forms and the rolling windows, written
    together (one fold, one transaction), so a roll-up never disagrees with the days it sums."""
    months = _rolled_up(tally, month_start)
    return [
        (DailyCount, tally),
        (WeeklyCount, _rolled_up(tally, week_start)),
        (MonthlyCount, months),
        (RegionDailyCount, _by_region(tally)),
        (RegionMonthlyCount, _by_region(months)),
        (WindowCount, _in_windows(tally, windows)),
    ]


def _windows_rolled(*, force: bool = False) -> list[Window]:
    """The rolling windows ending today, rolled forward first when the last roll was on an earlier day (the
    caller holds the fold checkpoint, so no fold adds to the windows meanwhile). Rolling sums each window's
    months, weeks and edge days from the roll-ups in one INSERT ... SELECT per window: O(rows of the range), once
    a day."""
    today = timezone.localdate()
    wanted = {days: window_days(days, today) for days in ROLLING_WINDOWS}
    kept = {w.days: (w.first_day, w.last_day) for w in StatsWindow.objects.all()}
    if kept == wanted and not force:
        return list(wanted.values())
    WindowCount.objects.all().delete()
    StatsWindow.objects.all().delete()
    tables = {MONTH: MonthlyCount, WEEK: WeeklyCount, DAY: DailyCount}
    q = connection.ops.quote_name
    key = ", ".join(q(c) for c in ("region", "institution_code", "card_maker_code", "measure"))
    for days, (first, last) in wanted.items():
        pieces = range_split(first, last, (MONTH, WEEK))
        # Table and column names are the models' own; the days are parameters.
        union = " UNION ALL ".join(
            f"SELECT {key}, {q('count')} FROM {q(tables[grain]._meta.db_table)} "  # noqa: S608
            f"WHERE {q('day')} BETWEEN %s AND %s"
            for grain, _first, _last in pieces
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {q(WindowCount._meta.db_table)} ({q('day')}, {key}, {q('count')}) "  # noqa: S608
                f"SELECT %s, {key}, SUM({q('count')}) FROM ({union}) AS pieces GROUP BY {key}",
                [first, *[day for _grain, start, end in pieces for day in (start, end)]],
            )
        StatsWindow.objects.create(days=days, first_day=first, last_day=last, rolled_at=timezone.now())
    return list(wanted.values())


def _add(tally: Tally, windows: list[Window]) -> None:
    """Add counts to every fact table (one UPDATE per touched key; a new key is created)."""
    for model, counts in _tables(tally, windows):
        for values, count in counts.items():
            key = dict(zip(model.KEY, values, strict=True))
            if not model.objects.filter(**key).update(count=F("count") + count):
                model.objects.create(count=count, **key)


def stats_fold(*, limit: int = FOLD_BATCH, batches: int | None = None) -> int:
    """Fold the case-history events journaled since the checkpoint into the fact tables; returns how many.

    Idempotent and safe to call from anywhere at any time (after an action commits, from the scheduled task,
    after a sync applied rows): folds serialise on the checkpoint row.
    """
    folded = 0
    while True:
        with transaction.atomic():
            checkpoint = _checkpoint()
            windows = _windows_rolled()
            top = Counter.objects.filter(name=JOURNAL_COUNTER).values_list("value", flat=True).first() or 0
            # Only numbers that are visible now: the counter may be ahead of rows still committing, so stop at
            # the highest committed row, never at the counter.
            upto = (
                JournalEntry.objects.filter(seq__gt=checkpoint.seq, seq__lte=top)
                .order_by("-seq")
                .values_list("seq", flat=True)
                .first()
            )
            if upto is None:
                return folded
            rows = list(
                JournalEntry.objects.filter(
                    seq__gt=checkpoint.seq, seq__lte=upto, kind__in=(EVENT_KIND, USE_DAILY_KIND)
                )
                .order_by("seq")
                .values_list("seq", "kind", "payload")[:limit]
            )
            if len(rows) == limit:
                upto = rows[-1][0]
            events = [payload for _seq, kind, payload in rows if kind == EVENT_KIND]
            plans = {p["data"].get("plan") for p in events if isinstance(p.get("data"), dict)} - {None, ""}
            makers = _makers(plans)
            tally = _use_deltas([payload for _seq, kind, payload in rows if kind == USE_DAILY_KIND])
            for payload in events:
                data = payload.get("data") or {}
                maker = data.get("card_maker") or makers.get(data.get("plan") or "", "")
                day = timezone.localtime(dt.datetime.fromisoformat(payload["at"])).date()
                for measure in measures_of(payload["kind"], data):
                    tally[
                        (day, payload["region"], payload.get("institution_code") or "", maker, measure)
                    ] += 1
            _add(tally, windows)
            checkpoint.seq = upto
            checkpoint.updated_at = timezone.now()
            checkpoint.save(update_fields=["seq", "updated_at"])
            folded += len(rows)
            if batches is not None:
                batches -= 1
            if len(rows) < limit or batches == 0:
                return folded


def stats_windows_roll() -> list[Window]:
    """Sum the rolling windows afresh from the roll-ups (what the first fold of each day does by itself; after a
    bulk load of counts that was not folded, a benchmark's or a restore's)."""
    with transaction.atomic():
        _checkpoint()  # as a fold: no fold adds to the windows while they are summed
        return _windows_rolled(force=True)


def stats_fold_soon() -> None:
    """After a commit: fold now (embedded) or in a worker; a failure never undoes the action that committed."""
    from stats.tasks import stats_fold_task

    try:
        stats_fold_task.delay()
    except Exception:  # the scheduled fold catches up; the person's action has committed already
        log.exception("stats fold could not be started")


def stats_rebuild(*, actor: Actor) -> int:
    """Recompute every fact table (daily counts, their roll-ups) from the case-history rows and the daily use
    aggregates; returns the number of daily count rows.

    Holds the journal counter while it counts, so no event commits between the count and the checkpoint it
    sets: the next fold continues exactly where the rebuild's rows end. Running it twice gives the same rows.
    """
    with transaction.atomic():
        checkpoint = _checkpoint()
        Counter.objects.get_or_create(name=JOURNAL_COUNTER)
        top = Counter.objects.select_for_update().get(name=JOURNAL_COUNTER).value
        grouped = (
            CardEvent.objects.order_by()
            .annotate(
                day=TruncDate("at"),
                plan=KT("data__plan"),
                maker=KT("data__card_maker"),
                cancellation_reason=KT("data__cancellation_reason"),
            )
            .values("day", "region_id", "institution_code", "kind", "plan", "maker", "cancellation_reason")
            .annotate(n=Count("id"))
        )
        groups = list(grouped)
        makers = _makers({g["plan"] for g in groups if g["plan"]})
        tally: Tally = Tally()
        for g in groups:
            maker = g["maker"] or makers.get(g["plan"] or "", "")
            for measure in measures_of(g["kind"], g):
                tally[(g["day"], g["region_id"], g["institution_code"], maker, measure)] += g["n"]
        uses = CardUseDaily.objects.values("day", "region_id", "institution__code", "scenario").annotate(
            n=Sum("count")
        )
        for g in uses.order_by():
            measure = use_measure(g["scenario"])
            tally[(g["day"], g["region_id"], g["institution__code"], "", measure)] += g["n"]
        for model, counts in _tables(tally, []):  # the windows are summed from the roll-ups below
            model.objects.all().delete()
            model.objects.bulk_create(
                [
                    model(count=count, **dict(zip(model.KEY, values, strict=True)))
                    for values, count in counts.items()
                ],
                batch_size=2000,
            )
        _windows_rolled(force=True)
        checkpoint.seq = top
        checkpoint.updated_at = timezone.now()
        checkpoint.save(update_fields=["seq", "updated_at"])
        audit_record(actor=actor, action="stats.rebuild", target=checkpoint, changes={"rows": len(tally)})
    return len(tally)


@transaction.atomic(durable=True)
def assessment_target_set(
    *, actor: Actor, year: int, region_id: str, measure: str, value, institution_code: str = ""
) -> AssessmentTarget:
    """Set (or change) one yearly target; the centre's statistician does it for its subordinates."""
    if actor.user is not None and not user_can_see_region(actor.user, region_id):
        raise DomainError(
            _("Region %(code)s is outside your area: set targets only for the regions you supervise."),
            {"code": region_id},
            code="out_of_scope",
        )
    target, created = AssessmentTarget.objects.select_for_update().get_or_create(
        year=year,
        region_id=region_id,
        institution_code=institution_code,
        measure=measure,
        defaults={"value": value, "set_by": actor.user, "set_at": timezone.now()},
    )
    if not created and target.value == decimal.Decimal(str(value)):
        return target  # unchanged: nothing to write, nothing to audit
    before = None if created else str(target.value)
    if not created:
        target.value = value
        target.set_by = actor.user
        target.set_at = timezone.now()
        target.save(update_fields=["value", "set_by", "set_at"])
    audit_record(
        actor=actor,
        action="stats.target_set",
        target=target,
        region_code=region_id,
        changes={"value": [before, str(value)]},
    )
    return target
