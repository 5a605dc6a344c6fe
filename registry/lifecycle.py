"""The one transition helper: every lifecycle (centres, cards, applications, plans, SAMs) goes through it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.errors import DomainError


class IllegalTransition(DomainError):
    """A state change the lifecycle does not allow. The message names the current and the allowed states."""

    code = "illegal_transition"
    status = 409

    def __init__(self, *, obj, current: str, target: str, allowed: list[str], labels: Mapping[str, str]):
        self.obj, self.current, self.target, self.allowed = obj, current, target, allowed
        super().__init__(
            _(
                "Cannot change %(object)s from “%(current)s” to “%(target)s”; allowed next states: %(allowed)s."
            ),
            {
                "object": obj,
                "current": labels.get(current, current),
                "target": labels.get(target, target),
                "allowed": _StateList([labels.get(state, state) for state in allowed]),
            },
            detail={"current": current, "target": target, "allowed": allowed},
        )


class _StateList:
    """Rendered in the active language when the message is built (、 in Chinese, commas in English)."""

    def __init__(self, labels):
        self.labels = labels

    def __str__(self) -> str:
        from django.utils.translation import get_language

        if not self.labels:
            return str(_("none (final state)"))
        separator = "、" if (get_language() or "").startswith("zh") else ", "
        return separator.join(str(label) for label in self.labels)


class Transitions:
    """A transition table: state -> the states it may move to."""

    def __init__(self, table: Mapping[str, Iterable[str]]):
        self.table = {str(state): [str(s) for s in targets] for state, targets in table.items()}

    def allowed_from(self, state: str) -> list[str]:
        return list(self.table.get(str(state), []))

    def check(self, obj, *, current: str, target: str, labels: Mapping[str, str]) -> None:
        if str(target) not in self.allowed_from(current):
            raise IllegalTransition(
                obj=obj,
                current=str(current),
                target=str(target),
                allowed=self.allowed_from(current),
                labels=labels,
            )


def transition(obj, *, to: str, field: str = "status") -> list[str]:
    """Move `obj.<field>` to `to` if its model's TRANSITIONS allow it; returns the fields to save.

    Call it on a row locked with select_for_update, inside the action's transaction.
    """
    model = type(obj)
    current = getattr(obj, field)
    labels = dict(model._meta.get_field(field).flatchoices)
    model.TRANSITIONS.check(obj, current=current, target=to, labels=labels)
    setattr(obj, field, to)
    changed = [field]
    if hasattr(obj, f"{field}_changed_at"):
        setattr(obj, f"{field}_changed_at", timezone.now())
        changed.append(f"{field}_changed_at")
    return changed


def status_change_with_reason(obj, *, actor, to: str, reason: str, action: str, journal, queryset=None):
    """A register's status change (deregister, reinstate, suspend, revoke ...): the mandatory reason, the row
    locked, the transition checked, reason and time recorded, the audit row and the journal row written.

    Call it inside the action's transaction; `journal(obj)` appends the register's journal row.
    """
    from registry.audit import audit_record  # the audit module imports models, which import this one
    from registry.errors import require_reason

    reason = require_reason(reason)
    obj = (queryset if queryset is not None else type(obj).objects).select_for_update().get(pk=obj.pk)
    fields = transition(obj, to=to)
    obj.status_reason = reason[:200]  # the whole reason stays in the audit row
    obj.changed_at = timezone.now()
    obj.save(update_fields=[*fields, "status_reason", "changed_at"])
    audit_record(actor=actor, action=action, target=obj, reason=reason)
    journal(obj)
    return obj
