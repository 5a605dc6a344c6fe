"""Running the sync from the child's side: push up, pull down, reconcile; each run recorded as a SyncRun.

The checkpoint moves only after the parent's signed acknowledgement (push) or this node's own durable apply
(pull), so a crash anywhere repeats a bundle, which the receiver's origin check makes harmless.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.utils import timezone

from exchange.choices import BundleStatus, Direction, RunStatus, RunTrigger
from exchange.models import ReconcileReport, SyncCheckpoint, SyncRun
from exchange.sync.apply import bundle_receive
from exchange.sync.bundle import BundleError
from exchange.sync.nodes import Peer, parent_peer
from exchange.sync.outbox import BUNDLE_ROWS, page_bundle, up_page, up_waiting
from exchange.sync.reconcile import digest_of, drift_between
from exchange.sync.wire import WireError, ack_verify, http_get, http_post, signed_headers
from registry.errors import DomainError

log = logging.getLogger(__name__)

API = "/api/v1/sync"


class HttpTransport:
    """The line to the parent: HTTPS in production (HC_PARENT_URL)."""

    def push(self, peer: Peer, data: bytes) -> dict:
        path = f"{API}/push/"
        response = http_post(peer.url + path, data, signed_headers("POST", path))
        if response.status_code != 200:
            raise WireError(f"the parent refused the bundle ({response.status_code}): {response.text[:300]}")
        return response.json()

    def pull(self, peer: Peer, *, after: int, limit: int) -> bytes | None:
        path, query = f"{API}/pull/", urlencode({"after": after, "limit": limit})
        response = http_get(f"{peer.url}{path}?{query}", signed_headers("GET", path, query))
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise WireError(f"the parent refused the pull ({response.status_code}): {response.text[:300]}")
        return response.content

    def digest(self, peer: Peer) -> dict:
        path = f"{API}/digest/"
        response = http_get(peer.url + path, signed_headers("GET", path))
        if response.status_code != 200:
            raise WireError(f"the parent refused the digest ({response.status_code}): {response.text[:300]}")
        return response.json()


def checkpoint_of(peer: str, direction: str) -> SyncCheckpoint:
    return SyncCheckpoint.objects.get_or_create(peer=peer, direction=direction)[0]


# Stored like the other run messages (plain text an operator reads), in both languages.
INTERRUPTED = (
    "Interrupted: the process running it stopped before it finished / 运行中断：执行进程在完成前已停止"
)


@contextmanager
def _one_run_per_direction(direction: str) -> Iterator[bool]:
    """Hold this node's lock for pushing (or pulling); yields False when another process holds it.

    On PostgreSQL a session advisory lock: it is released when the run ends or when its process dies, so a run
    still marked running while we hold the lock was cut off (a killed worker), and two schedulers never send the
    same bundles at once. SQLite (the demo: one loop per node) has no such lock and runs regardless.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = zlib.crc32(f"hc-sync-{direction}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _run(direction: str, trigger: str) -> SyncRun:
    if connection.vendor == "postgresql":
        # Called with the direction's lock held: whatever still says running was cut off.
        SyncRun.objects.filter(direction=direction, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), errors=1, message=INTERRUPTED
        )
    return SyncRun.objects.create(direction=direction, trigger=trigger, started_at=timezone.now())


def _in_progress(direction: str) -> SyncRun:
    """The run another process is doing now: a second push (or pull) joins it instead of repeating its work."""
    return SyncRun.objects.filter(direction=direction, status=RunStatus.RUNNING).first() or SyncRun(
        direction=direction, status=RunStatus.RUNNING, started_at=timezone.now()
    )


def _finish(run: SyncRun, error: Exception | None = None) -> SyncRun:
    if error is not None:
        run.errors += 1
        message = error.message_en if isinstance(error, DomainError) else str(error)
        run.message = (run.message + "\n" + message).strip()[:4000]
        log.warning("sync %s run %s failed: %s", run.direction, run.pk, message)
    run.status = RunStatus.FAILED if error is not None else RunStatus.OK
    run.finished_at = timezone.now()
    run.save()
    return run


def sync_push(
    *,
    trigger: str = RunTrigger.COMMAND,
    transport=None,
    limit: int = BUNDLE_ROWS,
    max_bundles: int | None = None,
) -> SyncRun:
    """Send this node's journal up, page by page, until the parent has everything (or max_bundles)."""
    with _one_run_per_direction(Direction.UP) as held:
        if not held:
            return _in_progress(Direction.UP)
        return _push(_run(Direction.UP, trigger), transport or HttpTransport(), limit, max_bundles)


