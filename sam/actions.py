"""Every write of the sam app: applications, plans up the tiers, stock-in/out with logistics, binding to a
terminal, freeze/unfreeze/cancel (with their blacklist entries) and reported use.

Each action is one durable transaction with its audit row and its journal row(s). Journal kinds, each payload
self-contained (codes and numbers, never local ids) so the tier above can apply it: `sam.application`,
`sam.plan`, `sam.stock_in` and `sam.stock_out` (with the serials they move), `sam.shipment`, `sam.card` (one
SAM's state after a binding, freeze, unfreeze, cancel or use report).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from institutions.choices import OrganisationStatus
from institutions.models import CardMaker, MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import EntryType, ListName, ListReason
from registry.errors import DomainError, require_reason
from registry.journal import journal_append
from registry.lifecycle import transition
from registry.lists import list_add, list_remove, sam_subject
from registry.models import Region
from registry.models.regions import region_level, region_prefix
from registry.scope import user_can_see_region
from sam.choices import (
    PlanLevel,
    SamApplicationStatus,
    SamEventKind,
    SamPlanStatus,
    SamShipmentStatus,
    SamStatus,
    TerminalType,
    UseScenario,
)
from sam.models import Sam, SamApplication, SamEvent, SamPlan, SamShipment, SamStockIn, SamStockOut

A, P, S, SH = SamApplicationStatus, SamPlanStatus, SamStatus, SamShipmentStatus
APPLICATION_KIND, PLAN_KIND, SAM_KIND = "sam.application", "sam.plan", "sam.card"
STOCK_IN_KIND, STOCK_OUT_KIND, SHIPMENT_KIND = "sam.stock_in", "sam.stock_out", "sam.shipment"
# The level a tier's plan has, and the level of the plans it reviews and aggregates.
LEVEL_OF_REGION = {"nation": PlanLevel.MINISTRY, "province": PlanLevel.PROVINCE, "city": PlanLevel.CITY}
CHILD_LEVEL = {PlanLevel.PROVINCE: PlanLevel.CITY, PlanLevel.MINISTRY: PlanLevel.PROVINCE}
REVIEWABLE = (A.APPROVED, A.CUT)
MAX_SERIALS = 10_000


# --- what the actions share ------------------------------------------------------------------------------


def new_number(prefix: str, region_code: str) -> str:
    """A readable, unique number: prefix, region, local date, random tail (e.g. SA610100-20261121-7F3K9Q)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    tail = "".join(secrets.choice(alphabet) for _ in range(6))
    return f"{prefix}{region_code}-{timezone.localdate():%Y%m%d}-{tail}"


def actor_region(actor: Actor) -> Region:
    """The region the actor works for: a person's scope region, else this node's region."""
    user = actor.user
    code = getattr(user, "scope_region_id", None) or settings.HC_REGION
    return Region.objects.get(code=code)


def actor_level(actor: Actor) -> str | None:
    """The plan level of the actor's tier (city, province, ministry); None for a county."""
    return LEVEL_OF_REGION.get(region_level(actor_region(actor).code))


def check_scope(actor: Actor, region_code: str, obj) -> None:
    """A person acts only inside their region; the system (sync, commands) acts for the whole node."""
    if actor.user is not None and not user_can_see_region(actor.user, region_code):
        raise DomainError(_("%(object)s is outside your region."), {"object": obj}, code="out_of_scope")


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


def _decision(decision: str, *, requested: int, approved_quantity: int | None, reason: str):
    """Approve, cut (a smaller quantity, with reason) or reject (with reason): the status, quantity, reason."""
    if decision == "approve":
        return "approved", requested, (reason or "").strip()
    if decision == "cut":
        reason = require_reason(reason)
        if approved_quantity is None or not 0 < approved_quantity < requested:
            raise DomainError(
                _("A cut grants between 1 and %(max)s SAM cards (fewer than the %(requested)s asked for)."),
                {"max": requested - 1, "requested": requested},
                code="bad_cut",
                detail={"field": "approved_quantity"},
            )
        return "cut", approved_quantity, reason
    if decision == "reject":
        return "rejected", 0, require_reason(reason)
    raise DomainError(
        _("The decision must be approve, cut or reject."), code="bad_decision", detail={"field": "decision"}
    )


