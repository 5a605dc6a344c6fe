"""Benchmark: card use ingestion (issue 5: 100,000 records in under 10 seconds on PostgreSQL). Not a test.

Writes real rows into the configured database, so point it at a scratch one:

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_card_use_ingest.py [records] [--cards=N] [--keep]

Set-up (not timed): `cards` holders (imported through holder_import_batch) with one active card each, and a
medical institution, both reused by the next run. Then, timed:
- a batch of `records` uses (one hospital's day: each card a few times, every scenario, 1% unknown cards)
  through card_use_ingest_batch: blind index, one card look-up per chunk, duplicate check, COPY, daily
  aggregates, audit and journal, one transaction;
- the same batch sent again (answered from the stored result);
- on PostgreSQL, a plain COPY of the same number of rows into a temporary table (the physical limit).
The uses, batches, aggregates and their journal and audit rows are deleted afterwards unless --keep.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "registration",
    "consultation",
    "pharmacy",
    "lab",
    "settlement",
    "inpatient_admission",
    "rural_coop_settlement",
]
CHIP_PREFIX = "BU"  # chip serials of the bench's cards
INSTITUTION_CODE = "1261011300BU0001X"  # + check digit, computed below


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def out(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201


def institution(actor):
    from stdnum.cn import uscc

    from institutions.actions import organisation_register
    from institutions.models import MedicalInstitution
    from registry.models import Region

    code = INSTITUTION_CODE + uscc.calc_check_digit(INSTITUTION_CODE)
    found = MedicalInstitution.objects.filter(code=code).first()
    if found is not None:
        return found
    return organisation_register(
        actor=actor,
        model=MedicalInstitution,
        code=code,
        region=Region.objects.get(code="610113"),
        name="刷卡基准测试医院",
        nature="public",
        category="general_hospital",
        grade="3a",
    )


def cards(actor, count: int) -> list[tuple[str, str]]:
    """(card number, chip serial) of `count` active bench cards, made (holders imported, cards in bulk) if short."""
    from django.db import transaction
    from django.utils import timezone

    from cards.actions import holder_import_batch
    from cards.choices import CardStatus
    from cards.models import Card, Resident
    from registry.models import Region
    from tests.bench.bench_holder_import import COUNTIES, id_number

    have = list(Card.objects.filter(chip_serial__startswith=CHIP_PREFIX).order_by("id")[:count])
    if len(have) < count:
        base, serial, numbers = dt.date(1940, 1, 1), 900_000_000 + len(have) * 7, []
        taken = {card.card_no for card in have}
        while len(numbers) < count - len(have):
            serial += 1
            number = id_number(
                COUNTIES[serial % 10], base + dt.timedelta(days=serial % 25_000), serial, serial % 2 == 1
            )
            if number not in taken:
                taken.add(number)
                numbers.append(number)
        for start in range(0, len(numbers), 5000):
            rows = [
                {"document_type": "01", "document_number": n, "name": "王测试"}
                for n in numbers[start : start + 5000]
            ]
            holder_import_batch(actor=actor, rows=rows, reason="bench_card_use")
        region, now = Region.objects.get(code="610100"), timezone.now()
        index_field = Resident._meta.get_field("document_index")
        from registry.protection import blind_index

        wanted = {blind_index(n, family=index_field.family): n for n in numbers}
        residents = {}
        for start in range(0, len(wanted), 5000):
            chunk = list(wanted)[start : start + 5000]
            residents.update(
                Resident.objects.filter(document_index__in=chunk).values_list("document_index", "id")
            )
        new = [
            Card(
                card_no=number,
                chip_serial=f"{CHIP_PREFIX}{len(have) + i:010d}",
                resident_id=residents[index],
                status=CardStatus.ACTIVE,
                status_changed_at=now,
                region=region,
                created_at=now,
            )
            for i, (index, number) in enumerate(wanted.items())
        ]
        with transaction.atomic():
            Card.objects.bulk_create(new, batch_size=2000)
        have += new
    return [(card.card_no, card.chip_serial) for card in have[:count]]


def records(pairs: list[tuple[str, str]], count: int, day: dt.date) -> list[dict]:
    """`count` uses of the cards on one day, spread over the opening hours; every 100th card unknown."""
    rows = []
    start = dt.datetime.combine(day, dt.time(7, 0))
    for i in range(count):
        card_no, chip = pairs[i % len(pairs)]
        if i % 100 == 99:
            chip = "FFFF" + chip[4:]  # a card the node does not know
        rows.append(
            {
                "card_no": card_no,
                "chip_serial": chip,
                "used_at": (start + dt.timedelta(seconds=(i * 37) % 50_000, microseconds=i)).isoformat(),
                "scenario": SCENARIOS[i % len(SCENARIOS)],
            }
        )
    return rows


def copy_seconds(count: int) -> float | None:
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return None
    line = "1\t2\t3\t610113\t2026-11-20T08:00:00+08:00\t4\t\tBU0000000001\tconsultation\taccepted\t\n"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_use (LIKE cards_carduse INCLUDING DEFAULTS INCLUDING IDENTITY) ON COMMIT DROP"
        )
        began = time.perf_counter()
        columns = "batch_id, line, institution_id, region_id, used_at, card_id, card_index, chip_serial, scenario, status, reason"
        with cursor.copy(f"COPY bench_use ({columns}) FROM STDIN") as copy:  # noqa: S608
            chunk = line * 1000
            for _ in range(count // 1000):
                copy.write(chunk)
            copy.write(line * (count % 1000))
        return time.perf_counter() - began


def cleanup(hospital, since) -> None:
    from django.db import transaction

    from cards.models import CardUse, CardUseBatch, CardUseDaily
    from registry.models import AuditEntry, JournalEntry

    with transaction.atomic():
        CardUse.objects.filter(institution=hospital).delete()
        CardUseBatch.objects.filter(institution=hospital).delete()
        CardUseDaily.objects.filter(institution=hospital).delete()
        JournalEntry.objects.filter(
            kind="cards.use_daily", key__contains=hospital.code, created_at__gte=since
        ).delete()
        AuditEntry.objects.filter(action="card_use.ingest", at__gte=since).delete()


def run(count: int, *, card_count: int | None = None, keep: bool = False, report=out) -> dict:
    """Ingest `count` uses once and once again; returns the figures (also used by the smoke test)."""
    from django.db import connection
    from django.utils import timezone

    from cards.actions import card_use_ingest_batch
    from registry.actors import Actor
    from registry.choices import Channel
    from tests.bench.bench_holder_import import ServerCPU

    actor = Actor.system(channel=Channel.COMMAND, label="bench")
    card_count = card_count or max(1, min(count // 5, 20_000))
    began = time.perf_counter()
    hospital = institution(actor)
    pairs = cards(actor, card_count)
    report(f"set-up: {len(pairs):,} cards, {time.perf_counter() - began:.1f} s ({connection.vendor})")
    since = timezone.now()
    batch = records(pairs, count, dt.date(2026, 11, 20))
    batch_id = f"BENCH-{since:%Y%m%d%H%M%S%f}"
    cpu_before = time.process_time()
    began = time.perf_counter()
    with ServerCPU() as server_cpu:
        result = card_use_ingest_batch(actor=actor, institution=hospital, batch_id=batch_id, records=batch)
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu_before
    report(
        f"ingest: {count:,} records in {seconds:.2f} s = {count / seconds:,.0f} rows/s "
        f"(accepted {result.accepted:,}, duplicates {result.duplicates:,}, rejected {len(result.rejected):,})"
    )
    # On a shared machine the CPU times say what the ingestion costs when the two cores are its own.
    server = server_cpu.seconds
    report(
        f"  CPU: Python {cpu:.2f} s" + (f", database backend {server:.2f} s" if server is not None else "")
    )
    began = time.perf_counter()
    again = card_use_ingest_batch(actor=actor, institution=hospital, batch_id=batch_id, records=batch)
    resend = time.perf_counter() - began
    report(f"resend: answered from the first result in {resend:.2f} s (resent={again.resent})")
    copy = copy_seconds(count)
    if copy is not None:
        report(
            f"plain COPY of {count:,} rows: {copy:.2f} s = {count / copy:,.0f} rows/s; ratio {seconds / copy:.1f}x"
        )
    if not keep:
        cleanup(hospital, since)
    return {
        "records": count,
        "seconds": seconds,
        "rows_per_second": count / seconds,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": len(result.rejected),
        "resent": again.resent,
    }


if __name__ == "__main__":
    setup()
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    options = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    run(
        int(arguments[0]) if arguments else 100_000,
        card_count=int(options["cards"]) if "cards" in options else None,
        keep="--keep" in sys.argv,
    )
