"""Receiving a bundle: verify, apply in one transaction idempotently by (origin node, origin sequence),
re-journal with the origin kept, or quarantine with the reason; re-apply a quarantined bundle later."""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exchange.choices import BundleStatus
from exchange.models import InboundBundle
from exchange.sync.appliers import APPLIERS, ROW_ERRORS, ApplyContext, ApplyError, applying, row_failure
from exchange.sync.bundle import Bundle, BundleError, bundle_header, bundle_open
from exchange.sync.nodes import sender_key
from exchange.sync.transport import PayloadSealer
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import Channel
from registry.errors import DomainError
from registry.imports import VALUES_SEPARATOR
from registry.journal import journal_extend, journal_origin
from registry.models import JournalEntry
from registry.protection import redact

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(minutes=2)
RETRY_MAX = timedelta(hours=6)


@dataclass
class Applied:
    applied: int = 0
    duplicates: int = 0


def rows_apply(rows: list[dict], *, ctx: ApplyContext) -> Applied:
    """Apply rows in order inside the caller's transaction. A row whose origin is already in this node's journal
    was applied before (the journal row commits with the apply) and is skipped.

    Consecutive rows that share a batch function (after ordering by rank: what others refer to first) are
    applied together as one run (appliers.Applier.batch_function), and the journal rows are written in bulk
    (one counter range, one insert) whenever an applier that journals by itself comes next, and at the end."""
    unknown = sorted({row["kind"] for row in rows} - set(APPLIERS))
    if unknown:
        raise ApplyError(
            f"unknown journal kind(s) {', '.join(unknown)}: this node has no applier for them "
            "(update this node, then re-apply the bundle)"
        )
    if connection.vendor == "postgresql":
        # Every look-up of an apply is by key. A catch-up fills the tables faster than autovacuum analyses them,
        # and planned on the statistics of a far smaller table PostgreSQL would scan a whole table per run
        # (as cards.actions.holders does for an import; until the bundle's transaction ends).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
    by_origin: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_origin[row["origin_node"]].append(row["origin_seq"])
    seen: set[tuple[str, int]] = set()
    for origin, seqs in by_origin.items():
        seen.update(
            JournalEntry.objects.filter(
                origin_node=origin, origin_seq__gte=min(seqs), origin_seq__lte=max(seqs)
            ).values_list("origin_node", "origin_seq")
        )
    latest = _latest_applied([row for row in rows if (row["origin_node"], row["origin_seq"]) not in seen])
    result = Applied()
    pending: list[tuple] = []  # journal rows to write (registry.journal.journal_extend)
    run: list[tuple[dict, dict]] = []
    run_batch = None

    def run_apply() -> None:
        # The rows of the run are journaled (pending) already; a failure rolls the bundle back whole.
        if run:
            run_batch(ctx, run)
            run.clear()

    def flush() -> None:
        run_apply()
        journal_extend(pending)
        pending.clear()

    now = timezone.now()
    sealer = PayloadSealer()
    # What others refer to first (centres, institutions, filings, holders): an event journaled at the source
    # before its holder's row still finds the holder. Rows of one kind keep their order.
    for row in sorted(rows, key=lambda r: APPLIERS[r["kind"]].rank):
        origin = (row["origin_node"], row["origin_seq"])
        if origin in seen:
            result.duplicates += 1
            continue
        seen.add(origin)
        applier = APPLIERS[row["kind"]]
        object_key = (row["origin_node"], row["kind"], row["key"])
        superseded = applier.latest_wins and latest.get(object_key, 0) > row["origin_seq"]
        latest[object_key] = max(latest.get(object_key, 0), row["origin_seq"])
        try:  # (not `with applying(row)`: a context manager per row costs more than the rest of this loop)
            row["sealed_payload"], clear = sealer.seal_and_clear(row["kind"], row["payload"])
        except ROW_ERRORS as error:
            raise row_failure(row, error) from None
        entry = (
            row["kind"],
            row["key"],
            row["op"],
            row["sealed_payload"],
            *origin,
            parse_datetime(row["created_at"]) or now,
        )
        result.applied += 1
        if superseded:
            pending.append(entry)  # kept in the journal (it travels on), its older state not applied
        elif applier.journals:
            flush()  # keep this node's journal in the order the rows came
            with applying(row), journal_origin(*origin) as state:
                applier.function(ctx, row, clear)
            if not state[2]:
                journal_extend([entry])
        else:
            batch = applier.batch_function
            if batch is not run_batch:
                run_apply()
                run_batch = batch
            run.append((row, clear))
            pending.append(entry)
    flush()
    return result


def _latest_applied(rows: list[dict]) -> dict[tuple[str, str, str], int]:
    """The newest origin sequence already applied here for each object (origin, kind, key) of these rows whose
    kind is a state (latest wins)."""
    objects = sorted(
        {(row["origin_node"], row["kind"], row["key"]) for row in rows if APPLIERS[row["kind"]].latest_wins}
    )
    if not objects:
        return {}
    if connection.vendor == "postgresql" and not any(VALUES_SEPARATOR in "".join(o) for o in objects):
        # One index probe (kind, key) per object, whatever the planner believes of a journal that a catch-up
        # grows faster than its statistics are renewed; the objects travel as three texts the server splits.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT o.node, o.kind, o.key, (SELECT max(j.origin_seq) FROM registry_journalentry j "
                "WHERE j.kind = o.kind AND j.key = o.key AND j.origin_node = o.node) "
                "FROM unnest(string_to_array(%s, %s), string_to_array(%s, %s), string_to_array(%s, %s)) "
                "AS o(node, kind, key)",
                [
                    part
                    for column in zip(*objects, strict=True)
                    for part in (VALUES_SEPARATOR.join(column), VALUES_SEPARATOR)
                ],
            )
            return {
                (node, kind, key): last for node, kind, key, last in cursor.fetchall() if last is not None
            }
    latest = (
        JournalEntry.objects.filter(
            origin_node__in={o[0] for o in objects},
            kind__in={o[1] for o in objects},
            key__in={o[2] for o in objects},
        )
        .values("origin_node", "kind", "key")
        .annotate(last=Max("origin_seq"))
    )
    return {(item["origin_node"], item["kind"], item["key"]): item["last"] for item in latest}


