"""Benchmark: one city -> province hop of the tier sync (issue 8: >= 20,000 journal rows/s applied on
PostgreSQL incl. signature check and idempotent upsert; < 200 bytes on the wire per card-issuance row). Not a test.

Writes real rows into the configured database, so point it at a scratch one:

    createdb -h 127.0.0.1 -U postgres hc_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_sync_apply.py [issuances]

Each issuance is what a city journals when a holder gets a card: the holder, the card and its events. The
script builds the city's bundles (open, sign, gzip, encrypt), then the province receives them (verify,
decrypt, apply, re-journal) and prints: rows/s for building and for applying, bytes per row on the wire, and
the same bundles received again (all duplicates: the idempotency check alone).
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


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201  (a console script)


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def id_number(n: int) -> str:
    from stdnum.cn import ric

    born = dt.date(1950, 1, 1) + dt.timedelta(days=n % 20000)
    body = f"610113{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def issuance_rows(count: int, first_seq: int, tag: str) -> list[dict]:
    """Transport rows (personal fields open, as a sender puts them in a bundle) for `count` issuances."""
    stamp = "2026-11-20T10:00:00+08:00"
    rows, seq = [], first_seq

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

    for n in range(count):
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
        rows = issuance_rows(issuances, last + 1, secrets.token_hex(2).upper())

        started = time.perf_counter()
        bundles = []
        with override_settings(HC_TIER="city", HC_REGION="610100", HC_NODE_KEY_FILE=city_key):
            for start in range(0, len(rows), BUNDLE_ROWS):
                page = rows[start : start + BUNDLE_ROWS]
                bundles.append(
                    bundle_build(
                        page,
                        sender="610100",
                        receiver="610000",
                        receiver_pem=province_pem,
                        direction=Direction.UP,
                        first_seq=page[0]["seq"],
                        last_seq=page[-1]["seq"],
                    ).to_bytes()
                )
        build_seconds = time.perf_counter() - started
        wire = sum(len(b) for b in bundles)

        with override_settings(HC_TIER="province", HC_REGION="610000", HC_NODE_KEY_FILE=province_key):
            started = time.perf_counter()
            records = [bundle_receive(data, direction=Direction.UP) for data in bundles]
            apply_seconds = time.perf_counter() - started
            bad = [r.reason for r in records if r.status != BundleStatus.APPLIED]
            if bad:
                raise SystemExit(f"bundles not applied: {bad[:3]}")
            started = time.perf_counter()
            again = [bundle_receive(data, direction=Direction.UP) for data in bundles]
            again_seconds = time.perf_counter() - started
            assert all(r.status == BundleStatus.APPLIED for r in again)

        # Bytes per issuance row: a bundle of only cards.card rows (the row a card issuance journals).
        with override_settings(HC_TIER="city", HC_REGION="610100", HC_NODE_KEY_FILE=city_key):
            cards = [r for r in rows if r["kind"] == "cards.card"][:BUNDLE_ROWS]
            card_bundle = bundle_build(
                cards,
                sender="610100",
                receiver="610000",
                receiver_pem=province_pem,
                direction=Direction.UP,
                first_seq=cards[0]["seq"],
                last_seq=cards[-1]["seq"],
            ).to_bytes()
    figures = {
        "database": connection.vendor,
        "rows": len(rows),
        "bundles": len(bundles),
        "build_rows_per_s": len(rows) / build_seconds,
        "apply_rows_per_s": len(rows) / apply_seconds,
        "duplicate_rows_per_s": len(rows) / again_seconds,
        "bytes_per_row": wire / len(rows),
        "bytes_per_issuance": wire / issuances,
        "bytes_per_card_row": len(card_bundle) / len(cards),
    }
    if not quiet:
        say(
            f"database: {figures['database']}; {issuances:,} issuances = {len(rows):,} journal rows in {len(bundles)} bundles"
        )
        say(f"  build at the city (open, sign, gzip, encrypt):  {figures['build_rows_per_s']:>10,.0f} rows/s")
        say(
            f"  apply at the province (verify, decrypt, apply): {figures['apply_rows_per_s']:>10,.0f} rows/s  (target >= 20,000 on PostgreSQL)"
        )
        say(
            f"  the same bundles again (all duplicates):        {figures['duplicate_rows_per_s']:>10,.0f} rows/s"
        )
        say(
            f"  on the wire: {figures['bytes_per_row']:.0f} bytes/row, {figures['bytes_per_issuance']:.0f} bytes/issuance (holder+card+event), "
            f"{figures['bytes_per_card_row']:.0f} bytes per card-issuance row (target < 200)"
        )
        say(
            f"  catch-up of 1,000,000 rows at this rate: {1_000_000 / figures['apply_rows_per_s']:.0f} s (target < 120 s)"
        )
    return figures


def main(issuances: int) -> None:
    setup()
    run(issuances)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