def _push(run: SyncRun, transport, limit: int, max_bundles: int | None) -> SyncRun:
    try:
        peer = parent_peer()
        run.peer = peer.region
        checkpoint = checkpoint_of(peer.region, Direction.UP)
        while max_bundles is None or run.bundles < max_bundles:
            entries = up_page(checkpoint.position, limit)
            if not entries:
                break
            bundle = page_bundle(entries, peer=peer, direction=Direction.UP, after=checkpoint.position)
            data = bundle.to_bytes()
            ack = ack_verify(transport.push(peer, data), public_key=peer.public_key)
            if ack.get("sha256") != bundle.sha256 or ack.get("status") not in BundleStatus.values:
                raise WireError("the acknowledgement does not name the bundle sent")
            # Only now, with the parent's durable commit acknowledged, does the checkpoint move.
            checkpoint.position = bundle.header["last_seq"]
            checkpoint.save(update_fields=["position", "updated_at"])
            run.bundles += 1
            run.rows += len(entries)
            run.bytes += len(data)
            if ack["status"] == BundleStatus.QUARANTINED:
                run.errors += 1
                run.message = (run.message + f"\nquarantined at the parent: {ack.get('reason', '')}").strip()
            run.save(update_fields=["peer", "bundles", "rows", "bytes", "errors", "message"])
    except (WireError, BundleError, DomainError) as error:
        return _finish(run, error)
    return _finish(run)


def sync_pull(
    *,
    trigger: str = RunTrigger.COMMAND,
    transport=None,
    limit: int = BUNDLE_ROWS,
    max_bundles: int | None = None,
) -> SyncRun:
    """Fetch and apply what comes down from the parent since this node's down checkpoint."""
    with _one_run_per_direction(Direction.DOWN) as held:
        if not held:
            return _in_progress(Direction.DOWN)
        return _pull(_run(Direction.DOWN, trigger), transport or HttpTransport(), limit, max_bundles)


def _pull(run: SyncRun, transport, limit: int, max_bundles: int | None) -> SyncRun:
    try:
        peer = parent_peer()
        run.peer = peer.region
        checkpoint = checkpoint_of(peer.region, Direction.DOWN)
        while max_bundles is None or run.bundles < max_bundles:
            data = transport.pull(peer, after=checkpoint.position, limit=limit)
            if data is None:
                break
            record = bundle_receive(data, direction=Direction.DOWN)
            if record.status == BundleStatus.REFUSED:
                raise WireError(f"a bundle from the parent was refused: {record.reason}")
            checkpoint.position = record.last_seq
            checkpoint.save(update_fields=["position", "updated_at"])
            run.bundles += 1
            run.rows += record.count
            run.bytes += len(data)
            if record.status == BundleStatus.QUARANTINED:
                run.errors += 1
                run.message = (run.message + f"\nquarantined here: {record.reason}").strip()
            run.save(update_fields=["peer", "bundles", "rows", "bytes", "errors", "message"])
    except (WireError, BundleError, DomainError) as error:
        return _finish(run, error)
    return _finish(run)


def sync_reconcile(*, transport=None) -> ReconcileReport:
    """Compare what this node sent up with what the parent holds; the report lists each kind that drifted."""
    transport = transport or HttpTransport()
    peer = parent_peer()
    remote = ack_verify(transport.digest(peer), public_key=peer.public_key)
    acknowledged = checkpoint_of(peer.region, Direction.UP).position
    local = digest_of(settings.HC_REGION, upto=acknowledged)
    return ReconcileReport.objects.create(
        peer=peer.region, at=timezone.now(), drift=drift_between(local, remote), local=local, remote=remote
    )


def sync_status() -> dict:
    """Where this node stands: checkpoints, rows waiting to go up, quarantine, last runs."""
    from exchange.models import InboundBundle
    from exchange.sync.nodes import parent_region_of

    parent = parent_region_of(settings.HC_REGION)
    up = checkpoint_of(parent, Direction.UP).position if parent else 0
    return {
        "node": settings.HC_REGION,
        "parent": parent,
        "parent_url": settings.HC_PARENT_URL,
        "up_checkpoint": up,
        "up_waiting": up_waiting(up) if parent else 0,
        "down_checkpoint": checkpoint_of(parent, Direction.DOWN).position if parent else 0,
        "quarantined": InboundBundle.objects.filter(status=BundleStatus.QUARANTINED).count(),
        "refused": InboundBundle.objects.filter(status=BundleStatus.REFUSED).count(),
        "last_runs": [
            {
                "direction": run.direction,
                "status": run.status,
                "started_at": run.started_at.isoformat(),
                "bundles": run.bundles,
                "rows": run.rows,
                "bytes": run.bytes,
                "errors": run.errors,
            }
            for run in SyncRun.objects.all()[:5]
        ],
    }