def _event(sam: Sam, *, kind: str, actor: Actor, reason: str = "", data: dict | None = None) -> SamEvent:
    return SamEvent(
        sam=sam,
        kind=kind,
        at=timezone.now(),
        region_id=sam.region_id,
        institution_id=sam.institution_id,
        scenario=sam.scenario,
        actor_label=actor.display[:150],
        channel=actor.channel,
        reason=reason,
        data=data or {},
    )


def application_payload(application: SamApplication) -> dict:
    return {
        "number": application.number,
        "institution_code": application.institution.code,
        "region": application.region_id,
        "quantity": application.quantity,
        "approved_quantity": application.approved_quantity,
        "terminal_type": application.terminal_type,
        "scenario": application.scenario,
        "purpose": application.purpose,
        "status": application.status,
        "status_reason": application.status_reason,
        "plan": application.plan.number if application.plan_id else "",
        "submitted_at": application.submitted_at.isoformat(),
        "submitted_by": application.submitted_by,
    }


def plan_payload(plan: SamPlan) -> dict:
    if plan.level == PlanLevel.CITY:
        parts = list(plan.applications.order_by("number").values_list("number", flat=True))
    else:
        parts = list(plan.children.order_by("number").values_list("number", flat=True))
    return {
        "number": plan.number,
        "level": plan.level,
        "region": plan.region_id,
        "parent": plan.parent.number if plan.parent_id else "",
        "card_maker": plan.card_maker.code if plan.card_maker_id else "",
        "quantity": plan.quantity,
        "approved_quantity": plan.approved_quantity,
        "status": plan.status,
        "status_reason": plan.status_reason,
        "produced_count": plan.produced_count,
        "failed_count": plan.failed_count,
        "created_at": plan.created_at.isoformat(),
        "note": plan.note,
        "parts": parts,
    }


def sam_payload(sam: Sam) -> dict:
    return {
        "serial": sam.serial,
        "status": sam.status,
        "status_reason": sam.status_reason,
        "region": sam.region_id,
        "institution_code": sam.institution.code if sam.institution_id else "",
        "terminal_type": sam.terminal_type,
        "terminal_number": sam.terminal_number,
        "scenario": sam.scenario,
        "bound_at": sam.bound_at.isoformat() if sam.bound_at else "",
        "use_count": sam.use_count,
        "last_used_at": sam.last_used_at.isoformat() if sam.last_used_at else "",
        "plan": sam.plan.number if sam.plan_id else "",
        "stock_in": sam.stock_in.batch_number,
        "changed_at": (sam.status_changed_at or sam.created_at).isoformat(),
    }


def journal_application(application: SamApplication) -> None:
    journal_append(kind=APPLICATION_KIND, key=application.number, payload=application_payload(application))


def journal_plan(plan: SamPlan) -> None:
    journal_append(kind=PLAN_KIND, key=plan.number, payload=plan_payload(plan))


def journal_sam(sam: Sam) -> None:
    journal_append(kind=SAM_KIND, key=sam.serial, payload=sam_payload(sam))


# --- applications (申领登记) ---------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def sam_application_submit(
    *,
    actor: Actor,
    institution: MedicalInstitution,
    quantity: int,
    terminal_type: str,
    scenario: str,
    purpose: str = "",
) -> SamApplication:
    """An institution applies, through its city centre, for `quantity` SAM cards for stated terminals/uses."""
    check_scope(actor, institution.region_id, institution)
    if institution.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(institution)s is deregistered and cannot apply for SAM cards."),
            {"institution": institution},
            code="institution_inactive",
        )
    if not isinstance(quantity, int) or quantity < 1:
        raise DomainError(
            _("The quantity must be at least 1."), code="bad_quantity", detail={"field": "quantity"}
        )
    if terminal_type not in TerminalType.values:
        raise DomainError(
            _("Unknown terminal type."), code="bad_terminal_type", detail={"field": "terminal_type"}
        )
    if scenario not in UseScenario.values:
        raise DomainError(_("Unknown use scenario."), code="bad_scenario", detail={"field": "scenario"})
    now = timezone.now()
    application = SamApplication.objects.create(
        number=new_number("SA", institution.region_id),
        institution=institution,
        region_id=institution.region_id,
        quantity=quantity,
        terminal_type=terminal_type,
        scenario=scenario,
        purpose=(purpose or "").strip()[:200],
        status_changed_at=now,
        submitted_at=now,
        submitted_by=actor.display[:150],
    )
    audit_record(
        actor=actor, action="sam_application.submit", target=application, changes={"quantity": quantity}
    )
    journal_application(application)
    return application