def _describe(header: dict) -> dict:
    return {
        "sha256": str(header.get("sha256", ""))[:64],
        "sender": str(header.get("sender", ""))[:6],
        "first_seq": header.get("first_seq"),
        "last_seq": header.get("last_seq"),
        "count": header.get("count") or 0,
    }


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector waits while a bundle is opened and applied: the bundle's rows are thousands of
    dicts that live until its end, and the collector, started again and again by their making, walks them and
    everything else the process holds each time (about a third of the apply's time) to find no cycles (reference
    counting frees them). It runs as usual once the bundle is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def bundle_receive(data: bytes, *, direction: str) -> InboundBundle:
    """Check and apply one bundle as received (HTTP body or uploaded file). Returns its record:
    applied (also when every row was already here), quarantined (kept with the reason) or refused."""
    with _collector_paused():
        return _receive(data, direction=direction)


def _receive(data: bytes, *, direction: str) -> InboundBundle:
    now = timezone.now()
    try:
        header, _signature, _body = bundle_header(data)
    except BundleError as error:
        return InboundBundle.objects.create(
            direction=direction,
            status=BundleStatus.REFUSED,
            reason=str(error),
            size=len(data),
            received_at=now,
        )
    described = _describe(header)
    try:
        pem = sender_key(described["sender"], direction)
        bundle = bundle_open(data, sender_pem=pem, receiver=settings.HC_REGION)
    except (BundleError, DomainError) as error:
        reason = str(error) if isinstance(error, BundleError) else error.message_en
        log.warning("sync: refused a bundle from %s: %s", described["sender"], reason)
        # Recorded so a person sees what arrived and why it was refused; its bytes are not kept (untrusted).
        return InboundBundle.objects.create(
            direction=direction,
            status=BundleStatus.REFUSED,
            reason=reason,
            size=len(data),
            received_at=now,
            **described,
        )
    record = InboundBundle.objects.filter(sha256=bundle.sha256, status=BundleStatus.APPLIED).first()
    if record is not None:
        return record  # the same bundle sent twice: already applied, acknowledge it again
    record = InboundBundle.objects.filter(sha256=bundle.sha256, status=BundleStatus.QUARANTINED).first()
    if record is not None:
        return bundle_reapply(record=record)
    record = InboundBundle(direction=direction, size=len(data), received_at=now, **described)
    return _apply(record, bundle, data)


def _apply(record: InboundBundle, bundle: Bundle, data: bytes) -> InboundBundle:
    ctx = ApplyContext(
        actor=Actor.system(channel=Channel.SYNC, label=f"sync {bundle.sender}"),
        sender=bundle.sender,
        direction=record.direction,
    )
    try:
        with transaction.atomic(durable=True):
            result = rows_apply(bundle.rows, ctx=ctx)
            record.status, record.reason, record.data = BundleStatus.APPLIED, "", b""
            record.applied_rows, record.duplicate_rows = result.applied, result.duplicates
            record.applied_at, record.next_attempt_at = timezone.now(), None
            record.save()
            audit_record(
                actor=ctx.actor,
                action="sync.bundle_apply",
                target=record,
                region_code=settings.HC_REGION,
                changes={"applied": result.applied, "duplicates": result.duplicates},
            )
    except ApplyError as error:
        _quarantine(record, data, str(error))
    except Exception as error:  # a database error (constraint, deadlock): quarantined, retried with backoff
        log.exception("sync: bundle %s from %s failed to apply", record.sha256[:12], record.sender)
        _quarantine(record, data, f"{type(error).__name__}: {error}")
    return record


def _quarantine(record: InboundBundle, data: bytes, reason: str) -> None:
    # Reasons may quote a payload value: masked like a log line (registry.protection.redact).
    record.status, record.reason, record.data = BundleStatus.QUARANTINED, redact(reason)[:2000], data
    delay = min(RETRY_BASE * (2 ** max(0, record.attempts - 1)), RETRY_MAX)
    record.next_attempt_at = timezone.now() + delay
    record.save()


def bundle_reapply(*, record: InboundBundle) -> InboundBundle:
    """Try a quarantined bundle again (after its cause was fixed, or on the retry schedule)."""
    if record.status != BundleStatus.QUARANTINED:
        return record
    with _collector_paused():
        return _reapply(record)


def _reapply(record: InboundBundle) -> InboundBundle:
    data = bytes(record.data)
    record.attempts += 1
    try:
        bundle = bundle_open(
            data, sender_pem=sender_key(record.sender, record.direction), receiver=settings.HC_REGION
        )
    except (BundleError, DomainError) as error:
        _quarantine(record, data, str(error) if isinstance(error, BundleError) else error.message_en)
        return record
    return _apply(record, bundle, data)


def quarantine_retry_due(*, now=None) -> int:
    """Re-apply the quarantined bundles whose backoff has passed; returns how many applied now."""
    now = now or timezone.now()
    applied = 0
    due = InboundBundle.objects.filter(status=BundleStatus.QUARANTINED, next_attempt_at__lte=now)
    for record in due.order_by("received_at"):
        if bundle_reapply(record=record).status == BundleStatus.APPLIED:
            applied += 1
    return applied
