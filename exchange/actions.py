"""Every write of the exchange app a person, a partner or a schedule starts: run the sync now, re-apply a
quarantined bundle, move bundles as files, resolve a uniqueness conflict, issue an electronic health card. The
sync machinery itself (applying bundles) is exchange.sync."""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.choices import CardStatus
from cards.models import Card, Resident
from exchange.choices import BundleStatus, ConflictStatus, Direction, RunStatus, RunTrigger
from exchange.models import ElectronicHealthCard, InboundBundle, SyncRun, UniquenessConflict
from exchange.sync.apply import bundle_reapply
from exchange.sync.nodes import child_peer, parent_peer
from exchange.sync.outbox import down_page, page_bundle, up_page
from exchange.sync.runner import checkpoint_of
from exchange.sync.wire import WireError, ack_sign, ack_verify
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError, require_reason
from registry.journal import journal_append

FILE_ROWS = 50_000


def sync_run_now(*, actor: Actor) -> None:
    """Queue a push and a pull now (the admin button); the runs appear in the sync-run list."""
    from exchange import tasks

    with transaction.atomic(durable=True):
        audit_record(actor=actor, action="sync.run_now", region_code=settings.HC_REGION)
        transaction.on_commit(lambda: tasks.sync_push_task.delay(trigger=RunTrigger.MANUAL))
        transaction.on_commit(lambda: tasks.sync_pull_task.delay(trigger=RunTrigger.MANUAL))


def bundle_reapply_by(*, actor: Actor, bundle: InboundBundle) -> InboundBundle:
    """A person re-applies a quarantined bundle after fixing its cause."""
    if bundle.status != BundleStatus.QUARANTINED:
        raise DomainError(
            _("Only a quarantined bundle can be re-applied; this one is %(status)s."),
            {"status": bundle.get_status_display()},
            code="bundle_not_quarantined",
        )
    with transaction.atomic(durable=True):
        audit_record(actor=actor, action="sync.bundle_reapply", target=bundle, region_code=settings.HC_REGION)
    return bundle_reapply(record=bundle)


@transaction.atomic(durable=True)
def conflict_resolve(*, actor: Actor, conflict: UniquenessConflict, reason: str) -> UniquenessConflict:
    """Close a national-uniqueness conflict once a person has sorted out the two cards (the reason says how)."""
    reason = require_reason(reason)
    conflict = UniquenessConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.status != ConflictStatus.OPEN:
        raise DomainError(_("This conflict is already resolved."), code="conflict_resolved")
    conflict.status, conflict.resolved_at, conflict.resolution = (
        ConflictStatus.RESOLVED,
        timezone.now(),
        reason,
    )
    conflict.save(update_fields=["status", "resolved_at", "resolution"])
    audit_record(
        actor=actor,
        action="sync.conflict_resolve",
        target=conflict,
        reason=reason,
        region_code=settings.HC_REGION,
    )
    return conflict


# --- File mode: the same bundles, carried by hand -----------------------------------------------------------


def _file_run(direction: str, peer: str, rows: int, size: int) -> None:
    now = timezone.now()
    SyncRun.objects.create(
        direction=direction,
        peer=peer,
        trigger=RunTrigger.FILE,
        status=RunStatus.OK,
        started_at=now,
        finished_at=now,
        bundles=1 if rows else 0,
        rows=rows,
        bytes=size,
    )


def bundle_file_up(*, actor: Actor) -> tuple[str, bytes]:
    """At the child: the rows the parent has not acknowledged, as one bundle file encrypted to the parent.

    The checkpoint does not move: it moves when the parent's acknowledgement file is uploaded back here.
    """
    peer = parent_peer()
    after = checkpoint_of(peer.region, Direction.UP).position
    entries = up_page(after, FILE_ROWS)
    if not entries:
        raise DomainError(
            _("The parent has acknowledged everything: there is nothing to send."),
            code="bundle_nothing_to_send",
        )
    bundle = page_bundle(entries, peer=peer, direction=Direction.UP, after=after)
    with transaction.atomic(durable=True):
        audit_record(
            actor=actor,
            action="sync.file_download",
            region_code=settings.HC_REGION,
            changes={"rows": len(entries), "first_seq": after + 1, "last_seq": entries[-1].seq},
        )
    name = f"hc-up-{settings.HC_REGION}-to-{peer.region}-{after + 1}-{entries[-1].seq}.hcb"
    return name, bundle.to_bytes()