@transaction.atomic(durable=True)
def sam_application_review(
    *,
    actor: Actor,
    application: SamApplication,
    decision: str,
    approved_quantity: int | None = None,
    reason: str = "",
) -> SamApplication:
    """The city centre approves, cuts (grants fewer, with reason) or rejects (with reason) an application."""
    application = (
        SamApplication.objects.select_for_update(of=("self",))
        .select_related("institution")
        .get(pk=application.pk)
    )
    check_scope(actor, application.region_id, application)
    if actor.user is not None and actor_level(actor) != PlanLevel.CITY:
        raise DomainError(_("SAM applications are reviewed by their city centre."), code="wrong_tier")
    status, granted, reason = _decision(
        decision, requested=application.quantity, approved_quantity=approved_quantity, reason=reason
    )
    fields = transition(application, to=status)
    application.approved_quantity = granted
    application.status_reason = reason[:200]
    application.save(update_fields=[*fields, "approved_quantity", "status_reason"])
    audit_record(
        actor=actor,
        action=f"sam_application.{decision}",
        target=application,
        reason=reason,
        changes={"approved_quantity": granted},
    )
    journal_application(application)
    return application


# --- plans up the tiers (计划管理) ----------------------------------------------------------------------------


@transaction.atomic(durable=True)
def sam_plan_aggregate(
    *, actor: Actor, card_maker: CardMaker | None = None, note: str = "", region: Region | None = None
) -> SamPlan:
    """Aggregate what the tier below sent into this tier's plan.

    A city takes its institutions' approved (or cut) applications not yet planned; a province its cities'
    approved (or cut) reported plans; the ministry its provinces', into the production plan for `card_maker`.
    """
    region = region or actor_region(actor)
    check_scope(actor, region.code, region)
    level = LEVEL_OF_REGION.get(region_level(region.code))
    if level is None:
        raise DomainError(
            _("SAM plans are made by city, province and ministry centres, not by a county."),
            code="wrong_tier",
        )
    prefix = region_prefix(region.code)
    if level == PlanLevel.MINISTRY:
        if card_maker is None:
            raise DomainError(
                _("Choose the card maker that produces the SAM cards."),
                code="card_maker_required",
                detail={"field": "card_maker"},
            )
        if card_maker.status != OrganisationStatus.ACTIVE:
            raise DomainError(
                _("%(maker)s is deregistered."), {"maker": card_maker}, code="card_maker_inactive"
            )
    now = timezone.now()
    plan = SamPlan(
        number=new_number({"city": "SPC", "province": "SPP", "ministry": "SPM"}[level], region.code),
        level=level,
        region=region,
        card_maker=card_maker if level == PlanLevel.MINISTRY else None,
        quantity=0,
        status_changed_at=now,
        created_at=now,
        created_by=actor.user,
        note=(note or "").strip()[:200],
    )
    if level == PlanLevel.CITY:
        parts = list(
            SamApplication.objects.select_for_update()
            .filter(region__code__startswith=prefix, status__in=REVIEWABLE, plan__isnull=True)
            .order_by("submitted_at")
        )
    else:
        parts = list(
            SamPlan.objects.select_for_update()
            .filter(
                region__code__startswith=prefix,
                level=CHILD_LEVEL[level],
                status__in=(P.APPROVED, P.CUT),
                parent__isnull=True,
            )
            .order_by("created_at")
        )
    if not parts:
        raise DomainError(
            _("Nothing to aggregate: no approved applications or reported plans wait in %(region)s."),
            {"region": region.full_name},
            code="nothing_to_aggregate",
        )
    plan.quantity = sum(part.granted for part in parts)
    plan.save()
    if level == PlanLevel.CITY:
        for application in parts:
            transition(application, to=A.PLANNED)
            application.plan = plan
        SamApplication.objects.bulk_update(parts, ["status", "status_changed_at", "plan"])
        for application in parts:
            journal_application(application)
    else:
        SamPlan.objects.filter(pk__in=[p.pk for p in parts]).update(parent=plan)
        for child in parts:
            child.parent = plan
            journal_plan(child)
    audit_record(
        actor=actor,
        action="sam_plan.aggregate",
        target=plan,
        changes={"quantity": plan.quantity, "parts": len(parts)},
    )
    journal_plan(plan)
    return plan


