"""Benchmark: the blacklist at a million entries (issue 5). Not a test.

Targets: a 1,000,000-entry snapshot is at most 10 bytes per entry compressed and builds in under 5 seconds; a
delta of 1,000 changes is under 20 KB. Point it at a scratch database (it empties the list tables):

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_list_snapshot.py [--entries 1000000] [--runs 3]

It loads the entries in bulk (COPY on PostgreSQL), then times building and signing the snapshot file (query +
encode + sign, what `GET blacklist/snapshot` costs on a cold cache), verifies it, and applies 1,000 changes
through the real list_add/list_remove to measure the delta file.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def load(entries: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from registry.models import Counter, ListEntry

    rng = random.Random(2026)
    reasons = ["lost"] * 3 + ["cancelled"] * 5 + ["replaced"] * 2
    counties = ["610102", "610103", "610104", "610111", "610112", "610113", "610116", "610122"]
    now = timezone.now().isoformat()
    with transaction.atomic():
        ListEntry.objects.all().delete()
        Counter.objects.filter(name__startswith="list:").delete()
        if connection.vendor == "postgresql":
            columns = (
                "list_name, entry_type, subject, reason, permanent, region_id, label, object_ref, note, "
                "origin_node, added_number, added_at, added_by, removed_by, removed_note"
            )
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY {ListEntry._meta.db_table} ({columns}) FROM STDIN") as copy,
            ):
                buffer = io.StringIO()
                for number in range(1, entries + 1):
                    reason = rng.choice(reasons)
                    buffer.write(
                        f"blacklist\tcard\t{rng.getrandbits(64) - (1 << 63)}\t{reason}\t"
                        f"{'f' if reason == 'lost' else 't'}\t{counties[number % 8]}\t\tbench\t\t610100\t"
                        f"{number}\t{now}\tbench\t\t\n"
                    )
                    if number % 100_000 == 0:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
        else:
            ListEntry.objects.bulk_create(
                (
                    ListEntry(
                        list_name="blacklist",
                        entry_type="card",
                        subject=rng.getrandbits(64) - (1 << 63),
                        reason=(reason := rng.choice(reasons)),
                        permanent=reason != "lost",
                        region_id=counties[number % 8],
                        object_ref="bench",
                        origin_node="610100",
                        added_number=number,
                        added_at=now,
                        added_by="bench",
                    )
                    for number in range(1, entries + 1)
                ),
                batch_size=5000,
            )
        Counter.objects.update_or_create(name="list:blacklist", defaults={"value": entries})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ListEntry._meta.db_table}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    setup()
    from django.conf import settings
    from django.db import connection, transaction

    from registry.actors import Actor
    from registry.lists import list_add, list_decode, list_delta, list_encode, list_remove, list_snapshot
    from registry.node import node_key_create

    node_key_create(Path(settings.HC_NODE_KEY_FILE))
    print(f"database: {connection.vendor}; entries: {args.entries:,}")  # noqa: T201
    started = time.perf_counter()
    load(args.entries)
    print(f"load (bulk): {time.perf_counter() - started:.1f} s")  # noqa: T201

    timings, blob = [], b""
    for _run in range(args.runs):
        started = time.perf_counter()
        blob = list_encode(list_snapshot(list_name="blacklist"))
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    document = list_decode(blob)
    verify_seconds = time.perf_counter() - started
    assert len(document.adds) == args.entries
    per_entry = len(blob) / args.entries
    build = statistics.median(timings)
    print(  # noqa: T201
        f"snapshot: {len(blob):,} bytes = {per_entry:.2f} bytes/entry (target <= 10); "
        f"build+sign median {build:.2f} s (min {min(timings):.2f}, max {max(timings):.2f}; target < 5 s); "
        f"verify+decode {verify_seconds:.2f} s"
    )

    actor = Actor.system(label="bench")
    base = document.number
    rng = random.Random(5)
    started = time.perf_counter()
    for index in range(args.changes):
        with transaction.atomic():
            if index % 4 == 0:
                list_remove(
                    list_name="blacklist", subject=document.adds[index][2], actor=actor, allow_permanent=True
                )
            else:
                list_add(
                    list_name="blacklist",
                    entry_type="card",
                    subject=rng.getrandbits(64) - (1 << 63),
                    reason="lost",
                    region_code="610102",
                    actor=actor,
                    label="bench",
                )
    change_seconds = time.perf_counter() - started
    delta = list_encode(list_delta(list_name="blacklist", since=base))
    print(  # noqa: T201
        f"delta of {args.changes:,} changes: {len(delta):,} bytes (target < 20,480); "
        f"{args.changes / change_seconds:,.0f} list changes/s through list_add/list_remove"
    )
    return {
        "entries": args.entries,
        "snapshot_bytes_per_entry": per_entry,
        "snapshot_build_seconds": build,
        "delta_bytes": len(delta),
    }


if __name__ == "__main__":
    main()