def bundle_file_down(*, actor: Actor, child: str, after: int = 0) -> tuple[str, bytes]:
    """At the parent: what goes down to one child after its checkpoint `after`, as a file encrypted to it."""
    peer = child_peer(child)
    entries = down_page(peer.region, after, FILE_ROWS)
    if not entries:
        raise DomainError(
            _("Nothing goes down to %(child)s after number %(after)s."),
            {"child": child, "after": after},
            code="bundle_nothing_to_send",
        )
    bundle = page_bundle(entries, peer=peer, direction=Direction.DOWN, after=after)
    with transaction.atomic(durable=True):
        audit_record(
            actor=actor,
            action="sync.file_download",
            region_code=settings.HC_REGION,
            changes={"child": child, "rows": len(entries), "last_seq": entries[-1].seq},
        )
    return f"hc-down-{settings.HC_REGION}-to-{child}-{after + 1}-{entries[-1].seq}.hcb", bundle.to_bytes()


def bundle_file_upload(*, actor: Actor, data: bytes) -> tuple[InboundBundle, bytes | None]:
    """Apply an uploaded bundle file. From a child: returns its record and the signed acknowledgement file
    to carry back. From the parent: moves this node's down checkpoint."""
    from exchange.sync.apply import bundle_receive
    from exchange.sync.bundle import BundleError, bundle_header
    from exchange.sync.nodes import parent_region_of

    try:
        header = bundle_header(data)[0]
    except BundleError as error:
        raise DomainError(
            _("This is not a sync bundle file: %(problem)s"),
            {"problem": str(error)},
            code="bundle_file_invalid",
        ) from None
    direction = (
        Direction.DOWN if header.get("sender") == parent_region_of(settings.HC_REGION) else Direction.UP
    )
    record = bundle_receive(data, direction=direction)
    with transaction.atomic(durable=True):
        audit_record(
            actor=actor,
            action="sync.file_upload",
            target=record,
            region_code=settings.HC_REGION,
            changes={"status": record.status, "rows": record.count},
        )
    _file_run(direction, record.sender, record.applied_rows, len(data))
    if record.status == BundleStatus.REFUSED:
        return record, None
    if direction == Direction.DOWN:
        checkpoint = checkpoint_of(record.sender, Direction.DOWN)
        checkpoint.position = max(checkpoint.position, record.last_seq or 0)
        checkpoint.save(update_fields=["position", "updated_at"])
        return record, None
    ack = ack_sign(
        {
            "receiver": settings.HC_REGION,
            "sender": record.sender,
            "sha256": record.sha256,
            "status": record.status,
            "applied": record.applied_rows,
            "duplicates": record.duplicate_rows,
            "last_seq": record.last_seq,
            "reason": record.reason if record.status == BundleStatus.QUARANTINED else "",
        }
    )
    return record, json.dumps(ack, ensure_ascii=False, indent=1).encode()


def ack_file_upload(*, actor: Actor, data: bytes) -> int:
    """At the child: the parent's acknowledgement file moves the up checkpoint; returns the new position."""
    peer = parent_peer()
    try:
        ack = ack_verify(json.loads(data), public_key=peer.public_key)
    except (ValueError, WireError) as error:
        raise DomainError(
            _("This acknowledgement does not verify with the parent's key: %(problem)s"),
            {"problem": str(error)},
            code="ack_file_invalid",
        ) from None
    if ack.get("sender") != settings.HC_REGION or ack.get("receiver") != peer.region:
        raise DomainError(_("This acknowledgement is for another node."), code="ack_file_other_node")
    with transaction.atomic(durable=True):
        checkpoint = checkpoint_of(peer.region, Direction.UP)
        checkpoint.position = max(checkpoint.position, int(ack["last_seq"]))
        checkpoint.save(update_fields=["position", "updated_at"])
        audit_record(
            actor=actor,
            action="sync.ack_upload",
            region_code=settings.HC_REGION,
            changes={"last_seq": ack["last_seq"], "status": ack["status"]},
        )
    return checkpoint.position


@transaction.atomic(durable=True)
def ehc_issue(*, actor: Actor, resident: Resident) -> tuple[ElectronicHealthCard, bool]:
    """Issue the holder's e-card (or return the one they have: one holder, one e-card). The holder must hold an
    active card. Returns (e-card, created)."""
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    existing = ElectronicHealthCard.objects.filter(resident=resident).first()
    if existing is not None:
        return existing, False
    if not Card.objects.filter(resident=resident, status=CardStatus.ACTIVE).exists():
        raise DomainError(
            _("%(holder)s holds no active card: an e-card is issued to an active holder."),
            {"holder": resident},
            code="no_active_card",
        )
    ehc = ElectronicHealthCard.objects.create(
        ehc_id=secrets.token_hex(16), resident=resident, region=resident.region, issued_at=timezone.now()
    )
    audit_record(actor=actor, action="ehc.issue", target=ehc)
    journal_append(
        kind="exchange.ehc",
        key=ehc.ehc_id,
        payload={
            "ehc_id": ehc.ehc_id,
            "holder": resident.document_index,
            "status": ehc.status,
            "region": ehc.region_id,
            "issued_at": ehc.issued_at.isoformat(),
        },
    )
    return ehc, True
