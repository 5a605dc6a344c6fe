"""How each journal kind is applied at the receiving node: one function per kind, in one registry.

An applier gets the row (kind, key, op, origin) and its payload with personal fields in clear, and writes this
node's copy, found by the row's natural key (institutions by USCC code, holders and cards by the blind index of
their sealed values, events by their origin). The row itself is re-journaled by exchange.sync.apply with its
origin kept, so it travels on; an applier that re-journals by itself (the vendors apply actions) says so with
`journals=True`. A kind with no applier quarantines its bundle: adding a kind is one decorated function here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cards.actions.common import holder_batch_expand
from cards.choices import CardStatus
from cards.models import Card, CardEvent, Resident
from exchange.choices import ConflictStatus
from exchange.models import UniquenessConflict
from institutions.models import CardMaker, FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.models import RegistrationCentre
from registry.protection import blind_index
from vendors import actions as vendor_actions


class ApplyError(Exception):
    """A row this node cannot apply; the message is the quarantine reason a person reads."""


@dataclass
class ApplyContext:
    actor: Actor
    sender: str
    direction: str


@dataclass(frozen=True)
class Applier:
    kind: str
    function: Callable[[ApplyContext, dict, dict], None]
    journals: bool = False  # the function re-journals the row itself (with the origin, via journal_origin)
    # The row is the state of its object (an upsert): a row older than one already applied for the same
    # object is journaled but not applied, so a late (re-applied, out-of-order) bundle never rolls state back.
    # Events are not states: each one is applied once.
    latest_wins: bool = True
    # Applied before the other rows of a bundle (what they refer to: centres, institutions, filings, holders);
    # rows of one kind keep their order.
    rank: int = 5


APPLIERS: dict[str, Applier] = {}


def applier(*kinds: str, journals: bool = False, latest_wins: bool = True, rank: int = 5):
    def register(function):
        for kind in kinds:
            APPLIERS[kind] = Applier(kind, function, journals=journals, latest_wins=latest_wins, rank=rank)
        return function

    return register


def _when(value: str | None) -> dt.datetime | None:
    return parse_datetime(value) if value else None


def _day(value: str | None) -> dt.date | None:
    return parse_date(value) if value else None


def _upsert(model, lookup: dict, values: dict):
    """Create or update one row by its natural key; an unchanged row writes nothing."""
    obj = model.objects.select_for_update().filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values)
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    if changed:
        obj.save(update_fields=changed)
    return obj


# --- Registry ------------------------------------------------------------------------------------------


@applier("registry.centre", rank=0)
def centre_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    from django.conf import settings

    from exchange.sync.nodes import subtree_prefix

    if payload["region"] == settings.HC_REGION:
        return  # this node's own record is kept by this node (its key must not be replaced from outside)
    if not payload["region"].startswith(subtree_prefix(row["origin_node"])):
        # A node speaks for the centres of its own subtree only: a city's copy of its province's record
        # (how it learnt the parent's key) travels up but does not overwrite the province's own record.
        return
    fields = ("tier", "name", "contact_person", "phone", "address", "head", "status", "status_reason")
    values = {name: payload.get(name, "") for name in fields}
    values.update(
        base_url=payload.get("base_url", ""),
        public_key=payload.get("public_key", ""),
        registered_at=_when(payload["registered_at"]),
        changed_at=_when(payload["changed_at"]),
    )
    _upsert(RegistrationCentre, {"region_id": payload["region"]}, values)


# --- Institutions -------------------------------------------------------------------------------------

ORGANISATIONS = {
    "institutions.medical": MedicalInstitution,
    "institutions.cardmaker": CardMaker,
    "institutions.financial": FinancialInstitution,
}


@applier(*ORGANISATIONS, rank=1)
def organisation_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    model = ORGANISATIONS[row["kind"]]
    values = {name: payload.get(name, "") for name in model.JOURNAL_FIELDS if name != "code"}
    values.update(
        region_id=payload["region"],
        registered_at=_when(payload["registered_at"]),
        changed_at=_when(payload["changed_at"]),
    )
    _upsert(model, {"code": payload["code"]}, values)


# --- Vendors (their own apply actions, which audit and re-journal) --------------------------------------

# The vendors actions are durable transactions meant to be called from the edge; a bundle is applied in one
# transaction, so exchange calls the function inside the decorator (same code, the bundle's transaction).
_filing_apply = vendor_actions.filing_apply.__wrapped__
_actual_use_apply = vendor_actions.actual_use_apply.__wrapped__


@applier(vendor_actions.MANUFACTURER_KIND, vendor_actions.PRODUCT_KIND, journals=True, rank=2)
def filing_row_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    _filing_apply(actor=ctx.actor, kind=row["kind"], payload=payload, op=row["op"])


@applier(vendor_actions.ACTUAL_USE_KIND, journals=True)
def actual_use_row_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    _actual_use_apply(actor=ctx.actor, payload=payload)


# --- Cards ---------------------------------------------------------------------------------------------

HOLDER_PLAIN = (
    "document_type",
    "sex",
    "ethnicity",
    "region",
    "address1_type",
    "address2_type",
    "education",
    "marital_status",
    "occupation",
)


def holder_upsert(payload: dict) -> Resident:
    values = {
        name: payload.get(name) or "" for name in HOLDER_PLAIN if name not in ("document_type", "region")
    }
    for name in Resident.PERSONAL_FIELDS:
        if name != "document_number":
            values[name] = payload.get(name) or ([] if name == "contacts" else "")
    values.update(
        region_id=payload["region"],
        birth_date=_day(payload["birth_date"]),
        changed_at=_when(payload.get("changed_at")) or timezone.now(),
    )
    index = blind_index(payload["document_number"], family="id_number")
    resident = (
        Resident.objects.select_for_update()
        .filter(document_index=index, document_type=payload["document_type"])
        .first()
    )
    if resident is None:
        return Resident.objects.create(
            document_number=payload["document_number"],
            document_type=payload["document_type"],
            created_at=values["changed_at"],
            **values,
        )
    changed = [name for name, value in values.items() if getattr(resident, name) != value]
    for name in changed:
        setattr(resident, name, values[name])
    if changed:
        resident.save(update_fields=changed)
    return resident


@applier("cards.holder", rank=3)
def holder_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    holder_upsert(payload)


@applier("cards.holder_batch", rank=3, latest_wins=False)
def holder_batch_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    # The batch's personal token was sealed again with this node's keys (row["sealed_payload"]).
    for _key, holder in holder_batch_expand(row["sealed_payload"]):
        holder_upsert(holder)


def _resident_of(document_number: str, document_type: str | None = None) -> Resident:
    residents = Resident.objects.filter(document_index=blind_index(document_number, family="id_number"))
    if document_type:
        residents = residents.filter(document_type=document_type)
    resident = residents.first()
    if resident is None:
        raise ApplyError("the holder of this card or event is not here yet (its holder row has not arrived)")
    return resident


def _institution(code: str) -> dict:
    if not code:
        return {}
    medical = MedicalInstitution.objects.filter(code=code).first()
    if medical:
        return {"medical_institution": medical}
    bank = FinancialInstitution.objects.filter(code=code).first()
    return {"financial_institution": bank} if bank else {}


def _card_record(card: Card, origin: str) -> dict:
    point = card.issuing_point
    return {
        "origin": origin,
        "region": card.region_id,
        "chip_serial": card.chip_serial,
        "status": card.status,
        "institution_code": getattr(point, "code", ""),
        "collected_at": card.collected_at.isoformat() if card.collected_at else "",
    }


@applier("cards.card", rank=4)
def card_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    index = blind_index(payload["card_no"], family="id_number")
    values = {
        "status": payload["status"],
        "region_id": payload["region"],
        "collected_at": _when(payload.get("collected_at")),
        "expires_on": _day(payload.get("expires_on")),
        **_institution(payload.get("institution_code", "")),
    }
    cards = Card.objects.select_for_update().filter(card_index=index)
    card = cards.filter(chip_serial=payload["chip_serial"]).first()
    if card is None and payload["chip_serial"]:
        # A card allocated before its chip was written (on-site issuance) is the same physical card: it gets
        # its chip serial here as it did at the source.
        card = cards.filter(chip_serial="", status=CardStatus.ISSUING).first()
        if card is not None:
            card.chip_serial = payload["chip_serial"]
            card.save(update_fields=["chip_serial"])
    if card is None:
        card = Card.objects.create(
            card_no=payload["card_no"],
            chip_serial=payload["chip_serial"],
            resident=_resident_of(payload["card_no"]),
            created_at=timezone.now(),
            status_changed_at=timezone.now(),
            **values,
        )
    else:
        changed = [name for name, value in values.items() if getattr(card, name) != value]
        if "status" in changed:
            card.status_changed_at = timezone.now()
            changed.append("status_changed_at")
        for name in changed:
            if name != "status_changed_at":
                setattr(card, name, values[name])
        if changed:
            card.save(update_fields=changed)
    if card.status == CardStatus.ACTIVE:
        uniqueness_check(card, origin=row["origin_node"])


def uniqueness_check(card: Card, *, origin: str) -> None:
    """National uniqueness: another active card under the same number is listed as a conflict, not merged."""
    others = list(
        Card.objects.filter(card_index=card.card_index, status=CardStatus.ACTIVE)
        .exclude(pk=card.pk)
        .select_related("medical_institution", "financial_institution")
    )
    if not others:
        return
    records = [_card_record(card, origin)] + [_card_record(other, other.region_id) for other in others]
    origins = sorted({record["origin"] for record in records})
    conflict = UniquenessConflict.objects.filter(
        card_index=card.card_index, status=ConflictStatus.OPEN
    ).first()
    if conflict is None:
        UniquenessConflict.objects.create(
            card_index=card.card_index, origins=origins, records=records, detected_at=timezone.now()
        )
    else:
        conflict.origins, conflict.records = origins, records
        conflict.save(update_fields=["origins", "records"])


@applier("cards.event", latest_wins=False)
def event_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    # Events are created once: the journal's (origin node, origin sequence) check in exchange.sync.apply is
    # what makes a repeated row a no-op.
    resident = _resident_of(payload["holder_document"], payload.get("holder_document_type"))
    card = None
    if payload.get("card_no"):
        cards = Card.objects.filter(card_index=blind_index(payload["card_no"], family="id_number"))
        card = cards.filter(chip_serial=payload.get("chip_serial", "")).first()
        if card is None and not payload.get("chip_serial"):
            # An event from before the chip was written (allocation): the card has its serial by now.
            card = cards.order_by("-id").first()
    CardEvent.objects.create(
        resident=resident,
        card=card,
        kind=payload["kind"],
        at=_when(payload["at"]),
        actor_label=payload.get("actor", "")[:150],
        channel=payload.get("channel", ""),
        institution_code=payload.get("institution_code", ""),
        region_id=payload["region"],
        reason=payload.get("reason", ""),
        data={**(payload.get("data") or {}), "origin": f"{row['origin_node']}:{row['origin_seq']}"},
    )


# Summaries with no copy table above the city: they travel on (journaled with their origin) and count in
# reconciliation, and stats read them from the journal.
PASS_THROUGH = (
    "cards.application",
    "cards.plan",
    "cards.stock_in",
    "cards.stock_out",
    "cards.shipment",
    # SAM work is reviewed tier by tier in each node's own tables (sam.actions); the rows travel on so the
    # parent's journal, reconciliation and statistics see them. Copy tables above the city are a later step.
    "sam.application",
    "sam.plan",
    "sam.card",
    "sam.stock_in",
    "sam.stock_out",
    "sam.shipment",
    "terminals.terminal",
    # One holder, one e-card: the parent learns which e-card ids exist (verification stays with the issuer).
    "exchange.ehc",
)


@applier(*PASS_THROUGH, latest_wins=False)
def pass_through(ctx: ApplyContext, row: dict, payload: dict) -> None:
    return None


@applier("cards.use_daily", journals=True)
def card_use_daily_row_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    """A day's card-use count of one institution and scenario: the absolute count, so applying twice is harmless."""
    from cards.actions.uses import card_use_daily_apply

    card_use_daily_apply(actor=ctx.actor, payload=payload)


# --- Registry's list (blacklist / whitelist) ------------------------------------------------------------


@applier("registry.list_entry", rank=6)
def list_entry_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    """Mirror one list change (add or remove) from another node; re-journaled by exchange with its origin.

    The source already decided (a permanent entry comes off there only through a correction), so a remove
    is mirrored as is. The entry keeps the node that first listed it (payload origin_node)."""
    from registry.lists import list_add, list_remove, subject_from_hex

    subject = subject_from_hex(payload["subject"])
    if row["op"] == "delete":
        list_remove(
            list_name=payload["list"],
            subject=subject,
            actor=ctx.actor,
            note=payload.get("note") or "",
            allow_permanent=True,
            journal=False,
        )
        return
    list_add(
        list_name=payload["list"],
        entry_type=payload["type"],
        subject=subject,
        reason=payload["reason"],
        region_code=payload["region"],
        actor=ctx.actor,
        label=payload.get("label") or "",
        object_ref=payload.get("object_ref") or "",
        note=payload.get("note") or "",
        valid_until=_day(payload.get("valid_until")),
        origin_node=payload.get("origin_node") or row["origin_node"],
        journal=False,
    )
