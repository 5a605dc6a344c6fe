"""Production plans (制卡计划): generate from approved applications, submit, start, close; the card maker's
personalisation file (download, audited) and return file (chip serial or failure per card).

A plan holds up to thousands of applications, so the per-application writes (plan items, status changes,
case-history events, journal rows) are bulk statements with one range of journal numbers taken last, as
institutions' import batch does. The payloads are those of cards.actions.common (record_event, journal_card,
journal_application), built here row by row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.common import (
    APPLICATION_KIND,
    CARD_KIND,
    EVENT_KIND,
    institution_of,
    new_number,
)
from cards.choices import (
    ApplicationChannel,
    ApplicationStatus,
    CardEventKind,
    PlanItemStatus,
    PlanStatus,
)
from cards.models import Application, Card, CardEvent, PlanItem, ProductionPlan, Resident
from cards.personalisation import (
    CHIP_SERIAL_RE,
    PersonalisationFile,
    build_personalisation_file,
    card_expiry,
    card_record,
    issuer_of,
    parse_result,
)
from institutions.choices import OrganisationStatus
from institutions.models import CardMaker
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import JournalOp
from registry.errors import DomainError, PermissionDeniedError, require_reason
from registry.imports import bulk_update_values
from registry.journal import JOURNAL_COUNTER, counter_take
from registry.lifecycle import transition
from registry.models import JournalEntry, Region
from registry.models.regions import region_prefix
from registry.protection import blind_index, seal_payload
from registry.scope import user_can_see_region

S, P = ApplicationStatus, PlanStatus
PLAN_KIND = "cards.plan"
# Approved applications wait for a plan; failed ones (the maker could not make the card) are planned again.
PLANNABLE = (S.APPROVED, S.FAILED)
MAX_PLAN_SIZE = 50_000
FILE_STATUSES = (P.SUBMITTED, P.IN_PRODUCTION)
RETURN_STATUSES = (P.IN_PRODUCTION, P.COMPLETED)
CHUNK = 1000


# --- Bulk writing: journal rows, case-history events ----------------------------------------------------


class JournalBatch:
    """Journal rows collected during an action, written at its end with one range of numbers.

    Taken last, so the journal counter (which serialises the node's journaled writes) is held briefly.
    """

    def __init__(self):
        self.rows: list[tuple[str, str, dict]] = []

    def add(self, kind: str, key, payload: dict) -> None:
        self.rows.append((kind, str(key), payload))

    def flush(self) -> None:
        if not self.rows:
            return
        now = timezone.now()
        first = counter_take(JOURNAL_COUNTER, len(self.rows))
        JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    seq=first + offset,
                    kind=kind,
                    key=key,
                    op=JournalOp.UPSERT,
                    payload=payload,
                    origin_node=settings.HC_REGION,
                    origin_seq=first + offset,
                    created_at=now,
                )
                for offset, (kind, key, payload) in enumerate(self.rows)
            ],
            batch_size=CHUNK,
        )
        self.rows.clear()


@dataclass
class Event:
    """One case-history line to record in bulk (the arguments of common.record_event)."""

    resident: Resident
    kind: str
    application: Application | None = None
    card: Card | None = None
    institution: object = None
    reason: str = ""
    data: dict = field(default_factory=dict)


def events_record(*, actor: Actor, events: list[Event], journal: JournalBatch) -> list[CardEvent]:
    """common.record_event for many lines: one bulk insert, the journal rows added to `journal`."""
    now = timezone.now()
    rows = []
    for event in events:
        card, application = event.card, event.application
        institution = event.institution or institution_of(card) or institution_of(application)
        if card is not None:
            region_id = card.region_id
        elif application is not None:
            region_id = application.region_id
        else:
            region_id = event.resident.region_id
        rows.append(
            CardEvent(
                resident_id=event.resident.pk,
                card=card,
                application=application,
                kind=event.kind,
                at=now,
                user=actor.user,
                actor_label=actor.display[:150],
                channel=actor.channel,
                institution_code=getattr(institution, "code", ""),
                institution_name=getattr(institution, "name", ""),
                region_id=region_id,
                reason=event.reason[:200],
                data=event.data,
            )
        )
    CardEvent.objects.bulk_create(rows, batch_size=CHUNK)
    for event, row in zip(events, rows, strict=True):
        journal.add(EVENT_KIND, row.pk, event_payload(row, event))
    return rows


def event_payload(row: CardEvent, event: Event) -> dict:
    resident, card, application = event.resident, event.card, event.application
    return seal_payload(
        {
            "kind": row.kind,
            "at": row.at.isoformat(),
            "holder_document_type": resident.document_type,
            "holder_document": resident.document_number,
            "card_no": card.card_no if card else "",
            "chip_serial": card.chip_serial if card else "",
            "application": application.number if application else "",
            "actor": row.actor_label,
            "channel": row.channel,
            "institution_code": row.institution_code,
            "region": row.region_id,
            "reason": row.reason,
            "data": row.data,
        },
        ("card_no", "holder_document"),
    )


def application_journal(journal: JournalBatch, application: Application, resident: Resident) -> None:
    """common.journal_application, into a batch (the application's service point and batch preloaded)."""
    journal.add(
        APPLICATION_KIND,
        application.number,
        seal_payload(
            {
                "number": application.number,
                "holder_document_type": resident.document_type,
                "holder_document": resident.document_number,
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


def card_journal(journal: JournalBatch, card: Card) -> None:
    """common.journal_card, into a batch (the card's issuing point preloaded)."""
    journal.add(
        CARD_KIND,
        f"{card.card_index}:{card.chip_serial}",
        seal_payload(
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


def residents_of(resident_ids) -> dict[int, Resident]:
    """Holders with only what events and journal rows need (no other personal field is decrypted)."""
    return Resident.objects.only("id", "document_type", "document_number", "region_id").in_bulk(
        list(set(resident_ids))
    )


def applications_locked(ids) -> list[Application]:
    return list(
        Application.objects.select_for_update(of=("self",))
        .select_related("batch", "medical_institution", "financial_institution")
        .filter(pk__in=list(ids))
        .order_by("id")
    )


# --- Scope and plan helpers --------------------------------------------------------------------------------


def check_scope(actor: Actor, region_code: str, obj) -> None:
    """A person acts only inside their region; the system (sync, commands) acts for the whole node."""
    if actor.user is not None and not user_can_see_region(actor.user, region_code):
        raise DomainError(_("%(number)s is outside your region."), {"number": obj}, code="out_of_scope")


def plan_payload(plan: ProductionPlan) -> dict:
    return {
        "number": plan.number,
        "card_maker": plan.card_maker.code,
        "region": plan.region_id,
        "status": plan.status,
        "size_cap": plan.size_cap,
        "item_count": plan.item_count,
        "produced_count": plan.produced_count,
        "failed_count": plan.failed_count,
        "created_at": plan.created_at.isoformat(),
    }


def _locked_plan(actor: Actor, plan: ProductionPlan) -> ProductionPlan:
    plan = (
        ProductionPlan.objects.select_for_update(of=("self",))
        .select_related("card_maker", "region")
        .get(pk=plan.pk)
    )
    check_scope(actor, plan.region_id, plan)
    return plan


def _check_maker(maker: CardMaker) -> None:
    if maker.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(maker)s is deregistered: choose an active card maker."),
            {"maker": maker},
            code="card_maker_inactive",
            detail={"field": "card_maker"},
        )


def _state_error(plan: ProductionPlan, message, allowed, code: str) -> DomainError:
    return DomainError(
        message,
        {"number": plan.number, "status": PlanStatus(plan.status).label},
        code=code,
        detail={"current": plan.status, "allowed": [str(state) for state in allowed]},
    )


# --- Plans -------------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def plan_generate(
    *,
    actor: Actor,
    card_maker: CardMaker,
    region: Region,
    size_cap: int = 5000,
    channel: str = "",
    note: str = "",
) -> ProductionPlan:
    """A draft plan of the oldest approved (or failed, to be made again) applications in `region`, up to
    `size_cap`. On-site applications are personalised at the counter and never planned."""
    check_scope(actor, region.code, region)
    maker = CardMaker.objects.get(pk=card_maker.pk)
    _check_maker(maker)
    if not isinstance(size_cap, int) or not 1 <= size_cap <= MAX_PLAN_SIZE:
        raise DomainError(
            _("The size cap must be between 1 and %(max)s."),
            {"max": MAX_PLAN_SIZE},
            code="size_cap_invalid",
            detail={"field": "size_cap"},
        )
    if channel and (channel not in ApplicationChannel.values or channel == ApplicationChannel.ONSITE):
        raise DomainError(
            _("Unknown channel %(value)s."),
            {"value": channel},
            code="invalid_channel",
            detail={"field": "channel"},
        )
    candidates = Application.objects.filter(
        status__in=PLANNABLE, region__code__startswith=region_prefix(region.code)
    ).exclude(channel=ApplicationChannel.ONSITE)
    if channel:
        candidates = candidates.filter(channel=channel)
    ids = list(candidates.order_by("submitted_at", "id").values_list("id", flat=True)[:size_cap])
    applications = [a for a in applications_locked(ids) if a.status in PLANNABLE]  # re-read under the lock
    if not applications:
        raise DomainError(
            _("No approved applications in %(region)s are waiting for a plan."),
            {"region": region},
            code="nothing_to_plan",
        )
    applications.sort(key=lambda a: (a.submitted_at, a.pk))
    now = timezone.now()
    plan = ProductionPlan.objects.create(
        number=new_number("P", region.code),
        card_maker=maker,
        region=region,
        status=P.DRAFT,
        status_changed_at=now,
        size_cap=size_cap,
        created_at=now,
        created_by=actor.user,
        note=note,
        item_count=len(applications),
    )
    PlanItem.objects.bulk_create(
        [PlanItem(plan=plan, application=application) for application in applications], batch_size=CHUNK
    )
    for application in applications:
        transition(application, to=S.IN_PLAN)
    bulk_update_values(Application, applications, ["status", "status_changed_at"])
    residents = residents_of(a.resident_id for a in applications)
    journal = JournalBatch()
    events_record(
        actor=actor,
        events=[
            Event(
                resident=residents[a.resident_id],
                kind=CardEventKind.PLANNED,
                application=a,
                data={"plan": plan.number, "card_maker": maker.code},
            )
            for a in applications
        ],
        journal=journal,
    )
    for application in applications:
        application_journal(journal, application, residents[application.resident_id])
    audit_record(
        actor=actor,
        action="production_plan.generate",
        target=plan,
        changes={
            "card_maker": maker.code,
            "count": len(applications),
            "size_cap": size_cap,
            "channel": channel,
        },
    )
    journal.add(PLAN_KIND, plan.number, plan_payload(plan))
    journal.flush()
    return plan


def _plan_move(*, actor: Actor, plan: ProductionPlan, to: str, verb: str, reason: str = "") -> ProductionPlan:
    fields = transition(plan, to=to)
    plan.save(update_fields=fields)
    audit_record(actor=actor, action=f"production_plan.{verb}", target=plan, reason=reason)
    journal = JournalBatch()
    journal.add(PLAN_KIND, plan.number, plan_payload(plan))
    journal.flush()
    return plan


@transaction.atomic(durable=True)
def plan_submit(*, actor: Actor, plan: ProductionPlan) -> ProductionPlan:
    """Submit a draft plan (提交): its personalisation file can then be made for the card maker."""
    plan = _locked_plan(actor, plan)
    plan.TRANSITIONS.check(
        plan, current=plan.status, target=P.SUBMITTED, labels=dict(PlanStatus.choices)
    )  # the state first: a closed plan is refused as closed, whatever else is wrong with it
    if not plan.item_count:
        raise DomainError(_("Plan %(number)s has no cards."), {"number": plan.number}, code="plan_empty")
    _check_maker(plan.card_maker)
    return _plan_move(actor=actor, plan=plan, to=P.SUBMITTED, verb="submit")


@transaction.atomic(durable=True)
def plan_start(*, actor: Actor, plan: ProductionPlan) -> ProductionPlan:
    """Production starts (投产) when the personalisation file is handed over to the card maker."""
    plan = _locked_plan(actor, plan)
    plan.TRANSITIONS.check(plan, current=plan.status, target=P.IN_PRODUCTION, labels=dict(PlanStatus.choices))
    _check_maker(plan.card_maker)
    return _plan_move(actor=actor, plan=plan, to=P.IN_PRODUCTION, verb="start")


@transaction.atomic(durable=True)
def plan_close(*, actor: Actor, plan: ProductionPlan, reason: str) -> ProductionPlan:
    """Close a plan, with a reason. A plan closed before production releases its applications: they are
    marked failed (制卡失败) with the reason, which puts them back in line for the next plan."""
    reason = require_reason(reason)
    plan = _locked_plan(actor, plan)
    was = plan.status
    plan.TRANSITIONS.check(plan, current=was, target=P.CLOSED, labels=dict(PlanStatus.choices))
    waiting = plan.items.filter(status=PlanItemStatus.PRODUCED, card__isnull=True).count()
    if waiting:  # a closed plan takes no stock-in: its produced cards would be stranded
        raise DomainError(
            _(
                "Plan %(number)s still has %(count)s produced cards to stock in; stock them in before closing it."
            ),
            {"number": plan.number, "count": waiting},
            code="plan_has_cards_to_stock_in",
        )
    journal = JournalBatch()
    released = 0
    if was in (P.DRAFT, P.SUBMITTED):
        ids = plan.items.filter(status=PlanItemStatus.PENDING).values_list("application_id", flat=True)
        applications = [a for a in applications_locked(ids) if a.status == S.IN_PLAN]
        for application in applications:
            transition(application, to=S.FAILED)
        bulk_update_values(Application, applications, ["status", "status_changed_at"])
        residents = residents_of(a.resident_id for a in applications)
        events_record(
            actor=actor,
            events=[
                Event(
                    resident=residents[a.resident_id],
                    kind=CardEventKind.PRODUCTION_FAILED,
                    application=a,
                    reason=f"{plan.number}: {reason}",
                    data={"plan": plan.number, "plan_closed": True},
                )
                for a in applications
            ],
            journal=journal,
        )
        for application in applications:
            application_journal(journal, application, residents[application.resident_id])
        released = len(applications)
    fields = transition(plan, to=P.CLOSED)
    plan.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="production_plan.close",
        target=plan,
        reason=reason,
        changes={"from": was, "released": released},
    )
    journal.add(PLAN_KIND, plan.number, plan_payload(plan))
    journal.flush()
    return plan


# --- The personalisation file ------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def plan_personalisation_file(*, actor: Actor, plan: ProductionPlan) -> PersonalisationFile:
    """The card maker's personalisation file. It carries holders' data in clear (the maker needs it for the
    chip), so it needs the permission to change plans and every download is audited."""
    if actor.user is not None and not actor.user.has_perm("cards.change_productionplan"):
        raise PermissionDeniedError(
            _("You are not allowed to download personalisation files."), code="permission_denied"
        )
    plan = ProductionPlan.objects.select_related("card_maker", "region").get(pk=plan.pk)
    check_scope(actor, plan.region_id, plan)
    if plan.status not in FILE_STATUSES:
        raise _state_error(
            plan,
            _(
                "Plan %(number)s is “%(status)s”: its personalisation file is available from submission until "
                "production ends."
            ),
            FILE_STATUSES,
            "plan_file_unavailable",
        )
    items = list(plan.items.select_related("application").order_by("id"))
    residents = Resident.objects.only(
        "id", "name", "sex", "ethnicity", "birth_date", "document_type", "document_number"
    ).in_bulk([item.application.resident_id for item in items])
    issuer, expiry = issuer_of(plan.region), card_expiry(plan)
    records = [
        card_record(
            item=item,
            resident=residents[item.application.resident_id],
            application=item.application,
            issuer=issuer,
            expiry=expiry,
        )
        for item in items
    ]
    made = build_personalisation_file(plan=plan, records=records)
    audit_record(
        actor=actor,
        action="production_plan.personalisation_file",
        target=plan,
        changes={
            "count": made.manifest["count"],
            "sha256": made.manifest["cards_sha256"],
            "file": made.filename,
        },
    )
    return made


# --- The return file ---------------------------------------------------------------------------------------


@dataclass
class ReturnOutcome:
    produced: int = 0
    failed: int = 0
    unchanged: int = 0
    completed: bool = False

    @property
    def changed(self) -> int:
        return self.produced + self.failed


def serial_owners(serials) -> dict[str, set[str]]:
    """Who already holds each chip serial: plan items ("item:<id>") and cards ("item:<id>" or "card:<id>")."""
    owners: dict[str, set[str]] = defaultdict(set)
    serials = [serial for serial in set(serials) if serial]
    for start in range(0, len(serials), CHUNK):
        chunk = serials[start : start + CHUNK]
        for serial, item_id, pk in Card.objects.filter(chip_serial__in=chunk).values_list(
            "chip_serial", "plan_item_id", "pk"
        ):
            owners[serial].add(f"item:{item_id}" if item_id else f"card:{pk}")
        for serial, item_id in PlanItem.objects.filter(chip_serial__in=chunk).values_list(
            "chip_serial", "id"
        ):
            owners[serial].add(f"item:{item_id}")
    return owners


def return_row_check(
    *,
    plan: ProductionPlan,
    item: dict | None,
    item_id,
    card_no: str,
    result: str,
    chip_serial: str,
    failure_reason: str,
    owners: set[str],
) -> tuple[str | None, list[tuple[str, DomainError]]]:
    """One row of a return file against the plan item it names: ("produced" | "failed" | "unchanged", []) or
    (None, [(column, error), ...]). `item` is {"status", "chip_serial", "document_index"} or None."""
    if item is None:
        return None, [
            (
                "item_id",
                DomainError(
                    _("Plan item %(item)s is not in plan %(plan)s."),
                    {"item": item_id, "plan": plan.number},
                    code="item_not_in_plan",
                ),
            )
        ]
    problems: list[tuple[str, DomainError]] = []
    if card_no and blind_index(card_no, family="id_number") != item["document_index"]:
        problems.append(
            (
                "card_no",
                DomainError(
                    _("The card number does not match plan item %(item)s."),
                    {"item": item_id},
                    code="card_no_mismatch",
                ),
            )
        )
    outcome = None
    if result == PlanItemStatus.PRODUCED:
        if not chip_serial:
            problems.append(
                (
                    "chip_serial",
                    DomainError(_("A produced card needs its chip serial."), code="chip_serial_required"),
                )
            )
        elif not CHIP_SERIAL_RE.match(chip_serial):
            problems.append(
                (
                    "chip_serial",
                    DomainError(
                        _("“%(value)s” is not a chip serial (1 to 20 letters and digits)."),
                        {"value": chip_serial},
                        code="chip_serial_invalid",
                    ),
                )
            )
        elif owners - {f"item:{item_id}"}:
            problems.append(
                (
                    "chip_serial",
                    DomainError(
                        _("Chip serial %(serial)s is already used by another card."),
                        {"serial": chip_serial},
                        code="chip_serial_used",
                    ),
                )
            )
        if item["status"] == PlanItemStatus.PRODUCED:
            if item["chip_serial"] == chip_serial:
                outcome = "unchanged"
            else:
                problems.append(
                    (
                        "chip_serial",
                        DomainError(
                            _(
                                "Plan item %(item)s was already returned as produced with chip serial %(serial)s."
                            ),
                            {"item": item_id, "serial": item["chip_serial"]},
                            code="item_already_returned",
                        ),
                    )
                )
        elif item["status"] == PlanItemStatus.FAILED:
            problems.append(
                (
                    "result",
                    DomainError(
                        _("Plan item %(item)s was already returned as failed."),
                        {"item": item_id},
                        code="item_already_returned",
                    ),
                )
            )
        else:
            outcome = "produced"
    elif result == PlanItemStatus.FAILED:
        if not failure_reason:
            problems.append(
                (
                    "failure_reason",
                    DomainError(
                        _("A failed card needs the reason of the failure."), code="failure_reason_required"
                    ),
                )
            )
        if item["status"] == PlanItemStatus.PRODUCED:
            problems.append(
                (
                    "result",
                    DomainError(
                        _("Plan item %(item)s was already returned as produced with chip serial %(serial)s."),
                        {"item": item_id, "serial": item["chip_serial"]},
                        code="item_already_returned",
                    ),
                )
            )
        else:
            outcome = "unchanged" if item["status"] == PlanItemStatus.FAILED else "failed"
    else:
        problems.append(
            (
                "result",
                DomainError(
                    _("The result must be “produced” or “failed”, not “%(value)s”."),
                    {"value": result},
                    code="invalid_result",
                ),
            )
        )
    return (None, problems) if problems else (outcome, [])


def plan_items_for_return(plan: ProductionPlan, ids=None) -> dict[int, dict]:
    """What a return row is checked against, per plan item (all of the plan's items when ids is None)."""
    items = PlanItem.objects.filter(plan=plan)
    if ids is not None:
        items = items.filter(pk__in=list(ids))
    return {
        row["id"]: {
            "status": row["status"],
            "chip_serial": row["chip_serial"],
            "document_index": row["application__resident__document_index"],
        }
        for row in items.values("id", "status", "chip_serial", "application__resident__document_index")
    }


def check_return_plan(plan: ProductionPlan) -> None:
    if plan.status not in RETURN_STATUSES:
        raise _state_error(
            plan,
            _("Plan %(number)s is “%(status)s”: return files are accepted while it is in production."),
            RETURN_STATUSES,
            "plan_not_in_production",
        )


def _row_error(number, column: str, error: DomainError) -> dict:
    return {
        "row": number,
        "column": column,
        "code": error.code,
        "message_zh": error.message_zh,
        "message_en": error.message_en,
    }


def normalise_return_rows(rows) -> tuple[list[dict], list[dict]]:
    """Rows as dicts of text (a CSV's DictReader) or values -> (rows, errors). Row numbers as in a file whose
    first line is the header (first data row = 2), unless a row says its own ("row")."""
    clean, errors = [], []
    for index, raw in enumerate(rows, start=2):
        number = raw.get("row", index)
        text = {key: str(raw.get(key) or "").strip() for key in ("item_id", "card_no", "chip_serial")}
        result = raw.get("result", "")
        result = (
            result
            if result in PlanItemStatus.values
            else parse_result(str(result or "")) or str(result or "")
        )
        try:
            item_id = int(raw.get("item_id"))
        except (TypeError, ValueError):
            errors.append(
                _row_error(
                    number,
                    "item_id",
                    DomainError(
                        _("“%(value)s” is not a plan item id (a whole number)."),
                        {"value": text["item_id"]},
                        code="item_id_invalid",
                    ),
                )
            )
            continue
        clean.append(
            {
                "row": number,
                "item_id": item_id,
                "card_no": text["card_no"],
                "result": result,
                "chip_serial": text["chip_serial"],
                "failure_reason": str(raw.get("failure_reason") or "").strip()[:200],
            }
        )
    return clean, errors


def apply_return(
    *, actor: Actor, plan: ProductionPlan, rows: list[dict], journal: JournalBatch
) -> ReturnOutcome:
    """The core of plan_return_apply, inside the caller's transaction: check every row, then apply them all or
    raise with every problem (row number, column, message in Chinese and English)."""
    plan = _locked_plan(actor, plan)
    check_return_plan(plan)
    rows, errors = normalise_return_rows(rows)
    ids = [row["item_id"] for row in rows]
    locked = {item.pk: item for item in PlanItem.objects.select_for_update().filter(plan=plan, pk__in=ids)}
    info = plan_items_for_return(plan, ids)
    owners = serial_owners(row["chip_serial"] for row in rows if row["result"] == PlanItemStatus.PRODUCED)
    seen_items: dict[int, object] = {}
    seen_serials: dict[str, tuple[int, object]] = {}
    changes: list[tuple[PlanItem, str, dict]] = []
    outcome = ReturnOutcome()
    for row in rows:
        number, item_id, serial = row["row"], row["item_id"], row["chip_serial"]
        if item_id in seen_items:
            errors.append(
                _row_error(
                    number,
                    "item_id",
                    DomainError(
                        _("Plan item %(item)s appears twice in this file: first in row %(row)s."),
                        {"item": item_id, "row": seen_items[item_id]},
                        code="duplicate_item",
                    ),
                )
            )
            continue
        seen_items[item_id] = number
        if row["result"] == PlanItemStatus.PRODUCED and serial:
            first = seen_serials.setdefault(serial, (item_id, number))
            if first[0] != item_id:
                errors.append(
                    _row_error(
                        number,
                        "chip_serial",
                        DomainError(
                            _("Chip serial %(serial)s appears twice in this file: first in row %(row)s."),
                            {"serial": serial, "row": first[1]},
                            code="duplicate_chip_serial",
                        ),
                    )
                )
                continue
        result, problems = return_row_check(
            plan=plan,
            item=info.get(item_id),
            item_id=item_id,
            card_no=row["card_no"],
            result=row["result"],
            chip_serial=serial,
            failure_reason=row["failure_reason"],
            owners=owners.get(serial, set()),
        )
        errors.extend(_row_error(number, column, error) for column, error in problems)
        if result == "unchanged":
            outcome.unchanged += 1
        elif result is not None:
            changes.append((locked[item_id], result, row))
    if errors:
        raise DomainError(
            _("%(count)s rows of the return file have problems; nothing was applied."),
            {"count": len({error["row"] for error in errors})},
            code="return_file_invalid",
            detail=sorted(errors, key=lambda error: (error["row"], error["column"])),
        )
    if not changes:
        return outcome

    now = timezone.now()
    items = []
    for item, result, row in changes:
        item.status, item.returned_at = result, now
        if result == PlanItemStatus.PRODUCED:
            item.chip_serial, item.failure_reason = row["chip_serial"], ""
            outcome.produced += 1
        else:
            item.chip_serial, item.failure_reason = "", row["failure_reason"]
            outcome.failed += 1
        items.append(item)
    bulk_update_values(PlanItem, items, ["status", "chip_serial", "failure_reason", "returned_at"])
    by_application = {item.application_id: item for item in items}
    applications = applications_locked(by_application)
    for application in applications:
        item = by_application[application.pk]
        transition(application, to=S.PRODUCED if item.status == PlanItemStatus.PRODUCED else S.FAILED)
    bulk_update_values(Application, applications, ["status", "status_changed_at"])
    residents = residents_of(a.resident_id for a in applications)
    events = []
    for application in applications:
        item = by_application[application.pk]
        produced = item.status == PlanItemStatus.PRODUCED
        events.append(
            Event(
                resident=residents[application.resident_id],
                kind=CardEventKind.PRODUCED if produced else CardEventKind.PRODUCTION_FAILED,
                application=application,
                institution=plan.card_maker,
                reason="" if produced else item.failure_reason,
                data={"plan": plan.number, "item": item.pk, "chip_serial": item.chip_serial}
                if produced
                else {"plan": plan.number, "item": item.pk},
            )
        )
    events_record(actor=actor, events=events, journal=journal)
    for application in applications:
        application_journal(journal, application, residents[application.resident_id])
    plan.produced_count += outcome.produced
    plan.failed_count += outcome.failed
    fields = ["produced_count", "failed_count"]
    if plan.status == P.IN_PRODUCTION and not plan.items.filter(status=PlanItemStatus.PENDING).exists():
        fields += transition(plan, to=P.COMPLETED)  # every card is accounted for: produced or failed
        outcome.completed = True
    plan.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="production_plan.return",
        target=plan,
        changes={
            "produced": outcome.produced,
            "failed": outcome.failed,
            "unchanged": outcome.unchanged,
            "completed": outcome.completed,
        },
    )
    journal.add(PLAN_KIND, plan.number, plan_payload(plan))
    return outcome


@transaction.atomic(durable=True)
def plan_return_apply(*, actor: Actor, plan: ProductionPlan, rows: list[dict]) -> ReturnOutcome:
    """Apply the card maker's return file: each row names a plan item (item_id) and says produced (with the
    chip serial) or failed (with the reason). Items become produced/failed, their applications too (a failed
    one waits for the next plan); cards come into existence at stock-in. All rows or none; applying the same
    file again changes nothing. When no item is pending any more the plan is completed."""
    journal = JournalBatch()
    outcome = apply_return(actor=actor, plan=plan, rows=rows, journal=journal)
    journal.flush()
    return outcome


@transaction.atomic(durable=True)
def plan_return_import_batch(rows: list[dict], *, actor: Actor) -> tuple[int, int]:
    """One batch of a return file uploaded through the import machinery (cards.importers_production): the
    rows name their plan, so a file may cover several plans. Returns (created, updated) as imports count."""
    journal = JournalBatch()
    by_plan: dict[int, list[dict]] = defaultdict(list)
    plans = {}
    for row in rows:
        plan = row["plan_number"]
        plans[plan.pk] = plan
        by_plan[plan.pk].append({key: value for key, value in row.items() if key != "plan_number"})
    changed = 0
    for pk, plan_rows in by_plan.items():
        changed += apply_return(actor=actor, plan=plans[pk], rows=plan_rows, journal=journal).changed
    journal.flush()
    return 0, changed
