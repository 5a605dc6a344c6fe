"""Idempotency-Key for every signed write: the first answer is stored and replayed to a retry; a different
request under the same key is refused. Records live in the database (shared by every web process)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from exchange.models.hospital import IdempotencyRecord, IdempotencyState
from registry.errors import DomainError

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{8,100}$")
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyError(DomainError):
    status = 400


class IdempotencyConflict(DomainError):
    status = 409


class IdempotencyReuse(DomainError):
    status = 422


class Replay(Exception):
    """Raised from a view's initial(): answer with the stored response instead of running the handler."""

    def __init__(self, record: IdempotencyRecord):
        self.record = record


def ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "HC_IDEMPOTENCY_TTL_HOURS", 24))


def request_hash(request) -> str:
    return hashlib.sha256(
        request.method.encode() + b"\n" + request.path.encode() + b"\n" + request.body
    ).hexdigest()


def claim(request, *, institution_code: str) -> IdempotencyRecord:
    """Take the key for this request, or raise Replay / IdempotencyConflict / IdempotencyReuse."""
    key = request.headers.get(HEADER, "")
    if not key:
        raise IdempotencyError(
            _("Every write needs an Idempotency-Key header (8-100 characters of A-Z a-z 0-9 _ - : .)."),
            code="idempotency_key_required",
        )
    if not KEY_RE.match(key):
        raise IdempotencyError(
            _("The Idempotency-Key must be 8-100 characters of A-Z a-z 0-9 _ - : ."),
            code="idempotency_key_invalid",
        )
    digest = request_hash(request)
    now = timezone.now()
    for _attempt in range(2):
        record = IdempotencyRecord.objects.filter(institution_code=institution_code, key=key).first()
        if record is not None and record.created_at < now - ttl():
            record.delete()  # an expired key may be used again
            record = None
        if record is None:
            try:
                with transaction.atomic():
                    return IdempotencyRecord.objects.create(
                        institution_code=institution_code,
                        key=key,
                        method=request.method,
                        path=request.path[:300],
                        body_hash=digest,
                        state=IdempotencyState.PROCESSING,
                        created_at=now,
                    )
            except IntegrityError:
                continue  # another process took the key this instant: read its record
        if record.body_hash != digest:
            raise IdempotencyReuse(
                _("This Idempotency-Key was used for a different request; use a new key for a new request."),
                code="idempotency_key_reused",
            )
        if record.state == IdempotencyState.PROCESSING:
            raise IdempotencyConflict(
                _("The first request with this Idempotency-Key is still running; retry in a moment."),
                code="idempotency_in_progress",
            )
        raise Replay(record)
    raise IdempotencyConflict(  # pragma: no cover - two losses of the same race in a row
        _("The first request with this Idempotency-Key is still running; retry in a moment."),
        code="idempotency_in_progress",
    )


def store(record: IdempotencyRecord, *, status_code: int, data) -> None:
    """Keep the answer. Server errors and rate-limit refusals are not answers: the key is freed instead."""
    if status_code >= 500 or status_code == 429:
        release(record)
        return
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False)
    record.state, record.status_code, record.response = IdempotencyState.DONE, status_code, text
    record.save(update_fields=["state", "status_code", "response"])


def replayed(record: IdempotencyRecord):
    return json.loads(record.response) if record.response else None


def release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


def prune() -> int:
    """Delete records past their time (`manage.py idempotency_prune`, daily)."""
    deleted, _per_model = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - ttl()).delete()
    return deleted