def _locked_plan(actor: Actor, plan: SamPlan) -> SamPlan:
    plan = (
        SamPlan.objects.select_for_update(of=("self",))
        .select_related("region", "parent", "card_maker")
        .get(pk=plan.pk)
    )
    check_scope(actor, plan.region_id, plan)
    return plan


@transaction.atomic(durable=True)
def sam_plan_report(*, actor: Actor, plan: SamPlan) -> SamPlan:
    """A city or province reports its plan to the tier above."""
    plan = _locked_plan(actor, plan)
    if plan.level == PlanLevel.MINISTRY:
        raise DomainError(
            _("The ministry's plan goes to the card maker; it is not reported."), code="not_reported"
        )
    plan.save(update_fields=transition(plan, to=P.REPORTED))
    audit_record(actor=actor, action="sam_plan.report", target=plan)
    journal_plan(plan)
    return plan


@transaction.atomic(durable=True)
def sam_plan_review(
    *,
    actor: Actor,
    plan: SamPlan,
    decision: str,
    approved_quantity: int | None = None,
    reason: str = "",
) -> SamPlan:
    """The tier above approves, cuts (with reason) or rejects (with reason) a reported plan."""
    plan = _locked_plan(actor, plan)
    reviewer = (
        actor_level(actor)
        if actor.user is not None
        else LEVEL_OF_REGION.get(region_level(settings.HC_REGION))
    )
    if CHILD_LEVEL.get(reviewer) != plan.level:
        raise DomainError(
            _("Plan %(number)s is reviewed by the tier directly above the one that reported it."),
            {"number": plan.number},
            code="wrong_tier",
        )
    status, granted, reason = _decision(
        decision, requested=plan.quantity, approved_quantity=approved_quantity, reason=reason
    )
    fields = transition(plan, to=status)
    plan.approved_quantity = granted
    plan.status_reason = reason[:200]
    plan.save(update_fields=[*fields, "approved_quantity", "status_reason"])
    audit_record(
        actor=actor,
        action=f"sam_plan.{decision}",
        target=plan,
        reason=reason,
        changes={"approved_quantity": granted},
    )
    journal_plan(plan)
    return plan


@transaction.atomic(durable=True)
def sam_plan_start(*, actor: Actor, plan: SamPlan) -> SamPlan:
    """The ministry sends its production plan to the card maker."""
    plan = _locked_plan(actor, plan)
    if plan.level != PlanLevel.MINISTRY:
        raise DomainError(
            _("Only the ministry's production plan goes to a card maker."), code="not_production_plan"
        )
    plan.save(update_fields=transition(plan, to=P.IN_PRODUCTION))
    audit_record(
        actor=actor, action="sam_plan.start", target=plan, changes={"card_maker": plan.card_maker.code}
    )
    journal_plan(plan)
    return plan


@transaction.atomic(durable=True)
def sam_plan_complete(*, actor: Actor, plan: SamPlan, failed: int = 0) -> SamPlan:
    """Production is over: the maker's failed count is recorded (the produced ones were stocked in)."""
    plan = _locked_plan(actor, plan)
    if failed < 0:
        raise DomainError(_("The failed count cannot be negative."), code="bad_quantity")
    fields = transition(plan, to=P.COMPLETED)
    plan.failed_count = failed
    plan.save(update_fields=[*fields, "failed_count"])
    audit_record(actor=actor, action="sam_plan.complete", target=plan, changes={"failed": failed})
    journal_plan(plan)
    return plan


# --- stock (入库 / 出库) and logistics ------------------------------------------------------------------------


def _serials(serials) -> list[str]:
    cleaned = list(dict.fromkeys(s.strip().upper() for s in serials if s and s.strip()))
    if not cleaned:
        raise DomainError(_("Give the SAM serial numbers."), code="required", detail={"field": "serials"})
    if len(cleaned) > MAX_SERIALS:
        raise DomainError(
            _("At most %(max)s SAM cards per batch."), {"max": MAX_SERIALS}, code="batch_too_large"
        )
    return cleaned


