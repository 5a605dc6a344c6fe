"""Benchmark: the holder import from the regional platform (issue 4: 1,000,000 rows at 20,000 rows/s or better on
PostgreSQL, including validation and encryption, memory bounded; measured against a plain COPY). Not a test.

Writes real rows into the configured database, so point it at a scratch one:

    createdb -h 127.0.0.1 -U postgres hc_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_holder_import.py [rows] [--keep]

A CSV file of `rows` new holders (name, ID number, sex, ethnicity, birth date, address, phone: what the
platforms send) is written to a temporary directory, streamed, then:
- the dry run (import_check: parse + validate every row), as the admin's upload does;
- the commit (import_commit, precheck=False as an import job runs it: parse + validate again, seal, blind
  index, COPY, journal and audit rows), batch after batch, each its own transaction;
- a re-import of the same file (every row found, nothing written);
- on PostgreSQL, a plain COPY of the same file's rows into a temporary table (the physical limit).
Peak memory is the process's maximum resident set (ru_maxrss) before and after each step, and Python's own
peak (tracemalloc is too slow for a timing run, so it is measured on a separate, smaller run of 20,000 rows).
Holders written are deleted afterwards (with their journal rows) unless --keep.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNTIES = [
    "610102",
    "610103",
    "610104",
    "610111",
    "610112",
    "610113",
    "610114",
    "610115",
    "610116",
    "610117",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
STREETS = ["长安南路", "小寨东路", "含光路", "电子正街", "科技路", "太白南路", "雁塔北路", "南二环"]


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def id_number(county: str, born: dt.date, serial: int, male: bool) -> str:
    from stdnum.cn import ric

    sequence = serial % 1000
    if (sequence % 2 == 1) != male:
        sequence = (sequence + 1) % 1000
    body = f"{county}{born:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def holder_row(serial: int) -> list[str]:
    """The holder numbered `serial`: unique (county, birth date, sequence) triples, 10 counties x 30,000 days."""
    county = COUNTIES[serial % len(COUNTIES)]
    born = BORN_FROM + dt.timedelta(days=(serial // len(COUNTIES)) % 30_000)
    male = serial % 2 == 0
    sequence = serial // (len(COUNTIES) * 30_000) * 2
    return [
        SURNAMES[serial % len(SURNAMES)] + GIVEN[serial % len(GIVEN)] + GIVEN[(serial // 7) % len(GIVEN)],
        id_number(county, born, sequence + (1 if male else 0), male),
        "男" if male else "女",
        "01" if serial % 50 else "03",
        born.isoformat(),
        f"陕西省西安市{STREETS[serial % 8]}{serial % 300 + 1}号",
        f"13{serial % 1_000_000_000:09d}",
    ]


BORN_FROM = dt.date(1930, 1, 1)


def held_here(start: int, count: int) -> set[str]:
    """ID numbers among the next holders (from serial `start`) that a holder in the database already has.

    make bench fills the database with `manage.py generate` first, whose holders can carry the same numbers; the
    file skips them so that the commit measures new holders only. Checked by blind index, a chunk at a time (the
    set kept is only the numbers found), so the process's peak memory stays the import's own.
    """
    from cards.models import Resident
    from registry.protection import blind_indexes

    held: set[str] = set()
    if not Resident.objects.exists():
        return held
    chunk = 20_000
    first = start
    # The file passes over the held numbers, so it reaches as far past `count` serials as there are of them:
    # check chunks until the unheld ones cover the file (a fixed margin missed 5,861 of 1,000,000 at 14 % held).
    while first - start - len(held) < count:
        numbers = [holder_row(serial)[1] for serial in range(first, first + chunk)]
        first += chunk
        indexes = blind_indexes(numbers, family="id_number")
        found = set(
            Resident.objects.filter(document_index__in=list(indexes.values())).values_list(
                "document_index", flat=True
            )
        )
        held.update(number for number, index in indexes.items() if index in found)
    return held


def write_file(
    path: Path, count: int, headers: list[str], start: int = 0, skip: set[str] = frozenset()
) -> None:
    """`count` distinct, valid holders, streamed to a UTF-8 CSV with the template's headers; numbers in `skip`
    (holders the database has already) are passed over."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        serial, written = start, 0
        while written < count:
            row = holder_row(serial)
            serial += 1
            if row[1] in skip:
                continue
            writer.writerow(row)
            written += 1


def out(text: str) -> None:
    print(text)  # noqa: T201


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ServerCPU:
    """CPU seconds used by the database backends serving this database (PostgreSQL on this machine): the
    import's writer thread has a connection of its own, which closes when the commit ends, so every backend of
    the database is sampled while the step runs and its last reading kept."""

    def __init__(self):
        from django.db import connection

        self.name = connection.settings_dict.get("NAME") if connection.vendor == "postgresql" else None
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.own_cpu = 0.0
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _backends(self, pids: list[int] | None = None) -> dict[int, float]:
        """CPU seconds of the backends among `pids` (None: look for them among every process)."""
        found = {}
        entries = Path("/proc").iterdir() if pids is None else (Path("/proc", str(pid)) for pid in pids)
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                if pids is None and f" {self.name} " not in (entry / "cmdline").read_text():
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return found

    def _sample(self) -> None:
        # Every process is looked at once a second (new backends), the backends found every tenth: reading all
        # of /proc ten times a second cost this process 4 % of a core and took the GIL from the import.
        ticks = 0
        while not self.stop.wait(0.1):
            pids = None if ticks % 10 == 0 else list(self.seen)
            for pid, cpu in self._backends(pids).items():
                self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
            ticks += 1
        self.own_cpu = time.thread_time()  # this thread's CPU time, counted in the process's: taken off it

    def __enter__(self):
        if self.name:
            self.before = self._backends()
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.name:
            self.stop.set()
            self.thread.join()
            for pid, cpu in self._backends().items():
                self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))

    @property
    def seconds(self) -> float | None:
        if not self.name:
            return None
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())


