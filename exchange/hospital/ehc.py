"""The electronic health card (电子健康卡): one virtual card per holder across all institutions, and its
dynamic QR code.

The QR text is `ehcid:type:expiry:signature` — the e-card id bound to the holder (32 hex characters), the
card type (`01`, the resident health e-card), the expiry (Unix seconds, a few minutes ahead) and the node's
Ed25519 signature over `ehcid:type:expiry` (base64url, no padding). A hospital scans it and asks
`POST /api/v1/hospital/ehc/verify`; an expired or altered code is refused."""

from __future__ import annotations

import base64
import io
import time

from django.conf import settings
from django.db import transaction

from exchange.models.hospital import EhcStatus, ElectronicHealthCard
from registry.actors import Actor
from registry.audit import audit_record
from registry.node import public_key_pem, sign, verify

EHC_TYPE = "01"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def ehc_code(ehc: ElectronicHealthCard, *, now: float | None = None) -> tuple[str, int]:
    """A fresh dynamic code and its expiry (Unix seconds)."""
    expiry = int(now if now is not None else time.time()) + 60 * getattr(settings, "HC_EHC_CODE_MINUTES", 5)
    message = f"{ehc.ehc_id}:{EHC_TYPE}:{expiry}"
    signature = base64.b64decode(sign(message.encode()))
    return f"{message}:{_b64url(signature)}", expiry


class EhcResult:
    VALID = "valid"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    UNKNOWN_HERE = "unknown_here"
    REVOKED = "revoked"


def ehc_verify(code: str, *, now: float | None = None) -> tuple[str, ElectronicHealthCard | None]:
    parts = (code or "").strip().split(":")
    if len(parts) != 4 or not parts[2].isdigit():
        return EhcResult.MALFORMED, None
    ehc_id, kind, expiry, signature = parts
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (ValueError, TypeError):
        return EhcResult.MALFORMED, None
    message = f"{ehc_id}:{kind}:{expiry}".encode()
    if not verify(message, base64.b64encode(raw).decode(), public_key_pem_text=public_key_pem()):
        return EhcResult.BAD_SIGNATURE, None
    if int(expiry) < (now if now is not None else time.time()):
        return EhcResult.EXPIRED, None
    ehc = ElectronicHealthCard.objects.select_related("resident").filter(ehc_id=ehc_id).first()
    if ehc is None:
        return EhcResult.UNKNOWN_HERE, None
    if ehc.status != EhcStatus.ACTIVE:
        return EhcResult.REVOKED, ehc
    return EhcResult.VALID, ehc


def ehc_qr(code: str, *, kind: str = "svg") -> tuple[bytes, str]:
    """The QR code of a dynamic code, as SVG or PNG (segno: pure Python)."""
    import segno

    qr = segno.make(code, error="m")
    out = io.BytesIO()
    if kind == "png":
        qr.save(out, kind="png", scale=6, border=2)
        return out.getvalue(), "image/png"
    qr.save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return out.getvalue(), "image/svg+xml"


@transaction.atomic(durable=True)
def ehc_verify_record(*, actor: Actor, ehc: ElectronicHealthCard) -> None:
    """A hospital verified an e-card and received the holder's ID number: audited, like any unmasked view."""
    audit_record(actor=actor, action="ehc.verify", target=ehc)
