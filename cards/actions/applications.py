"""Applications (申领): eligibility, the city-then-province review chain of batch applications, withdrawal."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.actions.common import journal_application, new_number, record_event
from cards.choices import (
    ApplicantKind,
    ApplicationChannel,
    ApplicationStatus,
    CardEventKind,
    CardStatus,
    ReviewDecision,
    ReviewLevel,
)
from cards.models import Application, ApplicationBatch, ApplicationReview, Card, Resident
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError, require_reason
from registry.lifecycle import transition
from registry.models import Region
from registry.scope import user_can_see_region, user_scope_prefix

S = ApplicationStatus
OPEN_STATUSES = (S.SUBMITTED, S.CITY_APPROVED, S.APPROVED, S.IN_PLAN, S.PRODUCED, S.FAILED)
CARD_HELD_STATUSES = (
    CardStatus.ISSUING,
    CardStatus.IN_STOCK,
    CardStatus.DISPATCHED,
    CardStatus.AWAITING_COLLECTION,
    CardStatus.ACTIVE,
    CardStatus.LOST,
)
ADULT_AGE = 16
# Further eligibility rules other parts of the app add (the person blacklist of Cards II): callables
# (resident) -> a DomainError to raise, or None.
ELIGIBILITY_RULES: list = []


def age_on(resident: Resident, day) -> int:
    born = resident.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def holder_eligibility(resident: Resident) -> DomainError | None:
    """Why this person may not apply now, or None. A replacement goes through the replacement flow."""
    if Card.objects.filter(resident=resident, status__in=CARD_HELD_STATUSES).exists():
        return DomainError(
            _(
                "%(holder)s already holds a card that is active or on its way; a lost or damaged card is "
                "replaced through the replacement flow."
            ),
            {"holder": resident},
            code="already_holds_card",
        )
    open_application = Application.objects.filter(resident=resident, status__in=OPEN_STATUSES).first()
    if open_application is not None:
        return DomainError(
            _("%(holder)s already has an open application (%(number)s)."),
            {"holder": resident, "number": open_application.number},
            code="open_application",
        )
    for rule in ELIGIBILITY_RULES:
        refusal = rule(resident)
        if refusal is not None:
            return refusal
    return None


def _service_point_fields(institution) -> dict:
    if institution is None:
        return {}
    if isinstance(institution, MedicalInstitution):
        return {"medical_institution": institution}
    if isinstance(institution, FinancialInstitution):
        return {"financial_institution": institution}
    raise DomainError(_("A service point is a medical institution or a bank branch."))


@transaction.atomic(durable=True)
def application_submit(*, actor: Actor, resident: Resident, channel: str, **fields) -> Application:
    """Apply for a card. Batch applications wait for the city and then the province; the others (counter,
    bank, kiosk, online, on-site) are approved on submission, as the provinces run them."""
    return application_create(actor=actor, resident=resident, channel=channel, **fields)


def application_create(
    *,
    actor: Actor,
    resident: Resident,
    channel: str,
    applicant_kind: str = ApplicantKind.HOLDER,
    guardian_name: str = "",
    guardian_document_type: str = "",
    guardian_document_number: str = "",
    guardian_relation: str = "",
    institution=None,
    batch: ApplicationBatch | None = None,
    note: str = "",
    replaces: Card | None = None,
) -> Application:
    """application_submit's work, inside the caller's transaction (a replacement applies for the new card in
    the same transaction that replaces the old one)."""
    resident = Resident.objects.select_for_update().get(
        pk=resident.pk
    )  # one application at a time per holder
    if channel not in ApplicationChannel.values:
        raise DomainError(_("Unknown channel %(value)s."), {"value": channel}, code="invalid_channel")
    if channel == ApplicationChannel.BATCH and batch is None:
        raise DomainError(_("A batch application belongs to a batch."), code="batch_required")
    refusal = holder_eligibility(resident)
    if refusal is not None:
        raise refusal
    if applicant_kind == ApplicantKind.GUARDIAN:
        if not (guardian_name.strip() and guardian_document_number.strip() and guardian_relation):
            raise DomainError(
                _("A guardian's application needs the guardian's name, document and relation."),
                code="guardian_required",
                detail={"field": "guardian_name"},
            )
    elif age_on(resident, timezone.localdate()) < ADULT_AGE:
        raise DomainError(
            _("%(holder)s is under %(age)s: a guardian applies for a child."),
            {"holder": resident, "age": ADULT_AGE},
            code="guardian_required",
            detail={"field": "applicant_kind"},
        )
    region = institution.region if institution is not None else resident.region
    if actor.user is not None and not user_can_see_region(actor.user, region.code):
        raise DomainError(_("%(region)s is outside your region."), {"region": region}, code="out_of_scope")
    now = timezone.now()
    application = Application.objects.create(
        number=new_number("A", region.code),
        resident=resident,
        channel=channel,
        applicant_kind=applicant_kind,
        guardian_name=guardian_name,
        guardian_document_type=guardian_document_type,
        guardian_document_number=guardian_document_number,
        guardian_relation=guardian_relation,
        batch=batch,
        region=region,
        submitted_at=now,
        submitted_by=actor.user,
        note=note,
        replaces=replaces,
        **_service_point_fields(institution),
    )
    audit_record(actor=actor, action="application.submit", target=application)
    applied = {"channel": channel, "number": application.number}
    if replaces is not None:
        applied["replaces_card_id"] = replaces.pk
    record_event(
        actor=actor,
        resident=resident,
        application=application,
        kind=CardEventKind.APPLIED,
        data=applied,
    )
    if channel != ApplicationChannel.BATCH:
        application.status, application.status_changed_at = S.APPROVED, now
        application.save(update_fields=["status", "status_changed_at"])
        record_event(
            actor=actor,
            resident=resident,
            application=application,
            kind=CardEventKind.REVIEWED,
            reason=str(_("No batch review for this channel.")),
            data={"decision": "approve", "auto": True},
        )
    journal_application(application)
    return application


def _review_level(application: Application) -> str:
    if application.status == S.SUBMITTED:
        return ReviewLevel.CITY
    if application.status == S.CITY_APPROVED:
        return ReviewLevel.PROVINCE
    raise DomainError(
        _("Application %(number)s is not waiting for a review (it is “%(status)s”)."),
        {"number": application.number, "status": ApplicationStatus(application.status).label},
        code="not_reviewable",
    )


def _check_reviewer(actor: Actor, level: str, application: Application) -> None:
    """A city review needs a reviewer scoped to the city (or below the province); a province review one
    scoped to the province or wider. Across nodes the Exchange issue carries the application up."""
    if actor.user is None:
        return
    if not actor.user.has_perm("cards.review_application"):
        raise DomainError(_("You are not allowed to review applications."), code="permission_denied")
    prefix = user_scope_prefix(actor.user)
    if prefix is None or not application.region_id.startswith(prefix):
        raise DomainError(
            _("%(number)s is outside your region."), {"number": application.number}, code="out_of_scope"
        )
    wide_enough = len(prefix) <= (4 if level == ReviewLevel.CITY else 2)
    if not wide_enough:
        raise DomainError(
            _("A %(level)s needs a reviewer of that tier."),
            {"level": ReviewLevel(level).label},
            code="wrong_review_tier",
        )


@transaction.atomic(durable=True)
def application_review(
    *, actor: Actor, application: Application, decision: str, reason: str = ""
) -> Application:
    """Approve or reject a batch application at the level it waits for (city first, then province)."""
    application = (
        Application.objects.select_for_update(of=("self",)).select_related("resident").get(pk=application.pk)
    )
    level = _review_level(application)
    _check_reviewer(actor, level, application)
    if decision not in ReviewDecision.values:
        raise DomainError(_("Unknown decision %(value)s."), {"value": decision})
    if decision == ReviewDecision.REJECT and not reason.strip():
        raise DomainError(
            _("A rejection needs a reason."), code="reason_required", detail={"field": "reason"}
        )
    if decision == ReviewDecision.REJECT:
        target = S.REJECTED
    else:
        target = S.CITY_APPROVED if level == ReviewLevel.CITY else S.APPROVED
    fields = transition(application, to=target)
    application.save(update_fields=fields)
    ApplicationReview.objects.create(
        application=application,
        level=level,
        decision=decision,
        reason=reason,
        reviewer=actor.user,
        reviewer_label=actor.display[:150],
        at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action=f"application.review.{level}",
        target=application,
        reason=reason,
        changes={"decision": decision},
    )
    record_event(
        actor=actor,
        resident=application.resident,
        application=application,
        kind=CardEventKind.REVIEWED,
        reason=reason,
        data={"level": level, "decision": decision},
    )
    journal_application(application)
    return application


@transaction.atomic(durable=True)
def application_withdraw(*, actor: Actor, application: Application, reason: str) -> Application:
    reason = require_reason(reason)
    application = (
        Application.objects.select_for_update(of=("self",)).select_related("resident").get(pk=application.pk)
    )
    if actor.user is not None and not user_can_see_region(actor.user, application.region_id):
        raise DomainError(
            _("%(number)s is outside your region."), {"number": application.number}, code="out_of_scope"
        )
    fields = transition(application, to=S.WITHDRAWN)
    application.save(update_fields=fields)
    audit_record(actor=actor, action="application.withdraw", target=application, reason=reason)
    record_event(
        actor=actor,
        resident=application.resident,
        application=application,
        kind=CardEventKind.WITHDRAWN,
        reason=reason,
    )
    journal_application(application)
    return application


@transaction.atomic(durable=True)
def batch_create(*, actor: Actor, title: str, region: Region, institution=None) -> ApplicationBatch:
    """Open a batch (a school, a village, a company): its applications go through the review chain."""
    if institution is not None:
        region = institution.region
    if actor.user is not None and not user_can_see_region(actor.user, region.code):
        raise DomainError(_("%(region)s is outside your region."), {"region": region}, code="out_of_scope")
    batch = ApplicationBatch.objects.create(
        number=new_number("B", region.code),
        title=title,
        region=region,
        created_at=timezone.now(),
        **_service_point_fields(institution),
    )
    audit_record(actor=actor, action="application_batch.create", target=batch)
    return batch
