"""Benchmark: the dashboard and every report over the daily counts of N cards, then of 10 N (growth). Not a test.

Generates DailyCount rows (and their weekly, monthly, by-region and rolling-window forms) as N cards' case history
and a year of their uses would leave them (each card applied, planned, produced, stocked in, dispatched,
delivered, collected over a year, some lost, used in three scenarios, across a province's counties, its
institutions and three card makers; COPY on PostgreSQL), then requests as a province statistician would, through
Django's test client: the dashboard's JSON (headline, trend, region drill at province and city level) and each
report page (production, issuance, lifecycle, uses, the scorecard, institutions, SAM issuance) for the last 30
days and for the whole year. Prints p50/p95 per request (target: p95 under 300 ms).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_dashboard.py [cards=10000000] [--no-growth] [--keep] [--reuse]

--keep leaves the generated rows; --reuse measures them again (one round, no generation) after a code change.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A card's case history over the year (applied ... collected), a loss now and then, and its uses in three
# scenarios (the uses report and the scorecard read them: folded from the daily use aggregates as "use:<scenario>").
MEASURES = (
    "applied",
    "planned",
    "produced",
    "stocked_in",
    "dispatched",
    "delivered",
    "collected",
    "loss_reported",
    "use:consultation",
    "use:pharmacy",
    "use:rural_coop_settlement",
)
PRODUCTION = ("planned", "produced", "stocked_in")
MAKERS = ("BENCHMAKER000000A1", "BENCHMAKER000000B2", "BENCHMAKER000000C3")
TAG = "BENCH"  # institution codes of generated rows start with it (and cleanup finds them by it)


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def out(text: str) -> None:
    print(text, flush=True)  # noqa: T201  (a benchmark prints its figures)


def generate(cards: int, *, province: str = "61", days: int = 365, today: dt.date | None = None) -> int:
    """Write the daily counts N cards leave over `days` days; returns the number of rows written.

    Cards are spread evenly over days and counties; each county-day's cards over as many institutions as
    keep about 20 cards per row (at least 1, at most 200 institutions per county), so the table grows with
    the data as a real one would (more institutions active each day), not just its counts.
    """
    from django.db import connection, transaction

    from registry.choices import RegionLevel
    from registry.models import Region
    from stats.actions import stats_windows_roll
    from stats.models import (
        DailyCount,
        MonthlyCount,
        RegionDailyCount,
        RegionMonthlyCount,
        WeeklyCount,
        WindowCount,
    )

    today = today or dt.date.today()
    counties = list(
        Region.objects.filter(level=RegionLevel.COUNTY, code__startswith=province)
        .exclude(name__endswith="市辖区")
        .values_list("code", flat=True)
    )
    cells = [(today - dt.timedelta(days=offset), county) for offset in range(days) for county in counties]
    if cards < len(cells):  # fewer cards than county-days: only some county-days saw any
        step = len(cells) / cards
        cells = [cells[int(i * step)] for i in range(cards)]
    per_cell = max(cards // len(cells), 1)
    institutions = max(1, min(200, per_cell // 20))
    per_row = max(per_cell // institutions, 1)
    written = 0

    def rows():
        for day, county in cells:
            for i in range(institutions):
                institution = f"{TAG}{county}{i:03d}".ljust(18, "0")
                maker = MAKERS[i % len(MAKERS)]
                for measure in MEASURES:
                    # Every row carries the applying institution; production rows the card maker too.
                    yield (day, county, institution, maker if measure in PRODUCTION else "", measure, per_row)

    columns = ("day", "region", "institution_code", "card_maker_code", "measure", "count")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = DailyCount._meta.db_table
            with connection.cursor() as cursor:
                buffer = io.StringIO()
                for row in rows():
                    buffer.write("\t".join(str(v) for v in row) + "\n")
                    written += 1
                    if written % 500_000 == 0:
                        buffer.seek(0)
                        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                            copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                buffer.seek(0)
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(buffer.getvalue())
                cursor.execute(f"ANALYZE {table}")
        else:
            batch = []
            for row in rows():
                batch.append(DailyCount(**dict(zip(columns, row, strict=True))))
                written += 1
                if len(batch) == 20_000:
                    DailyCount.objects.bulk_create(batch)
                    batch = []
            DailyCount.objects.bulk_create(batch)
        rollups(connection)
        stats_windows_roll()  # the rolling windows, as the first fold of the day sums them
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # As autovacuum leaves a table some time after a load: its visibility map set, so the figures read
        # the fact tables' covering indexes without visiting the heap (VACUUM runs outside a transaction: not
        # in the smoke test's).
        with connection.cursor() as cursor:
            for model in (
                DailyCount,
                WeeklyCount,
                MonthlyCount,
                RegionDailyCount,
                RegionMonthlyCount,
                WindowCount,
            ):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return written


def rollups(connection) -> None:
    """The weekly, monthly and by-region rows of the generated daily ones (what the fold writes beside each daily
    count)."""
    from django.db.models import F, Sum
    from django.db.models.functions import TruncMonth, TruncWeek

    from stats.models import DailyCount, MonthlyCount, RegionDailyCount, RegionMonthlyCount, WeeklyCount

    generated = DailyCount.objects.filter(institution_code__startswith=TAG)
    for model, period in (
        (WeeklyCount, TruncWeek("day")),
        (MonthlyCount, TruncMonth("day")),
        (RegionDailyCount, F("day")),
        (RegionMonthlyCount, TruncMonth("day")),
    ):
        keys = [k for k in model.KEY if k != "day"]
        rows = generated.annotate(period=period).values("period", *keys).order_by().annotate(n=Sum("count"))
        if connection.vendor == "postgresql":  # one INSERT ... SELECT: at 100 M cards the weekly rows are 8 M
            sql, params = rows.query.sql_with_params()
            columns = ", ".join(("day", *keys, "count"))
            selected = ", ".join(
                ("period", *keys, "n")
            )  # by name: the ORM's SQL may order its columns otherwise
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {selected} FROM ({sql}) AS grouped",  # noqa: S608
                    params,
                )
                cursor.execute(f"ANALYZE {model._meta.db_table}")
            continue
        batch = []
        for row in rows.iterator(chunk_size=20_000):
            batch.append(model(day=row["period"], count=row["n"], **{k: row[k] for k in keys}))
            if len(batch) == 20_000:
                model.objects.bulk_create(batch)
                batch = []
        model.objects.bulk_create(batch)


def cleanup() -> None:
    from django.db import connection

    from stats.models import (
        DailyCount,
        MonthlyCount,
        RegionDailyCount,
        RegionMonthlyCount,
        StatsWindow,
        WeeklyCount,
        WindowCount,
    )

    for model in (DailyCount, WeeklyCount, MonthlyCount):
        model.objects.filter(institution_code__startswith=TAG).delete()
    # The windows are summed afresh from the roll-ups by the next fold (emptied, not deleted row by row: a round
    # of 100 M cards leaves an index of dead entries that the next round's scans would walk through).
    StatsWindow.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {WindowCount._meta.db_table}")
    else:
        WindowCount.objects.all().delete()
    # The by-region tables have no institution to tell generated rows by: the bench runs on a scratch database.
    RegionDailyCount.objects.all().delete()
    RegionMonthlyCount.objects.all().delete()


def requests(today: dt.date) -> list[tuple[str, str, dict]]:
    month = {"date_from": (today - dt.timedelta(days=29)).isoformat(), "date_to": today.isoformat()}
    year = {"date_from": (today - dt.timedelta(days=364)).isoformat(), "date_to": today.isoformat()}
    base = "/admin/stats/dailycount/"
    out_list = [
        ("home page (dashboard frame)", "/admin/", {}),
        ("dashboard data, province", f"{base}dashboard-data/", {}),
        ("dashboard data, city drill", f"{base}dashboard-data/", {"region": "610100"}),
        ("dashboard data, a year", f"{base}dashboard-data/", year),
    ]
    for name, groupings in (
        ("production", ("card_maker", "region", "month")),
        ("issuance", ("region", "institution", "month")),
        ("lifecycle", ("region", "institution", "month")),
        ("uses", ("region", "institution", "month")),
        ("assessment", ("region", "institution")),
        ("institutions", ("region",)),
        ("sam_issuance", ("region", "institution")),
    ):
        for grouping in groupings:
            out_list.append(
                (f"{name} by {grouping}, 30 days", f"{base}report/{name}/", {**month, "by": grouping})
            )
            out_list.append(
                (f"{name} by {grouping}, a year", f"{base}report/{name}/", {**year, "by": grouping})
            )
    return out_list


def measure(client, repeat: int, today: dt.date) -> list[tuple[str, float, float]]:
    results = []
    for label, url, params in requests(today):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        results.append((label, statistics.median(times), p95))
    return results


def statistician():
    from registry.actions import user_create
    from registry.actors import Actor
    from registry.choices import Channel
    from registry.models import Region
    from registry.models.users import User

    user = User.objects.filter(username="bench-statistician").first()
    if user is None:
        user = user_create(
            actor=Actor.system(channel=Channel.COMMAND, label="bench"),
            username="bench-statistician",
            password="bench-Pass-2026!",
            roles=["统计员"],
            scope_region=Region.objects.get(code="610000"),
        )
    return user


def run(
    cards: int, *, growth: bool = True, repeat: int = 20, keep: bool = False, reuse: bool = False
) -> list[dict]:
    """Generate, measure, (grow tenfold, measure again), clean up. Returns one dict per round. reuse: measure
    the rows a run with keep left (the same scale), without generating them again."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from stats.actions import stats_fold
    from stats.models import DailyCount

    settings.HC_REGION = "610000"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(statistician())
    today = timezone.localdate()
    rounds = []
    out(f"database: {connection.vendor}; province 610000 node, a province statistician")
    try:
        for scale in (cards, cards * 10) if growth else (cards,):
            started = time.perf_counter()
            if reuse:
                rows = DailyCount.objects.filter(institution_code__startswith=TAG).count()
                out(f"\n{scale:,} cards: {rows:,} daily count rows kept by an earlier run (--keep)")
            else:
                cleanup()
                rows = generate(scale, today=today)
                out(
                    f"\n{scale:,} cards: {rows:,} daily count rows, generated in "
                    f"{time.perf_counter() - started:.1f} s"
                )
            # A node's scheduled fold keeps up with its journal every minute; what an earlier bench journaled
            # (the card status bench's cards) is folded here, not by the pages measured.
            stats_fold()
            client.get("/admin/")  # the first request of a process loads URLs and templates: not measured
            results = measure(client, repeat, today)
            worst = max(p95 for _label, _p50, p95 in results)
            for label, p50, p95 in results:
                out(f"  {label:<42} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
            verdict = "meets" if worst < 300 else "MISSES"
            out(f"  worst p95 {worst:.1f} ms: {verdict} the 300 ms target")
            rounds.append({"cards": scale, "rows": rows, "results": results, "worst_p95": worst})
    finally:
        if not keep:
            cleanup()
    return rounds


if __name__ == "__main__":
    setup()
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    run(
        int(arguments[0]) if arguments else 10_000_000,
        growth="--no-growth" not in sys.argv and "--reuse" not in sys.argv,
        keep="--keep" in sys.argv or "--reuse" in sys.argv,
        reuse="--reuse" in sys.argv,
    )
