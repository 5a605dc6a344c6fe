"""Stock-in (入库) of produced cards, stock-out (出库) to an issuing point, and the logistics (物流) between.

Cards come into existence at stock-in, one per produced plan item. A plan of 5,000 cards stocks in with bulk
statements (cards, events, journal rows under one range of numbers), like the production actions.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.common import new_number
from cards.actions.production import (
    Event,
    JournalBatch,
    card_journal,
    check_scope,
    events_record,
    residents_of,
)
from cards.choices import CardEventKind, CardStatus, PlanItemStatus, PlanStatus, ShipmentStatus
from cards.models import Application, Card, PlanItem, ProductionPlan, Shipment, StockIn, StockOut
from cards.personalisation import card_expiry
from institutions.choices import OrganisationStatus
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError
from registry.imports import bulk_update_values
from registry.lifecycle import transition
from registry.models.regions import region_prefix
from registry.scope import node_prefix, user_scope_prefix

STOCK_IN_KIND, STOCK_OUT_KIND, SHIPMENT_KIND = "cards.stock_in", "cards.stock_out", "cards.shipment"
STOCK_IN_PLAN_STATUSES = (PlanStatus.IN_PRODUCTION, PlanStatus.COMPLETED)
SH = ShipmentStatus
FINAL_SHIPMENT = (SH.SIGNED, SH.RETURNED)
CARD_FIELDS_OUT = [
    "status",
    "status_changed_at",
    "stock_out",
    "medical_institution",
    "financial_institution",
    "region",
]


def _required(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(_("This field is required."), code="required", detail={"field": field})
    return value


def _batch_number(model, batch_number: str, prefix: str, region_code: str) -> str:
    batch_number = (batch_number or "").strip() or new_number(prefix, region_code)
    if model.objects.filter(batch_number=batch_number).exists():
        raise DomainError(
            _("Batch number %(number)s is already used."),
            {"number": batch_number},
            code="duplicate_batch",
            detail={"field": "batch_number"},
        )
    return batch_number


def _institution_fields(institution) -> dict:
    if isinstance(institution, MedicalInstitution):
        return {"medical_institution": institution, "financial_institution": None}
    if isinstance(institution, FinancialInstitution):
        return {"medical_institution": None, "financial_institution": institution}
    raise DomainError(_("A service point is a medical institution or a bank branch."))


# --- Stock-in ----------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def stock_in_record(
    *,
    actor: Actor,
    plan: ProductionPlan,
    responsible_unit: str,
    responsible_person: str,
    batch_number: str = "",
    items: list[PlanItem] | None = None,
    quantity: int | None = None,
) -> StockIn:
    """Stock in the produced cards of a plan (all produced items not yet in stock, or the given ones).

    Each produced item becomes a card in stock: card number = the holder's document number, the maker's chip
    serial, the plan's region, expiry ten years from the plan. `quantity`, when given, is the count on the
    delivery note and must match.
    """
    responsible_unit = _required(responsible_unit, "responsible_unit")
    responsible_person = _required(responsible_person, "responsible_person")
    plan = (
        ProductionPlan.objects.select_for_update(of=("self",))
        .select_related("card_maker", "region")
        .get(pk=plan.pk)
    )
    check_scope(actor, plan.region_id, plan)
    if plan.status not in STOCK_IN_PLAN_STATUSES:
        raise DomainError(
            _(
                "Plan %(number)s is “%(status)s”: only cards of a plan in production or completed are stocked in."
            ),
            {"number": plan.number, "status": PlanStatus(plan.status).label},
            code="plan_not_in_production",
            detail={"current": plan.status, "allowed": [str(s) for s in STOCK_IN_PLAN_STATUSES]},
        )
    locked = PlanItem.objects.select_for_update(of=("self",)).filter(plan=plan)
    if items is None:
        chosen = list(locked.filter(status=PlanItemStatus.PRODUCED, card__isnull=True).order_by("id"))
    else:
        wanted = [getattr(item, "pk", item) for item in items]
        found = {item.pk: item for item in locked.filter(pk__in=wanted)}
        stocked = dict(
            Card.objects.filter(plan_item_id__in=list(found)).values_list(
                "plan_item_id", "stock_in__batch_number"
            )
        )
        chosen = []
        for pk in dict.fromkeys(wanted):
            item = found.get(pk)
            if item is None:
                raise DomainError(
                    _("Plan item %(item)s is not in plan %(plan)s."),
                    {"item": pk, "plan": plan.number},
                    code="item_not_in_plan",
                )
            if item.status != PlanItemStatus.PRODUCED:
                raise DomainError(
                    _("Plan item %(item)s is “%(status)s”: only produced cards are stocked in."),
                    {"item": pk, "status": PlanItemStatus(item.status).label},
                    code="item_not_produced",
                    detail={"current": item.status, "allowed": [PlanItemStatus.PRODUCED.value]},
                )
            if pk in stocked:
                raise DomainError(
                    _("Plan item %(item)s is already in stock (batch %(batch)s)."),
                    {"item": pk, "batch": stocked[pk] or "-"},
                    code="already_stocked_in",
                )
            chosen.append(item)
    if not chosen:
        raise DomainError(
            _("Plan %(number)s has no produced cards waiting to be stocked in."),
            {"number": plan.number},
            code="nothing_to_stock_in",
        )
    if quantity is not None and quantity != len(chosen):
        raise DomainError(
            _("The batch counts %(quantity)s cards but %(count)s produced cards are to be stocked in."),
            {"quantity": quantity, "count": len(chosen)},
            code="quantity_mismatch",
            detail={"field": "quantity", "expected": len(chosen)},
        )
    batch_number = _batch_number(StockIn, batch_number, "SI", plan.region_id)
    now = timezone.now()
    stock_in = StockIn.objects.create(
        batch_number=batch_number,
        plan=plan,
        region=plan.region,
        quantity=len(chosen),
        responsible_unit=responsible_unit,
        responsible_person=responsible_person,
        at=now,
    )
    applications = Application.objects.select_related("medical_institution", "financial_institution").in_bulk(
        [item.application_id for item in chosen]
    )
    residents = residents_of(a.resident_id for a in applications.values())
    expiry = card_expiry(plan)
    cards = []
    for item in chosen:
        application = applications[item.application_id]
        resident = residents[application.resident_id]
        cards.append(
            Card(
                card_no=resident.document_number,
                chip_serial=item.chip_serial,
                resident=resident,
                application=application,
                plan_item=item,
                replaces_id=application.replaces_id,  # a replacement application's card links to the old one
                status=CardStatus.IN_STOCK,
                status_changed_at=now,
                region=plan.region,
                stock_in=stock_in,
                issued_at=item.returned_at,
                expires_on=expiry,
                created_at=now,
            )
        )
    Card.objects.bulk_create(cards, batch_size=1000)
    journal = JournalBatch()
    events_record(
        actor=actor,
        events=[
            Event(
                resident=card.resident,
                kind=CardEventKind.STOCKED_IN,
                card=card,
                application=card.application,
                data={"batch": batch_number, "plan": plan.number},
            )
            for card in cards
        ],
        journal=journal,
    )
    for card in cards:
        card_journal(journal, card)
    audit_record(
        actor=actor,
        action="stock_in.record",
        target=stock_in,
        changes={"plan": plan.number, "quantity": len(chosen)},
    )
    journal.add(
        STOCK_IN_KIND,
        batch_number,
        {
            "batch_number": batch_number,
            "plan": plan.number,
            "region": plan.region_id,
            "quantity": len(chosen),
            "responsible_unit": responsible_unit,
            "responsible_person": responsible_person,
            "at": now.isoformat(),
        },
    )
    journal.flush()
    return stock_in


# --- Stock-out ---------------------------------------------------------------------------------------------


def _actor_prefix(actor: Actor) -> str | None:
    return node_prefix() if actor.user is None else user_scope_prefix(actor.user)


def _serves(card_region: str, institution_region: str) -> bool:
    """A card held at a region may go to an issuing point in that region or below it (city stock to a county
    hospital), or above it (a county's cards to the city's bank branch)."""
    return institution_region.startswith(region_prefix(card_region)) or card_region.startswith(
        region_prefix(institution_region)
    )


@transaction.atomic(durable=True)
def stock_out_record(
    *,
    actor: Actor,
    institution,
    responsible_unit: str,
    responsible_person: str,
    batch_number: str = "",
    cards: list[Card] | None = None,
    count: int | None = None,
    stock_in: StockIn | None = None,
    waybill: str = "",
    courier: str = "",
) -> StockOut:
    """Send cards in stock to an issuing point (a medical institution or a bank branch): the given cards, or
    `count` of the oldest in stock (optionally from one stock-in batch). The cards are dispatched to the
    point and take its region; a shipment (preparing) is opened for the delivery."""
    responsible_unit = _required(responsible_unit, "responsible_unit")
    responsible_person = _required(responsible_person, "responsible_person")
    point = _institution_fields(institution)
    institution = type(institution).objects.get(pk=institution.pk)
    if institution.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(institution)s is deregistered: cards cannot be sent there."),
            {"institution": institution},
            code="institution_inactive",
        )
    check_scope(actor, institution.region_id, institution)
    prefix = _actor_prefix(actor)
    if (cards is None) == (count is None):
        raise DomainError(_("Give either the cards or a number of cards."), code="cards_or_count")
    if cards is not None:
        ids = list(dict.fromkeys(getattr(card, "pk", card) for card in cards))
        found = Card.objects.select_for_update(of=("self",)).in_bulk(ids)
        chosen = []
        for pk in ids:
            card = found.get(pk)
            if card is None or prefix is None or not card.region_id.startswith(prefix):
                raise DomainError(
                    _("%(number)s is outside your region."), {"number": f"#{pk}"}, code="out_of_scope"
                )
            chosen.append(card)
    else:
        if not isinstance(count, int) or count < 1:
            raise DomainError(
                _("The number of cards must be at least 1."), code="count_invalid", detail={"field": "count"}
            )
        code = institution.region_id
        above = {code, code[:4] + "00", code[:2] + "0000"}
        queryset = (
            Card.objects.none() if prefix is None else Card.objects.filter(region__code__startswith=prefix)
        )
        queryset = queryset.filter(status=CardStatus.IN_STOCK).filter(
            Q(region__in=above) | Q(region__code__startswith=region_prefix(code))
        )
        if stock_in is not None:
            queryset = queryset.filter(stock_in=stock_in)
        ids = list(queryset.order_by("id").values_list("id", flat=True)[:count])
        chosen = [
            card
            for card in Card.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("id")
            if card.status == CardStatus.IN_STOCK
        ]
        if len(chosen) < count:
            raise DomainError(
                _("Only %(available)s cards for %(institution)s are in stock; %(count)s were asked for."),
                {"available": len(chosen), "institution": institution, "count": count},
                code="insufficient_stock",
            )
    for card in chosen:
        if not _serves(card.region_id, institution.region_id):
            raise DomainError(
                _("Card %(card)s is held in %(region)s and cannot go to %(institution)s."),
                {"card": card, "region": card.region_id, "institution": institution},
                code="card_region_mismatch",
            )
        transition(card, to=CardStatus.DISPATCHED)  # refuses any card not in stock, naming its state
    batch_number = _batch_number(StockOut, batch_number, "SO", institution.region_id)
    now = timezone.now()
    stock_out = StockOut.objects.create(
        batch_number=batch_number,
        region_id=institution.region_id,
        quantity=len(chosen),
        responsible_unit=responsible_unit,
        responsible_person=responsible_person,
        at=now,
        **point,
    )
    for card in chosen:
        card.stock_out = stock_out
        card.medical_institution = point["medical_institution"]
        card.financial_institution = point["financial_institution"]
        card.region_id = institution.region_id
    bulk_update_values(Card, chosen, CARD_FIELDS_OUT)
    shipment = Shipment.objects.create(
        stock_out=stock_out,
        waybill=(waybill or "").strip(),
        courier=(courier or "").strip(),
        status=SH.PREPARING,
        status_changed_at=now,
    )
    residents = residents_of(card.resident_id for card in chosen)
    journal = JournalBatch()
    events_record(
        actor=actor,
        events=[
            Event(
                resident=residents[card.resident_id],
                kind=CardEventKind.DISPATCHED,
                card=card,
                institution=institution,
                data={"batch": batch_number},
            )
            for card in chosen
        ],
        journal=journal,
    )
    for card in chosen:
        card_journal(journal, card)
    audit_record(
        actor=actor,
        action="stock_out.record",
        target=stock_out,
        changes={"institution": institution.code, "quantity": len(chosen), "shipment": shipment.pk},
    )
    journal.add(STOCK_OUT_KIND, batch_number, _stock_out_payload(stock_out, institution))
    journal.add(SHIPMENT_KIND, batch_number, _shipment_payload(shipment))
    journal.flush()
    return stock_out


def _stock_out_payload(stock_out: StockOut, institution) -> dict:
    return {
        "batch_number": stock_out.batch_number,
        "region": stock_out.region_id,
        "institution_code": institution.code,
        "quantity": stock_out.quantity,
        "responsible_unit": stock_out.responsible_unit,
        "responsible_person": stock_out.responsible_person,
        "at": stock_out.at.isoformat(),
    }


def _shipment_payload(shipment: Shipment) -> dict:
    def when(value):
        return value.isoformat() if value else ""

    return {
        "stock_out": shipment.stock_out.batch_number,
        "status": shipment.status,
        "waybill": shipment.waybill,
        "courier": shipment.courier,
        "responsible_person": shipment.responsible_person,
        "signed_by": shipment.signed_by,
        "shipped_at": when(shipment.shipped_at),
        "delivered_at": when(shipment.delivered_at),
    }


# --- Logistics ---------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def shipment_update(
    *,
    actor: Actor,
    shipment: Shipment,
    status: str = "",
    waybill: str | None = None,
    courier: str | None = None,
    responsible_person: str | None = None,
    signed_by: str | None = None,
) -> Shipment:
    """Record a delivery's progress: waybill, courier, responsible person, and the next status.

    Shipped needs a waybill number or a responsible person; signed for needs who signed. On delivery the
    cards wait for their holders at the issuing point (awaiting collection); a returned delivery puts its
    cards back in stock.
    """
    shipment = (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("stock_out", "stock_out__medical_institution", "stock_out__financial_institution")
        .get(pk=shipment.pk)
    )
    check_scope(actor, shipment.stock_out.region_id, shipment)
    changes: dict[str, list[str]] = {}
    details = {
        "waybill": waybill,
        "courier": courier,
        "responsible_person": responsible_person,
        "signed_by": signed_by,
    }
    for name, value in details.items():
        if value is None:
            continue
        value = value.strip()
        if value != getattr(shipment, name):
            changes[name] = [getattr(shipment, name), value]
            setattr(shipment, name, value)
    moving = bool(status) and status != shipment.status
    if changes and shipment.status in FINAL_SHIPMENT and not moving:
        raise DomainError(
            _("Shipment %(shipment)s is “%(status)s”: it can no longer be changed."),
            {"shipment": shipment, "status": ShipmentStatus(shipment.status).label},
            code="shipment_final",
            detail={"current": shipment.status, "allowed": []},
        )
    fields = list(changes)
    now = timezone.now()
    if moving:
        was = shipment.status
        fields += transition(shipment, to=status)  # names the current state when the move is not allowed
        changes["status"] = [was, status]
        if status == SH.SHIPPED:
            if not (shipment.waybill or shipment.responsible_person):
                raise DomainError(
                    _("A shipment needs a waybill number, or the person who delivers it, to be shipped."),
                    code="waybill_required",
                    detail={"field": "waybill"},
                )
            shipment.shipped_at = now
            fields.append("shipped_at")
        elif status == SH.DELIVERED:
            shipment.delivered_at = now
            fields.append("delivered_at")
        elif status == SH.SIGNED and not shipment.signed_by:
            raise DomainError(
                _("Say who signed for the delivery."),
                code="signed_by_required",
                detail={"field": "signed_by"},
            )
    if not fields:
        return shipment
    shipment.save(update_fields=list(dict.fromkeys(fields)))
    journal = JournalBatch()
    moved = 0
    if moving and status in (SH.DELIVERED, SH.SIGNED):
        moved = _cards_delivered(actor=actor, shipment=shipment, journal=journal)
    elif moving and status == SH.RETURNED:
        moved = _cards_returned(actor=actor, shipment=shipment, journal=journal)
    audit_record(
        actor=actor,
        action="shipment.update",
        target=shipment,
        changes={**changes, **({"cards": moved} if moved else {})},
    )
    journal.add(SHIPMENT_KIND, shipment.stock_out.batch_number, _shipment_payload(shipment))
    journal.flush()
    return shipment


def _shipment_cards(shipment: Shipment, statuses) -> list[Card]:
    return list(
        Card.objects.select_for_update(of=("self",))
        .select_related("medical_institution", "financial_institution", "stock_in")
        .filter(stock_out_id=shipment.stock_out_id, status__in=statuses)
        .order_by("id")
    )


def _cards_delivered(*, actor: Actor, shipment: Shipment, journal: JournalBatch) -> int:
    cards = _shipment_cards(shipment, [CardStatus.DISPATCHED])
    for card in cards:
        transition(card, to=CardStatus.AWAITING_COLLECTION)
    bulk_update_values(Card, cards, ["status", "status_changed_at"])
    residents = residents_of(card.resident_id for card in cards)
    events_record(
        actor=actor,
        events=[
            Event(
                resident=residents[card.resident_id],
                kind=CardEventKind.DELIVERED,
                card=card,
                data={"batch": shipment.stock_out.batch_number, "waybill": shipment.waybill},
            )
            for card in cards
        ],
        journal=journal,
    )
    for card in cards:
        card_journal(journal, card)
    return len(cards)


def _cards_returned(*, actor: Actor, shipment: Shipment, journal: JournalBatch) -> int:
    """Cards of a returned delivery go back to stock, at the region they were stocked in; cards a holder has
    already collected stay with the holder."""
    cards = _shipment_cards(shipment, [CardStatus.DISPATCHED, CardStatus.AWAITING_COLLECTION])
    for card in cards:
        transition(card, to=CardStatus.IN_STOCK)
        card.stock_out = None
        card.medical_institution = card.financial_institution = None
        if card.stock_in is not None:
            card.region_id = card.stock_in.region_id
    bulk_update_values(Card, cards, CARD_FIELDS_OUT)
    residents = residents_of(card.resident_id for card in cards)
    events_record(
        actor=actor,
        events=[
            Event(
                resident=residents[card.resident_id],
                kind=CardEventKind.STOCKED_IN,
                card=card,
                reason=str(_("Delivery returned")),
                data={"returned_from": shipment.stock_out.batch_number, "waybill": shipment.waybill},
            )
            for card in cards
        ],
        journal=journal,
    )
    for card in cards:
        card_journal(journal, card)
    return len(cards)
