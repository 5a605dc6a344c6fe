"""What the cards actions share: the case-history event, journal rows, and readable numbers."""

from __future__ import annotations

import json
import secrets

from django.utils import timezone

from cards.models import Application, Card, CardEvent, Resident
from registry.actors import Actor
from registry.journal import journal_append
from registry.protection import JOURNAL_CONTEXT, seal_payload, unseal

HOLDER_KIND = "cards.holder"
# A batch of a bulk import's new holders in one journal row (cards.actions.holders.holder_import_batch): its
# payload holds the holders' codes in clear and all their personal fields sealed once, as one JSON text.
HOLDER_BATCH_KIND = "cards.holder_batch"
HOLDER_BATCH_CONTEXT = f"{JOURNAL_CONTEXT}.{HOLDER_BATCH_KIND}"
# The columns of each entry of a batch payload's "holders" ("key" is the holder's journal key, as in
# journal_holder); its "personal" token seals a JSON list with, per holder, Resident.PERSONAL_FIELDS in order.
HOLDER_BATCH_COLUMNS = (
    "key",
    "document_type",
    "sex",
    "ethnicity",
    "birth_date",
    "region",
    "address1_type",
    "address2_type",
    "education",
    "marital_status",
    "occupation",
)
APPLICATION_KIND = "cards.application"
CARD_KIND = "cards.card"
EVENT_KIND = "cards.event"


def institution_of(obj) -> object | None:
    return getattr(obj, "medical_institution", None) or getattr(obj, "financial_institution", None)


def record_event(
    *,
    actor: Actor,
    resident: Resident,
    kind: str,
    card: Card | None = None,
    application: Application | None = None,
    institution=None,
    reason: str = "",
    data: dict | None = None,
    region_id: str | None = None,
) -> CardEvent:
    """One line of the case history, journaled so the tiers above see the same timeline."""
    institution = institution or institution_of(card) or institution_of(application)
    event = CardEvent.objects.create(
        resident=resident,
        card=card,
        application=application,
        kind=kind,
        at=timezone.now(),
        user=actor.user,
        actor_label=actor.display[:150],
        channel=actor.channel,
        institution_code=getattr(institution, "code", ""),
        institution_name=getattr(institution, "name", ""),
        region_id=region_id
        or (card.region_id if card else application.region_id if application else resident.region_id),
        reason=reason,
        data=data or {},
    )
    journal_append(
        kind=EVENT_KIND,
        key=str(event.pk),
        payload=seal_payload(
            {
                "kind": kind,
                "at": event.at.isoformat(),
                "holder_document_type": resident.document_type,
                "holder_document": resident.document_number,
                "card_no": card.card_no if card else "",
                "chip_serial": card.chip_serial if card else "",
                "application": application.number if application else "",
                "actor": event.actor_label,
                "channel": event.channel,
                "institution_code": event.institution_code,
                "region": event.region_id,
                "reason": reason,
                "data": event.data,
            },
            ("card_no", "holder_document"),
        ),
    )
    return event


def holder_payload(resident: Resident) -> dict:
    payload = {field: getattr(resident, field) for field in Resident.PERSONAL_FIELDS}
    payload.update(
        document_type=resident.document_type,
        sex=resident.sex,
        ethnicity=resident.ethnicity,
        birth_date=resident.birth_date.isoformat(),
        region=resident.region_id,
        address1_type=resident.address1_type,
        address2_type=resident.address2_type,
        education=resident.education,
        marital_status=resident.marital_status,
        occupation=resident.occupation,
        changed_at=resident.changed_at.isoformat(),
    )
    return seal_payload(payload, Resident.PERSONAL_FIELDS)


# Journal keys only need to be stable on the node that writes them (the receiver reads the sealed payload and
# finds the row by its own blind index), so the local blind index serves as the key of a holder or a card.


def journal_holder(resident: Resident) -> None:
    journal_append(kind=HOLDER_KIND, key=resident.document_index, payload=holder_payload(resident))


def holder_batch_expand(payload: dict) -> list[tuple[str, dict]]:
    """The holders of a cards.holder_batch journal row, in order: (key, payload) as journal_holder would have
    journaled each, with its personal fields opened (what unseal_payload(holder_payload(holder)) gives)."""
    personal = json.loads(unseal(payload["personal"]["sealed"], context=HOLDER_BATCH_CONTEXT))
    names, columns, changed_at = payload["personal_columns"], payload["columns"], payload["changed_at"]
    holders = []
    for plain, values in zip(payload["holders"], personal, strict=True):
        holder = dict(zip(names, values, strict=True))
        holder.update(zip(columns, plain, strict=True))
        holder["changed_at"] = changed_at
        holders.append((holder.pop("key"), holder))
    return holders


def journal_application(application: Application) -> None:
    journal_append(
        kind=APPLICATION_KIND,
        key=application.number,
        payload=seal_payload(
            {
                "number": application.number,
                "holder_document_type": application.resident.document_type,
                "holder_document": application.resident.document_number,
                "channel": application.channel,
                "status": application.status,
                "region": application.region_id,
                "submitted_at": application.submitted_at.isoformat(),
                "institution_code": getattr(institution_of(application), "code", ""),
                "batch": application.batch.number if application.batch_id else "",
            },
            ("holder_document",),
        ),
    )


def journal_card(card: Card) -> None:
    journal_append(
        kind=CARD_KIND,
        key=f"{card.card_index}:{card.chip_serial}",
        payload=seal_payload(
            {
                "card_no": card.card_no,
                "chip_serial": card.chip_serial,
                "status": card.status,
                "region": card.region_id,
                "institution_code": getattr(card.issuing_point, "code", ""),
                "collected_at": card.collected_at.isoformat() if card.collected_at else "",
                "expires_on": card.expires_on.isoformat() if card.expires_on else "",
            },
            ("card_no",),
        ),
    )


def new_number(prefix: str, region_code: str) -> str:
    """A readable, unique number: prefix, region, local date, random tail (e.g. A610113-20261121-7F3K9Q)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    tail = "".join(secrets.choice(alphabet) for _ in range(6))
    return f"{prefix}{region_code}-{timezone.localdate():%Y%m%d}-{tail}"
