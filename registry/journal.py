"""Appending to the journal, and the named counters that number it (and the lists)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.choices import JournalOp
from registry.models import Counter, JournalEntry

JOURNAL_COUNTER = "journal"


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
    return JournalEntry.objects.create(
        seq=seq,
        kind=kind,
        key=str(key),
        op=op,
        payload=payload,
        origin_node=settings.HC_REGION,
        origin_seq=seq,
        created_at=timezone.now(),
    )


def journal_history(*, kind: str, key: str):
    """The per-object history feed: every journal row of one object, oldest first."""
    return JournalEntry.objects.filter(kind=kind, key=str(key)).order_by("seq")