@transaction.atomic(durable=True)
def sam_stock_in(
    *,
    actor: Actor,
    serials: list[str],
    responsible_unit: str,
    responsible_person: str,
    plan: SamPlan | None = None,
    batch_number: str = "",
    quantity: int | None = None,
) -> SamStockIn:
    """Stock in produced SAMs (batch, quantity, serials, responsible unit and person), at the actor's region.

    With a production plan (in production), the SAMs count as produced under it.
    """
    responsible_unit = _required(responsible_unit, "responsible_unit")
    responsible_person = _required(responsible_person, "responsible_person")
    serials = _serials(serials)
    if quantity is not None and quantity != len(serials):
        raise DomainError(
            _("The batch counts %(quantity)s SAM cards but %(count)s serial numbers were given."),
            {"quantity": quantity, "count": len(serials)},
            code="quantity_mismatch",
            detail={"field": "quantity", "expected": len(serials)},
        )
    region = actor_region(actor)
    if plan is not None:
        plan = _locked_plan(actor, plan)
        if plan.status != P.IN_PRODUCTION:
            raise DomainError(
                _("Plan %(number)s is “%(status)s”: only SAMs of a plan in production are stocked in."),
                {"number": plan.number, "status": plan.get_status_display()},
                code="plan_not_in_production",
                detail={"current": plan.status, "allowed": [P.IN_PRODUCTION.value]},
            )
        region = plan.region
    known = list(Sam.objects.filter(serial__in=serials).values_list("serial", flat=True)[:20])
    if known:
        raise DomainError(
            _("These SAM serial numbers are already registered: %(serials)s"),
            {"serials": ", ".join(known)},
            code="duplicate_serial",
            detail={"serials": known},
        )
    now = timezone.now()
    stock_in = SamStockIn.objects.create(
        batch_number=_batch_number(SamStockIn, batch_number, "SSI", region.code),
        plan=plan,
        region=region,
        quantity=len(serials),
        responsible_unit=responsible_unit,
        responsible_person=responsible_person,
        at=now,
    )
    sams = Sam.objects.bulk_create(
        [
            Sam(
                serial=serial,
                region=region,
                plan=plan,
                stock_in=stock_in,
                status_changed_at=now,
                created_at=now,
            )
            for serial in serials
        ],
        batch_size=1000,
    )
    if not all(sam.pk for sam in sams):  # backends without RETURNING ids
        sams = list(Sam.objects.filter(stock_in=stock_in))
    SamEvent.objects.bulk_create(
        [
            _event(sam, kind=SamEventKind.STOCKED_IN, actor=actor, data={"batch": stock_in.batch_number})
            for sam in sams
        ],
        batch_size=1000,
    )
    if plan is not None:
        SamPlan.objects.filter(pk=plan.pk).update(produced_count=F("produced_count") + len(serials))
        plan.refresh_from_db(fields=["produced_count"])
        journal_plan(plan)
    audit_record(
        actor=actor,
        action="sam_stock_in.record",
        target=stock_in,
        changes={"plan": plan.number if plan else "", "quantity": len(serials)},
    )
    journal_append(
        kind=STOCK_IN_KIND,
        key=stock_in.batch_number,
        payload={
            "batch_number": stock_in.batch_number,
            "plan": plan.number if plan else "",
            "region": region.code,
            "quantity": len(serials),
            "responsible_unit": responsible_unit,
            "responsible_person": responsible_person,
            "at": now.isoformat(),
            "serials": serials,
        },
    )
    return stock_in