def timed(label: str, count: int, function):
    """Wall time, and the CPU time of this process and of the database backends: on a shared machine the CPU
    times say what the import costs when the two cores are its own."""
    cpu_before = time.process_time()
    start = time.perf_counter()
    with ServerCPU() as server_cpu:
        result = function()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_before - server_cpu.own_cpu  # the import's, not the sampler's
    server = server_cpu.seconds
    out(f"{label:<52} {seconds:8.2f} s  {count / seconds:9,.0f} rows/s   max RSS {maxrss_mb():7.1f} MB")
    out(
        f"{'':<52} CPU: Python {cpu:6.2f} s ({count / cpu:,.0f} rows/s)"
        + (f", server {server:6.2f} s ({count / server:,.0f} rows/s)" if server else "")
    )
    return result, seconds


def copy_seconds(path: Path) -> float | None:
    """A plain COPY of the file's rows (as text) into a temporary table: the physical limit here."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_copy (name text, document_number text, sex text, ethnicity text, "
            "birth_date text, address text, phone text) ON COMMIT DROP"
        )
        start = time.perf_counter()
        with open(path, "rb") as handle:
            handle.readline()  # the header
            with cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv)") as copy:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
        return time.perf_counter() - start


def python_peak(spec, actor, headers, directory: Path, rows: int = 20_000) -> float:
    """Python's peak allocation (tracemalloc) during a commit of 20,000 rows: what the batches hold."""
    from registry.imports import import_commit

    path = directory / "small.csv"
    write_file(path, rows, headers, start=3_000_000)
    tracemalloc.start()
    import_commit(spec, path, actor=actor, precheck=False)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024 / 1024


def cleanup(started: dt.datetime) -> None:
    from django.db import connection, transaction

    from cards.models import Resident
    from registry.models import AuditEntry, JournalEntry

    with transaction.atomic():
        JournalEntry.objects.filter(
            kind__in=["cards.holder", "cards.holder_batch"], created_at__gte=started
        ).delete()
        AuditEntry.objects.filter(action="holder.import", at__gte=started).delete()
        # One DELETE statement: the ORM's delete collects a million holders (and their related rows) in memory
        # first. The bench's holders have no cards, applications or events.
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Resident._meta.db_table} WHERE created_at >= %s", [started])  # noqa: S608
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cards_resident")


def main(count: int, keep: bool, peak_rows: int = 20_000) -> dict:
    setup()
    figures: dict = {"rows": count}
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from cards.importers import HOLDER_IMPORT
    from registry.actors import Actor
    from registry.choices import Channel
    from registry.imports import import_check, import_commit, import_spec

    spec = import_spec(HOLDER_IMPORT)
    actor = Actor.system(channel=Channel.COMMAND, label="bench")
    settings.HC_REGION = "610100"
    headers = ["name", "document_number", "sex", "ethnicity", "birth_date", "address1", "phone1"]
    out(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; {count:,} rows")
    started = timezone.now()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "holders.csv"
        held = held_here(0, count)
        if held:
            out(f"{len(held):,} of these ID numbers are held here already (generate): skipped")
        write_file(path, count, headers, skip=held)
        out(
            f"file: {path.stat().st_size / 1024 / 1024:.0f} MB, max RSS before importing {maxrss_mb():.1f} MB"
        )
        try:
            report, check = timed("dry run (parse + validate)", count, lambda: import_check(spec, path))
            assert report.valid == count, report.errors[:3]
            result, commit = timed(
                "commit, all new (parse + validate + seal + write)",
                count,
                lambda: import_commit(spec, path, actor=actor, precheck=False),
            )
            assert result.created == count, result
            out(
                f"{'  = dry run + commit':<52} {check + commit:8.2f} s  {count / (check + commit):9,.0f} rows/s"
            )
            result, _seconds = timed(
                "re-import, unchanged (commit)",
                count,
                lambda: import_commit(spec, path, actor=actor, precheck=False),
            )
            assert (result.created, result.updated) == (0, 0), result
            limit = copy_seconds(path)
            if limit is not None:
                out(f"{'plain COPY of the same rows':<52} {limit:8.2f} s  {count / limit:9,.0f} rows/s")
                out(f"commit / COPY: {commit / limit:.1f}x the time of the physical limit")
            peak = python_peak(spec, actor, headers, Path(tmp), peak_rows)
            out(f"Python peak allocation while committing {peak_rows:,} rows (tracemalloc): {peak:.1f} MB")
            figures.update(
                rows_per_second=count / commit,
                copy_rows_per_second=count / limit if limit else None,
                check_seconds=check,
                peak_mb=peak,
            )
            verdict = "meets" if count / commit >= 20_000 else "MISSES"
            out(
                f"commit of {count:,} new rows: {count / commit:,.0f} rows/s, {verdict} the 20,000 rows/s target"
            )
        finally:
            if not keep:
                cleanup(started)
    return figures


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(arguments[0]) if arguments else 200_000, "--keep" in sys.argv)
