"""The parent's side of the line: children push bundles, pull what comes down, ask for reconciliation digests.

Plain Django views (not the staff API): a child authenticates by its node key, never by a user session.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from exchange.choices import BundleStatus, Direction
from exchange.sync.apply import bundle_receive
from exchange.sync.nodes import child_peer
from exchange.sync.outbox import BUNDLE_ROWS, down_page, page_bundle
from exchange.sync.reconcile import digest_of
from exchange.sync.wire import BUNDLE_TYPE, ack_sign, request_verify
from registry.errors import DomainError

MAX_BUNDLE_BYTES = 256 * 1024 * 1024


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message_en": message}, status=status)


def _child_of(request):
    """The child making a signed request, or an error response."""
    sender = request.headers.get("X-HC-Node", "")
    try:
        peer = child_peer(sender)
    except DomainError as error:
        return None, _error(403, error.code, error.message_en)
    if not request_verify(request, public_key=peer.public_key):
        return None, _error(
            403, "sync_bad_request_signature", "the request is not signed by the child's key, or stale"
        )
    return peer, None


@csrf_exempt
@require_POST
def push_receive(request):
    """A child's bundle: applied (or quarantined) and acknowledged with this node's signature."""
    _peer, refusal = _child_of(request)  # checked before the body is read: strangers cannot fill the disk
    if refusal:
        return refusal
    length = int(request.headers.get("Content-Length") or 0)
    if length > MAX_BUNDLE_BYTES:
        return _error(413, "sync_bundle_too_large", "the bundle is larger than this node accepts")
    data = request.read()
    record = bundle_receive(data, direction=Direction.UP)
    if record.status == BundleStatus.REFUSED:
        return _error(400, "sync_bundle_refused", record.reason)
    ack = {
        "receiver": settings.HC_REGION,
        "sha256": record.sha256,
        "status": record.status,
        "applied": record.applied_rows,
        "duplicates": record.duplicate_rows,
        "last_seq": record.last_seq,
        "reason": record.reason if record.status == BundleStatus.QUARANTINED else "",
    }
    return JsonResponse(ack_sign(ack))


@csrf_exempt
@require_GET
def pull_serve(request):
    """The next page of what goes down to the asking child, encrypted to it; 204 when it has everything."""
    peer, refusal = _child_of(request)
    if refusal:
        return refusal
    try:
        after = int(request.GET.get("after", "0"))
        limit = max(1, min(int(request.GET.get("limit", BUNDLE_ROWS)), BUNDLE_ROWS))
    except ValueError:
        return _error(400, "sync_bad_query", "after and limit are numbers")
    entries = down_page(peer.region, after, limit)
    if not entries:
        return HttpResponse(status=204)
    bundle = page_bundle(entries, peer=peer, direction=Direction.DOWN, after=after)
    return HttpResponse(bundle.to_bytes(), content_type=BUNDLE_TYPE)


@csrf_exempt
@require_GET
def digest_serve(request):
    """Per-kind counts and digests of what this node holds from the asking child's subtree, signed."""
    peer, refusal = _child_of(request)
    if refusal:
        return refusal
    return JsonResponse(ack_sign(digest_of(peer.region)))