@transaction.atomic(durable=True)
def sam_stock_out(
    *,
    actor: Actor,
    serials: list[str],
    responsible_unit: str,
    responsible_person: str,
    region: Region | None = None,
    institution: MedicalInstitution | None = None,
    batch_number: str = "",
    quantity: int | None = None,
    waybill: str = "",
    courier: str = "",
) -> SamStockOut:
    """Send SAMs held at the actor's region one step down: to a region below (ministry -> province -> city),
    or to the medical institution that will use them (the SAMs are then in use there)."""
    responsible_unit = _required(responsible_unit, "responsible_unit")
    responsible_person = _required(responsible_person, "responsible_person")
    serials = _serials(serials)
    if quantity is not None and quantity != len(serials):
        raise DomainError(
            _("The batch counts %(quantity)s SAM cards but %(count)s serial numbers were given."),
            {"quantity": quantity, "count": len(serials)},
            code="quantity_mismatch",
            detail={"field": "quantity", "expected": len(serials)},
        )
    if (region is None) == (institution is None):
        raise DomainError(
            _("Send the SAM cards either to a region below or to a medical institution."),
            code="destination_required",
        )
    source = actor_region(actor)
    prefix = region_prefix(source.code)
    if institution is not None:
        if institution.status != OrganisationStatus.ACTIVE:
            raise DomainError(
                _("%(institution)s is deregistered."),
                {"institution": institution},
                code="institution_inactive",
            )
        destination_code = institution.region_id
    else:
        destination_code = region.code
    if destination_code == source.code and institution is None or not destination_code.startswith(prefix):
        raise DomainError(
            _("SAM cards go down from %(source)s to a region below it."),
            {"source": source.full_name},
            code="bad_destination",
        )
    sams = list(Sam.objects.select_for_update().filter(serial__in=serials).order_by("serial"))
    found = {sam.serial: sam for sam in sams}
    missing = [s for s in serials if s not in found]
    if missing:
        raise DomainError(
            _("Unknown SAM serial numbers: %(serials)s"),
            {"serials": ", ".join(missing[:20])},
            code="unknown_serial",
        )
    elsewhere = [sam.serial for sam in sams if sam.status != S.IN_STOCK or sam.region_id != source.code]
    if elsewhere:
        raise DomainError(
            _("These SAM cards are not in stock at %(source)s: %(serials)s"),
            {"source": source.full_name, "serials": ", ".join(elsewhere[:20])},
            code="not_in_stock",
            detail={"serials": elsewhere[:100]},
        )
    now = timezone.now()
    stock_out = SamStockOut.objects.create(
        batch_number=_batch_number(SamStockOut, batch_number, "SSO", source.code),
        from_region=source,
        region_id=destination_code,
        institution=institution,
        quantity=len(sams),
        responsible_unit=responsible_unit,
        responsible_person=responsible_person,
        at=now,
    )
    shipment = SamShipment.objects.create(
        stock_out=stock_out,
        waybill=(waybill or "").strip(),
        courier=(courier or "").strip(),
        status_changed_at=now,
    )
    for sam in sams:
        sam.region_id = destination_code
        sam.stock_out = stock_out
        if institution is not None:
            sam.institution = institution
            transition(sam, to=S.ISSUED)
    Sam.objects.bulk_update(
        sams, ["region", "stock_out", "institution", "status", "status_changed_at"], batch_size=1000
    )
    SamEvent.objects.bulk_create(
        [
            _event(sam, kind=SamEventKind.STOCKED_OUT, actor=actor, data={"batch": stock_out.batch_number})
            for sam in sams
        ],
        batch_size=1000,
    )
    audit_record(
        actor=actor,
        action="sam_stock_out.record",
        target=stock_out,
        changes={
            "to": destination_code,
            "institution": institution.code if institution else "",
            "quantity": len(sams),
        },
    )
    journal_append(
        kind=STOCK_OUT_KIND,
        key=stock_out.batch_number,
        payload={
            "batch_number": stock_out.batch_number,
            "from_region": source.code,
            "region": destination_code,
            "institution_code": institution.code if institution else "",
            "quantity": len(sams),
            "responsible_unit": responsible_unit,
            "responsible_person": responsible_person,
            "at": now.isoformat(),
            "serials": [sam.serial for sam in sams],
        },
    )
    _journal_shipment(shipment)
    return stock_out


def _journal_shipment(shipment: SamShipment) -> None:
    journal_append(
        kind=SHIPMENT_KIND,
        key=shipment.stock_out.batch_number,
        payload={
            "stock_out": shipment.stock_out.batch_number,
            "waybill": shipment.waybill,
            "courier": shipment.courier,
            "status": shipment.status,
            "signed_by": shipment.signed_by,
            "signed_at": shipment.signed_at.isoformat() if shipment.signed_at else "",
        },
    )


