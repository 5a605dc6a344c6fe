"""Appending to the journal, and the named counters that number it (and the lists)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.choices import JournalOp
from registry.models import Counter, JournalEntry

JOURNAL_COUNTER = "journal"

# Set by exchange while it applies a row that came from another node: the row an apply function re-journals
# keeps that origin, so it travels on with it. [origin node, origin sequence, used?]
_applying_origin: ContextVar[list | None] = ContextVar("journal_applying_origin", default=None)


@contextmanager
def journal_origin(origin_node: str, origin_seq: int):
    """Journal rows appended inside carry this origin (at most one row: origins are unique). Yields a list
    whose last item turns True once a row took the origin."""
    state = [origin_node, origin_seq, False]
    token = _applying_origin.set(state)
    try:
        yield state
    finally:
        _applying_origin.reset(token)


def counter_take(name: str, count: int = 1) -> int:
    """Reserve `count` numbers of counter `name`; returns the first. Must run inside a transaction.

    The counter row stays locked until commit, so the numbers become visible in the order they were
    taken: a reader that has seen number N never later finds a smaller number appear. That keeps the
    sync checkpoint honest at the price of serialising writers on one row (docs/architecture.md).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("counter_take must run inside a transaction")
    Counter.objects.get_or_create(name=name)
    counter = Counter.objects.select_for_update().get(name=name)
    first = counter.value + 1
    counter.value += count
    counter.save(update_fields=["value"])
    return first


def counter_value(name: str) -> int:
    return Counter.objects.filter(name=name).values_list("value", flat=True).first() or 0


def journal_append(*, kind: str, key: str, payload: dict, op: str = JournalOp.UPSERT) -> JournalEntry:
    """Append one local change. Call it inside the action's transaction: nothing is synced that did not commit."""
    seq = counter_take(JOURNAL_COUNTER)
    origin_node, origin_seq = settings.HC_REGION, seq
    applying = _applying_origin.get()
    if applying is not None:
        if applying[2]:
            raise RuntimeError("a row applied from another node re-journals at most one row")
        origin_node, origin_seq, applying[2] = applying[0], applying[1], True
    return JournalEntry.objects.create(
        seq=seq,
        kind=kind,
        key=str(key),
        op=op,
        payload=payload,
        origin_node=origin_node,
        origin_seq=origin_seq,
        created_at=timezone.now(),
    )


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
JOURNAL_FIELDS = ("seq", "kind", "key", "op", "payload", "origin_node", "origin_seq", "created_at")


def journal_extend(entries: list[tuple]) -> int:
    """Append many rows at once, in order, each as (kind, key, op, payload, origin node, origin sequence,
    created at): what exchange applies from other nodes keeps its origin. One counter range and one insert
    (COPY on PostgreSQL) for them all; returns the sequence number of the first. Inside the caller's
    transaction, as journal_append."""
    from registry.imports import bulk_insert_values

    if not entries:
        return 0
    first = counter_take(JOURNAL_COUNTER, len(entries))
    # The values as the columns store them (bulk_insert_values(prepared=True)): a catch-up journals a million
    # rows, and JSONField's own dump (a Jsonb wrapper per value) and the datetime checks cost more than the rest.
    dump, aware = _JSON.encode, timezone.is_aware
    bulk_insert_values(
        JournalEntry,
        JOURNAL_FIELDS,
        [
            (
                first + offset,
                kind,
                key,
                op,
                dump(payload),
                origin_node,
                origin_seq,
                created_at if aware(created_at) else timezone.make_aware(created_at),
            )
            for offset, (kind, key, op, payload, origin_node, origin_seq, created_at) in enumerate(entries)
        ],
        prepared=True,
    )
    return first


def journal_history(*, kind: str, key: str):
    """The per-object history feed: every journal row of one object, oldest first."""
    return JournalEntry.objects.filter(kind=kind, key=str(key)).order_by("seq")
