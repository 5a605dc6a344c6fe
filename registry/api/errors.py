"""Every API error is JSON {code, message_zh, message_en, detail} with a stable code."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import translation
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from registry.errors import DomainError


def _both_languages(text) -> tuple[str, str]:
    with translation.override("zh-hans"):
        zh = str(text)
    with translation.override("en"):
        en = str(text)
    return zh, en


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code, message = "validation_error", exceptions.ValidationError.default_detail
        detail = response.data
    elif isinstance(exc, exceptions.APIException):
        code = exc.default_code
        message = exc.detail if isinstance(exc.detail, str) else exc.default_detail
        detail = None
    else:  # pragma: no cover - DRF only handles APIException subclasses
        code, message, detail = "error", str(exc), None
    zh, en = _both_languages(exc.default_detail if isinstance(exc, exceptions.APIException) else message)
    if isinstance(message, str) and message not in (zh, en):
        en = message  # a specific English message from DRF or our code
    response.data = {"code": code, "message_zh": zh, "message_en": en, "detail": detail}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and getattr(exc, "wait", None):
        response.data["detail"] = {"retry_after": int(exc.wait)}
    return response