@transaction.atomic(durable=True)
def sam_shipment_update(
    *,
    actor: Actor,
    shipment: SamShipment,
    status: str = "",
    waybill: str | None = None,
    courier: str | None = None,
    signed_by: str | None = None,
) -> SamShipment:
    """Record the delivery: waybill, courier, status (shipped, delivered, signed for, returned)."""
    shipment = (
        SamShipment.objects.select_for_update(of=("self",)).select_related("stock_out").get(pk=shipment.pk)
    )
    stock_out = shipment.stock_out
    if actor.user is not None and not (
        user_can_see_region(actor.user, stock_out.from_region_id)
        or user_can_see_region(actor.user, stock_out.region_id)
    ):
        raise DomainError(_("%(object)s is outside your region."), {"object": shipment}, code="out_of_scope")
    fields = []
    for name, value in (("waybill", waybill), ("courier", courier)):
        if value is not None and value.strip() != getattr(shipment, name):
            setattr(shipment, name, value.strip())
            fields.append(name)
    if status and status != shipment.status:
        fields += transition(shipment, to=status)
        if status == SH.SIGNED:
            shipment.signed_by = _required(signed_by or "", "signed_by")
            shipment.signed_at = timezone.now()
            fields += ["signed_by", "signed_at"]
    if not fields:
        return shipment
    shipment.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="sam_shipment.update",
        target=shipment,
        region_code=stock_out.region_id,
        changes={name: str(getattr(shipment, name)) for name in fields},
    )
    _journal_shipment(shipment)
    return shipment


# --- binding, maintenance, use ---------------------------------------------------------------------------


def _locked_sam(actor: Actor, sam: Sam) -> Sam:
    sam = (
        Sam.objects.select_for_update(of=("self",))
        .select_related("institution", "stock_in", "plan")
        .get(pk=sam.pk)
    )
    check_scope(actor, sam.region_id, sam)
    return sam


@transaction.atomic(durable=True)
def sam_bind(*, actor: Actor, sam: Sam, terminal_type: str, terminal_number: str, scenario: str = "") -> Sam:
    """The city records the terminal (type and number) an institution's SAM sits in, and what it is used for."""
    sam = _locked_sam(actor, sam)
    terminal_number = _required(terminal_number, "terminal_number")
    if terminal_type not in TerminalType.values:
        raise DomainError(
            _("Unknown terminal type."), code="bad_terminal_type", detail={"field": "terminal_type"}
        )
    if scenario and scenario not in UseScenario.values:
        raise DomainError(_("Unknown use scenario."), code="bad_scenario", detail={"field": "scenario"})
    if sam.status != S.ISSUED:
        raise DomainError(
            _("SAM %(serial)s is “%(status)s”: only a SAM in use at an institution is bound to a terminal."),
            {"serial": sam.serial, "status": sam.get_status_display()},
            code="not_issued",
            detail={"current": sam.status, "allowed": [S.ISSUED.value]},
        )
    taken = (
        Sam.objects.filter(institution_id=sam.institution_id, terminal_number=terminal_number)
        .exclude(pk=sam.pk)
        .exclude(status=S.CANCELLED)
        .first()
    )
    if taken is not None:
        raise DomainError(
            _("Terminal %(terminal)s already holds SAM %(serial)s; unbind or cancel that one first."),
            {"terminal": terminal_number, "serial": taken.serial},
            code="terminal_taken",
        )
    sam.terminal_type, sam.terminal_number = terminal_type, terminal_number
    sam.scenario = scenario or sam.scenario
    sam.bound_at = timezone.now()
    sam.save(update_fields=["terminal_type", "terminal_number", "scenario", "bound_at"])
    _event(
        sam,
        kind=SamEventKind.BOUND,
        actor=actor,
        data={"terminal_type": terminal_type, "terminal_number": terminal_number},
    ).save()
    audit_record(
        actor=actor,
        action="sam.bind",
        target=sam,
        changes={
            "terminal_type": terminal_type,
            "terminal_number": terminal_number,
            "scenario": sam.scenario,
        },
    )
    journal_sam(sam)
    return sam


