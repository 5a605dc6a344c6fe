"""The electronic health card (电子健康卡): one virtual card per holder across all institutions, and its
dynamic QR code.

The QR text is `ehcid:type:expiry:signature` — the e-card id bound to the holder (32 hex characters), the
card type (`01`, the resident health e-card), the expiry (Unix seconds, a few minutes ahead) and the node's
Ed25519 signature over `ehcid:type:expiry` (base64url, no padding). A hospital scans it and asks
`POST /api/v1/hospital/ehc/verify`; an expired or altered code is refused."""

from __future__ import annotations

import base64
import io
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.choices import CardStatus
from cards.models import Card, Resident
from exchange.models.hospital import EhcStatus, ElectronicHealthCard
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError
from registry.journal import journal_append
from registry.node import public_key_pem, sign, verify

EHC_TYPE = "01"


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
