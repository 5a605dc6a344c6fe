"""Errors a user sees: a stable code plus the message in Chinese and in English, from one translatable string."""

from __future__ import annotations

from django.utils import translation


class DomainError(Exception):
    """Raised by actions; the admin shows message_zh, the API answers {code, message_zh, message_en, detail}."""

    code = "invalid"
    status = 400

    def __init__(self, message, params: dict | None = None, *, code: str | None = None, detail=None):
        self.code = code or self.code
        self.detail = detail
        params = params or {}
        with translation.override("zh-hans"):
            self.message_zh = str(message) % _render(params)
        with translation.override("en"):
            self.message_en = str(message) % _render(params)
        super().__init__(self.message_zh)

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "detail": self.detail,
        }


def _render(params: dict) -> dict:
    # Lazy labels in params (choice labels) are rendered in the language being built.
    return {key: value if isinstance(value, (int, float)) else str(value) for key, value in params.items()}


class NotFoundError(DomainError):
    code = "not_found"
    status = 404


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    status = 403


def require_reason(reason: str) -> str:
    """The reason a dangerous action must give (deregister, revoke, reject ...), stripped; refused when empty."""
    from django.utils.translation import gettext_lazy as _

    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("A reason is required."), code="reason_required", detail={"field": "reason"})
    return reason
