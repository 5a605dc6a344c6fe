"""Benchmark: one city -> province hop of the tier sync (issue 8: >= 20,000 journal rows/s applied on
PostgreSQL incl. signature check and idempotent upsert; catch-up of 1,000,000 rows after a day offline in under
2 minutes; < 200 bytes on the wire per card-issuance row). Not a test.

Writes real rows into the configured database, so point it at a scratch one:

    createdb -h 127.0.0.1 -U postgres hc_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_sync_apply.py [issuances]

Each issuance is what a city journals when a holder gets a card: the holder, the card and its events. The
script builds the city's bundles (open, sign, gzip, encrypt), then the province receives them (verify,
decrypt, apply, re-journal) and prints: rows/s for building and for applying, bytes per row on the wire, the
same rows received again in new bundles (all duplicates: the idempotency check alone), and the catch-up time
of 1,000,000 rows: measured when the run applies at least that many (333,334 issuances), otherwise
extrapolated from this run's apply rate (and said so).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_ROWS = 2000
CATCH_UP_ROWS = 1_000_000
AGAIN_BUNDLES = 50  # the duplicate-only re-receive is measured on this many bundles at most


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201  (a console script)


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def id_number(n: int) -> str:
    """A valid ID number, a different one for each n below 25,000,000 (a birth day per thousand)."""
    from stdnum.cn import ric

    born = dt.date(1950, 1, 1) + dt.timedelta(days=(n // 1000) % 25000)
    body = f"610113{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def issuance_rows(count: int, first_seq: int, tag: str, start: int = 0) -> list[dict]:
    """Transport rows (personal fields open, as a sender puts them in a bundle) for `count` issuances, the
    first being issuance number `start` of a run whose rows are numbered from `first_seq`."""
    stamp = "2026-11-20T10:00:00+08:00"
    rows, seq = [], first_seq + 3 * start

    def add(kind: str, key: str, payload: dict) -> None:
        nonlocal seq
        rows.append(
            {
                "seq": seq,
                "kind": kind,
                "key": key,
                "op": "upsert",
                "origin_node": "610100",
                "origin_seq": seq,
                "created_at": stamp,
                "payload": payload,
            }
        )
        seq += 1

    for n in range(start, start + count):
        document = id_number(n + first_seq)
        chip = f"{tag}{n:08X}"
        add(
            "cards.holder",
            f"h{tag}{n}",
            {
                "name": {"open": "王小明", "json": False},
                "document_number": {"open": document, "json": False},
                "document_type": "01",
                "sex": "1",
                "ethnicity": "01",
                "birth_date": f"{document[6:10]}-{document[10:12]}-{document[12:14]}",
                "region": "610113",
                "address1_type": "",
                "address2_type": "",
                "education": "",
                "marital_status": "",
                "occupation": "",
                "phone1": {"open": f"138{n:08d}"[:11], "json": False},
                "changed_at": stamp,
            },
        )
        add(
            "cards.card",
            f"c{tag}{n}:{chip}",
            {
                "card_no": {"open": document, "json": False},
                "chip_serial": chip,
                "status": "active",
                "region": "610113",
                "institution_code": "",
                "collected_at": stamp,
                "expires_on": "2036-11-20",
            },
        )
        add(
            "cards.event",
            f"e{tag}{n}",
            {
                "kind": "collected",
                "at": stamp,
                "holder_document_type": "01",
                "holder_document": {"open": document, "json": False},
                "card_no": {"open": document, "json": False},
                "chip_serial": chip,
                "application": "",
                "actor": "clerk",
                "channel": "web",
                "institution_code": "",
                "region": "610113",
                "reason": "",
                "data": {},
            },
        )
    return rows


def pages(issuances: int, first_seq: int, tag: str):
    """The run's rows, a bundle's worth at a time (a million rows are never in memory at once)."""
    per_page = BUNDLE_ROWS // 3
    for start in range(0, issuances, per_page):
        yield issuance_rows(min(per_page, issuances - start), first_seq, tag, start)


def run(issuances: int, *, quiet: bool = False) -> dict:
    """Build and apply `issuances` issuances through one hop; returns the figures."""
    import secrets

    from django.db import connection
    from django.test import override_settings

    from exchange.choices import BundleStatus, Direction
    from exchange.sync.apply import bundle_receive
    from exchange.sync.bundle import bundle_build
    from registry.actions import centre_register, centre_update
    from registry.actors import Actor
    from registry.choices import Channel
    from registry.models import JournalEntry, Region, RegistrationCentre
    from registry.node import node_key_create, public_key_pem

    actor = Actor.system(channel=Channel.COMMAND, label="bench")
    with tempfile.TemporaryDirectory() as directory:
        city_key, province_key = Path(directory) / "city.pem", Path(directory) / "province.pem"
        city_pem, province_pem = (
            public_key_pem(node_key_create(city_key)),
            public_key_pem(node_key_create(province_key)),
        )
        for region, pem in (("610100", city_pem), ("610000", province_pem)):
            centre = RegistrationCentre.objects.filter(region_id=region).first()
            if centre is None:
                centre_register(
                    actor=actor,
                    region=Region.objects.get(code=region),
                    name=f"bench {region}",
                    public_key=pem,
                )
            else:
                centre_update(actor=actor, centre=centre, public_key=pem, reason="bench")
        last = (
            JournalEntry.objects.filter(origin_node="610100")
            .order_by("-origin_seq")
            .values_list("origin_seq", flat=True)
            .first()
            or 0
        )
        first_seq, tag = last + 1, secrets.token_hex(2).upper()

        def build(page: list[dict]) -> bytes:
            return bundle_build(
                page,
                sender="610100",
                receiver="610000",
                receiver_pem=province_pem,
                direction=Direction.UP,
                first_seq=page[0]["seq"],
                last_seq=page[-1]["seq"],
            ).to_bytes()

        rows, build_seconds, bundles, cards = 0, 0.0, [], []
        with override_settings(HC_TIER="city", HC_REGION="610100", HC_NODE_KEY_FILE=city_key):
            for page in pages(issuances, first_seq, tag):
                started = time.perf_counter()
                bundles.append(build(page))
                build_seconds += time.perf_counter() - started
                rows += len(page)
                if len(cards) < BUNDLE_ROWS:
                    cards += [r for r in page if r["kind"] == "cards.card"][: BUNDLE_ROWS - len(cards)]
            # The same rows in new bundles (as a child that lost the acknowledgements sends them again).
            again_pages = list(zip(range(AGAIN_BUNDLES), pages(issuances, first_seq, tag), strict=False))
            again = [build(page) for _n, page in again_pages]
            again_rows = sum(len(page) for _n, page in again_pages)
            # Bytes per issuance row: a bundle of only cards.card rows (the row a card issuance journals).
            card_bundle = build(cards)
        wire = sum(len(b) for b in bundles)

        with override_settings(HC_TIER="province", HC_REGION="610000", HC_NODE_KEY_FILE=province_key):
            started, cpu = time.perf_counter(), time.process_time()
            records = [bundle_receive(data, direction=Direction.UP) for data in bundles]
            apply_seconds, apply_cpu = time.perf_counter() - started, time.process_time() - cpu
            bad = [r.reason for r in records if r.status != BundleStatus.APPLIED]
            if bad:
                raise SystemExit(f"bundles not applied: {bad[:3]}")
            started = time.perf_counter()
            repeated = [bundle_receive(data, direction=Direction.UP) for data in again]
            again_seconds = time.perf_counter() - started
            assert all(r.status == BundleStatus.APPLIED and r.applied_rows == 0 for r in repeated)
    apply_rate = rows / apply_seconds
    measured = rows >= CATCH_UP_ROWS
    figures = {
        "database": connection.vendor,
        "rows": rows,
        "bundles": len(bundles),
        "build_rows_per_s": rows / build_seconds,
        "apply_rows_per_s": apply_rate,
        # Rows per second of this process's own CPU (the database server's is not counted): on a shared machine
        # the wall-clock rate above falls with the load average, this one much less.
        "apply_rows_per_cpu_s": rows / apply_cpu,
        "duplicate_rows_per_s": again_rows / again_seconds,
        "bytes_per_row": wire / rows,
        "bytes_per_issuance": wire / issuances,
        "bytes_per_card_row": len(card_bundle) / len(cards),
        # 1,000,000 rows at the rate measured over this run's rows (measured outright from 1,000,000 rows on).
        "catch_up_seconds": apply_seconds if measured else CATCH_UP_ROWS / apply_rate,
        "catch_up_measured": measured,
        "load_average": os.getloadavg()[0],
    }
    if not quiet:
        say(
            f"database: {figures['database']}; {issuances:,} issuances = {rows:,} journal rows in {len(bundles)} bundles"
        )
        say(f"  build at the city (open, sign, gzip, encrypt):  {figures['build_rows_per_s']:>10,.0f} rows/s")
        say(
            f"  apply at the province (verify, decrypt, apply): {figures['apply_rows_per_s']:>10,.0f} rows/s  (target >= 20,000 on PostgreSQL)"
        )
        say(
            f"    per second of this process's CPU:             {figures['apply_rows_per_cpu_s']:>10,.0f} rows/s"
        )
        say(
            f"  the same rows again in new bundles (all duplicates, {again_rows:,} rows): {figures['duplicate_rows_per_s']:>10,.0f} rows/s"
        )
        say(
            f"  on the wire: {figures['bytes_per_row']:.0f} bytes/row, {figures['bytes_per_issuance']:.0f} bytes/issuance (holder+card+event), "
            f"{figures['bytes_per_card_row']:.0f} bytes per card-issuance row (target < 200)"
        )
        how = (
            f"measured on {rows:,} rows"
            if measured
            else f"EXTRAPOLATED from this run's {rows:,} rows at {apply_rate:,.0f} rows/s"
        )
        say(f"  catch-up of 1,000,000 rows: {figures['catch_up_seconds']:.0f} s, {how} (target < 120 s)")
        say(f"  load average (1 min) at the end: {figures['load_average']:.2f}")
    return figures


def main(issuances: int) -> dict:
    setup()
    return run(issuances)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
