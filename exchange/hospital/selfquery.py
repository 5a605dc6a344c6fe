"""Personal self-query (the residents' own check): ID number + name + a one-time code sent to the phone on
record; the answer is the holder's cards and case history, masked. Codes live in the shared cache, hashed,
single use, five tries; the same answer whether or not the person exists (no enumeration), and rate limits
per ID number and per client address."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from cards.models import CardEvent, Resident
from exchange.hospital.sms import sms_send
from exchange.hospital.throttling import window_hit
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import Channel
from registry.errors import DomainError
from registry.protection import blind_index, mask_id_number, mask_name

MAX_TRIES = 5


class SelfQueryRefused(DomainError):
    status = 400


class SelfQueryThrottled(DomainError):
    status = 429

    def __init__(self, wait: float):
        super().__init__(
            _("Too many attempts: try again in %(minutes)s minutes."),
            {"minutes": max(int(wait // 60) + 1, 1)},
            code="throttled",
            detail={"retry_after": int(wait)},
        )
        self.wait = int(wait)


def _throttle(id_index: str, client: str) -> None:
    limits = getattr(settings, "HC_HOSPITAL_RATE_LIMITS", {})
    per_person = limits.get("selfquery", "5/hour")
    per_client = limits.get("selfquery_client", "30/hour")
    for bucket, rate in ((f"sq-person:{id_index}", per_person), (f"sq-client:{client}", per_client)):
        wait = window_hit(bucket, rate)
        if wait:
            raise SelfQueryThrottled(wait)


def _code_key(id_index: str) -> str:
    return f"hc-selfquery:{id_index}"


def _digest(code: str, id_index: str) -> str:
    return hmac.new(id_index.encode(), code.encode(), hashlib.sha256).hexdigest()


def _holder(id_number: str, name: str) -> tuple[str, Resident | None]:
    id_index = blind_index(id_number, family="id_number")
    resident = Resident.objects.filter(document_index=id_index).first()
    if resident is not None and "".join(resident.name.split()) != "".join((name or "").split()):
        resident = None
    return id_index, resident


def selfquery_code_send(*, id_number: str, name: str, client: str) -> int:
    """Send a code to the phone on record when ID number and name match a holder; the caller cannot tell
    whether they did. Returns the code's lifetime in seconds."""
    lifetime = 60 * getattr(settings, "HC_SELFQUERY_CODE_MINUTES", 5)
    id_index, resident = _holder(id_number, name)
    _throttle(id_index, client)
    if resident is not None and resident.phone1:
        code = f"{secrets.randbelow(10**6):06d}"
        cache.set(_code_key(id_index), {"digest": _digest(code, id_index), "tries": 0}, timeout=lifetime)
        sms_send(
            resident.phone1,
            str(
                _("Your health card self-query code is %(code)s, valid for %(minutes)s minutes.")
                % {"code": code, "minutes": lifetime // 60}
            ),
        )
    return lifetime


def selfquery_result(*, id_number: str, name: str, code: str, client: str) -> dict:
    """The holder's cards and case history, masked, for the right code (single use)."""
    id_index, resident = _holder(id_number, name)
    stored = cache.get(_code_key(id_index))
    refused = SelfQueryRefused(
        _("The code is wrong or has expired: ask for a new code."), code="selfquery_code_invalid"
    )
    if stored is None or resident is None:
        raise refused
    if not hmac.compare_digest(stored["digest"], _digest((code or "").strip(), id_index)):
        stored["tries"] += 1
        if stored["tries"] >= MAX_TRIES:
            cache.delete(_code_key(id_index))
        else:
            cache.set(
                _code_key(id_index), stored, timeout=60 * getattr(settings, "HC_SELFQUERY_CODE_MINUTES", 5)
            )
        raise refused
    cache.delete(_code_key(id_index))
    return _answer(resident=resident, client=client)


@transaction.atomic(durable=True)
def _answer(*, resident: Resident, client: str) -> dict:
    # The holder reads their own data: still audited (who, when, from where), like any view of personal data.
    actor = Actor(user=None, channel=Channel.API, ip=client or None, label="self-query")
    audit_record(actor=actor, action="holder.selfquery", target=resident)
    cards = [
        {
            "card_no": mask_id_number(card.card_no),
            "chip_serial": card.chip_serial,
            "status": card.status,
            "status_label": str(card.get_status_display()),
            "expires_on": card.expires_on,
        }
        for card in resident.cards.order_by("id")
    ]
    events = [
        {
            "at": event.at,
            "kind": event.kind,
            "label": str(event.get_kind_display()),
            "institution": event.institution_name,
        }
        for event in CardEvent.objects.filter(resident=resident).order_by("at", "id")
    ]
    return {
        "holder": mask_name(resident.name),
        "document": mask_id_number(resident.document_number),
        "cards": cards,
        "history": events,
    }