@transaction.atomic(durable=True)
def sam_unbind(*, actor: Actor, sam: Sam, reason: str) -> Sam:
    """Take a SAM out of its terminal (the terminal was replaced or retired)."""
    reason = require_reason(reason)
    sam = _locked_sam(actor, sam)
    if not sam.terminal_number:
        raise DomainError(
            _("SAM %(serial)s is not bound to a terminal."), {"serial": sam.serial}, code="not_bound"
        )
    old = {"terminal_type": sam.terminal_type, "terminal_number": sam.terminal_number}
    sam.terminal_type, sam.terminal_number, sam.bound_at = "", "", None
    sam.save(update_fields=["terminal_type", "terminal_number", "bound_at"])
    _event(sam, kind=SamEventKind.UNBOUND, actor=actor, reason=reason, data=old).save()
    audit_record(actor=actor, action="sam.unbind", target=sam, reason=reason, changes=old)
    journal_sam(sam)
    return sam


def _status_change(*, actor: Actor, sam: Sam, to: str, kind: str, reason: str, action: str) -> Sam:
    reason = require_reason(reason)
    sam = _locked_sam(actor, sam)
    fields = transition(sam, to=to)
    sam.status_reason = reason[:200]
    sam.save(update_fields=[*fields, "status_reason"])
    _event(sam, kind=kind, actor=actor, reason=reason).save()
    audit_record(actor=actor, action=action, target=sam, reason=reason)
    blacklist_update(actor=actor, sam=sam, reason=reason)
    journal_sam(sam)
    return sam


@transaction.atomic(durable=True)
def sam_freeze(*, actor: Actor, sam: Sam, reason: str) -> Sam:
    """Temporarily stop a SAM (临时停用): it goes on the blacklist until unfrozen."""
    return _status_change(
        actor=actor, sam=sam, to=S.FROZEN, kind=SamEventKind.FROZEN, reason=reason, action="sam.freeze"
    )


@transaction.atomic(durable=True)
def sam_unfreeze(*, actor: Actor, sam: Sam, reason: str) -> Sam:
    """Put a frozen SAM back in use: its blacklist hold is removed."""
    return _status_change(
        actor=actor, sam=sam, to=S.ISSUED, kind=SamEventKind.UNFROZEN, reason=reason, action="sam.unfreeze"
    )


@transaction.atomic(durable=True)
def sam_cancel(*, actor: Actor, sam: Sam, reason: str) -> Sam:
    """Cancel a SAM (注销) for good: it stays on the blacklist."""
    return _status_change(
        actor=actor, sam=sam, to=S.CANCELLED, kind=SamEventKind.CANCELLED, reason=reason, action="sam.cancel"
    )


LIST_REASON = {S.FROZEN: ListReason.SAM_FROZEN, S.CANCELLED: ListReason.SAM_CANCELLED}


def blacklist_update(*, actor: Actor, sam: Sam, reason: str) -> None:
    """The SAM's entry on registry's one numbered list follows its status: frozen is a reversible hold,
    cancelled a permanent entry (replacing the hold under one new number), back in use takes the hold off."""
    subject = sam_subject(sam.serial)
    if sam.status in LIST_REASON:
        list_add(
            list_name=ListName.BLACKLIST,
            entry_type=EntryType.SAM,
            subject=subject,
            reason=LIST_REASON[sam.status],
            region_code=sam.region_id,
            label=f"SAM {sam.serial}",
            object_ref=f"sam.sam:{sam.pk}",
            actor=actor,
            note=reason,
        )
    else:
        list_remove(list_name=ListName.BLACKLIST, subject=subject, actor=actor, note=reason)


@transaction.atomic(durable=True)
def sam_use_report(*, actor: Actor, sam: Sam, count: int, at=None) -> Sam:
    """A terminal reports how often its SAM was used (a day's count), for the use-frequency figures."""
    sam = _locked_sam(actor, sam)
    if count < 1:
        raise DomainError(_("The count must be at least 1."), code="bad_quantity", detail={"field": "count"})
    if sam.status != S.ISSUED:
        raise DomainError(
            _("SAM %(serial)s is “%(status)s” and cannot be used."),
            {"serial": sam.serial, "status": sam.get_status_display()},
            code="not_issued",
        )
    sam.use_count += count
    sam.last_used_at = at or timezone.now()
    sam.save(update_fields=["use_count", "last_used_at"])
    audit_record(actor=actor, action="sam.use_report", target=sam, changes={"count": count})
    journal_sam(sam)
    return sam
