"""Where one-time codes go: a pluggable SMS sender (HC_SMS_BACKEND). The console backend (development) writes
the message to standard error; the memory backend keeps an outbox for tests; production plugs in the
province's SMS gateway with the same send(phone, message) method."""

from __future__ import annotations

import sys

from django.conf import settings
from django.utils.module_loading import import_string

from registry.protection import mask_phone


class ConsoleSmsBackend:
    def send(self, phone: str, message: str) -> None:
        # The phone is masked even here: consoles end up in log files.
        print(f"[SMS to {mask_phone(phone)}] {message}", file=sys.stderr)  # noqa: T201


class MemorySmsBackend:
    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, message: str) -> None:
        MemorySmsBackend.outbox.append((phone, message))


def sms_send(phone: str, message: str) -> None:
    import_string(settings.HC_SMS_BACKEND)().send(phone, message)
