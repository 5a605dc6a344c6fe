"""Writing the audit trail. Actions call audit_record inside their transaction."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from registry.actors import Actor
from registry.models import AuditEntry


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    region_code: str = "",
    reason: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    object_type = object_key = object_repr = ""
    if target is not None:
        object_type = target._meta.label_lower
        object_key = str(target.pk)
        object_repr = str(target)[:200]
        if not region_code:
            region_code = _region_of(target)
    return AuditEntry.objects.create(
        at=timezone.now(),
        user=actor.user,
        actor_label=actor.display[:150],
        channel=actor.channel,
        ip=actor.ip,
        action=action,
        object_type=object_type,
        object_key=object_key,
        object_repr=object_repr,
        region_code=region_code,
        reason=reason,
        changes=changes or {},
    )


def _region_of(target: models.Model) -> str:
    """The region code of a scoped object, read from local columns (region__code -> region_id)."""
    path = getattr(type(target), "REGION_SCOPE_FIELD", "")
    if not path:
        return ""
    parts = path.split("__")
    if parts[-1] == "code" and len(parts) > 1:
        parts = [*parts[:-2], parts[-2] + "_id"]
    value = target
    for part in parts:
        value = getattr(value, part, None)
        if value is None:
            return ""
    return str(value)


def audit_history(target: models.Model):
    return AuditEntry.objects.filter(
        object_type=target._meta.label_lower, object_key=str(target.pk)
    ).order_by("at")
