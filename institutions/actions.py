"""Every write of the institutions app: the three registers (register, modify, deregister, reinstate) and
hospitals' API credentials (issue, rotate, revoke).

Registers travel up to the ministry through the journal; credentials stay on the node that issued them.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc

from institutions.choices import CredentialStatus, OrganisationStatus
from institutions.models import (
    ApiCredential,
    CardMaker,
    FinancialInstitution,
    MedicalInstitution,
    Organisation,
)
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import RegionLevel
from registry.errors import DomainError, require_reason
from registry.journal import journal_append
from registry.lifecycle import status_change_with_reason
from registry.models import Region

JOURNAL_KINDS = {
    MedicalInstitution: "institutions.medical",
    CardMaker: "institutions.cardmaker",
    FinancialInstitution: "institutions.financial",
}
EDITABLE = {
    MedicalInstitution: (
        "name",
        "region",
        "address",
        "contact_person",
        "phone",
        "head",
        "licence_number",
        "nature",
        "category",
        "grade",
    ),
    CardMaker: ("name", "region", "address", "contact_person", "phone", "head", "licence_number"),
    FinancialInstitution: (
        "name",
        "region",
        "address",
        "contact_person",
        "phone",
        "head",
        "kind",
        "bank_code",
    ),
}
DEFAULT_CREDENTIAL_DAYS = 365


def clean_code(code: str) -> str:
    """A unified social credit code, validated (checksum, alphabet) and in canonical form."""
    try:
        return uscc.validate(code or "")
    except Exception:
        raise DomainError(
            _(
                "“%(code)s” is not a valid unified social credit code (18 characters with a correct check digit)."
            ),
            {"code": code or ""},
            code="invalid_uscc",
            detail={"field": "code"},
        ) from None


def check_region(model, region: Region) -> None:
    if model is MedicalInstitution and region.level != RegionLevel.COUNTY:
        raise DomainError(
            _("A medical institution is registered in a county (区县), not in %(region)s."),
            {"region": region},
            code="institution_region_level",
            detail={"field": "region"},
        )
    if region.level == RegionLevel.NATION:
        raise DomainError(
            _("Choose a province, city or county, not the nation."),
            code="institution_region_level",
            detail={"field": "region"},
        )


def _journal(obj: Organisation) -> None:
    journal_append(kind=JOURNAL_KINDS[type(obj)], key=obj.code, payload=obj.journal_payload())


def _label(model) -> str:
    return model._meta.model_name


@transaction.atomic(durable=True)
def organisation_register(
    *, actor: Actor, model: type[Organisation], code: str, name: str, region: Region, **fields
) -> Organisation:
    """Register a medical institution, card maker or financial institution (one of the three registers)."""
    code = clean_code(code)
    if not (name or "").strip():
        raise DomainError(_("The name is required."), code="name_required", detail={"field": "name"})
    check_region(model, region)
    unknown = set(fields) - set(EDITABLE[model])
    if unknown:
        raise DomainError(
            _("These fields cannot be set here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
        )
    if model.objects.filter(code=code).exists():
        raise DomainError(
            _("An organisation with code %(code)s is already registered; modify it instead."),
            {"code": code},
            code="duplicate_code",
            detail={"field": "code"},
        )
    now = timezone.now()
    obj = model.objects.create(
        code=code, name=name.strip(), region=region, registered_at=now, changed_at=now, **fields
    )
    audit_record(actor=actor, action=f"{_label(model)}.register", target=obj)
    _journal(obj)
    return obj


@transaction.atomic(durable=True)
def organisation_update(*, actor: Actor, obj: Organisation, reason: str = "", **changes) -> Organisation:
    """Modify a registered organisation; the audit row keeps old and new values. The code never changes."""
    model = type(obj)
    unknown = set(changes) - set(EDITABLE[model])
    if unknown:
        raise DomainError(
            _("These fields cannot be changed here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
        )
    if "region" in changes:
        check_region(model, changes["region"])
    obj = model.objects.select_for_update().get(pk=obj.pk)
    diff = {}
    for field, value in changes.items():
        old = getattr(obj, field)
        if old != value:
            diff[field] = [str(getattr(old, "pk", old)), str(getattr(value, "pk", value))]
            setattr(obj, field, value)
    if not diff:
        return obj
    obj.changed_at = timezone.now()
    obj.save(update_fields=[*diff, "changed_at"])
    audit_record(actor=actor, action=f"{_label(model)}.update", target=obj, reason=reason, changes=diff)
    _journal(obj)
    return obj


def _change_status(*, actor: Actor, obj: Organisation, to: str, reason: str, verb: str) -> Organisation:
    return status_change_with_reason(
        obj, actor=actor, to=to, reason=reason, action=f"{_label(type(obj))}.{verb}", journal=_journal
    )


@transaction.atomic(durable=True)
def organisation_deregister(*, actor: Actor, obj: Organisation, reason: str) -> Organisation:
    """Deregister (注销): the record stays, marked deregistered, with the reason and time."""
    return _change_status(
        actor=actor, obj=obj, to=OrganisationStatus.DEREGISTERED, reason=reason, verb="deregister"
    )


@transaction.atomic(durable=True)
def organisation_reinstate(*, actor: Actor, obj: Organisation, reason: str) -> Organisation:
    return _change_status(actor=actor, obj=obj, to=OrganisationStatus.ACTIVE, reason=reason, verb="reinstate")


# --- API credentials -----------------------------------------------------------------------------------


def _new_key_id() -> str:
    return "hc_" + secrets.token_hex(10)


def _institution_fields(institution) -> dict:
    if isinstance(institution, MedicalInstitution):
        return {"medical_institution": institution}
    if isinstance(institution, FinancialInstitution):
        return {"financial_institution": institution}
    raise DomainError(_("API credentials are issued to medical or financial institutions only."))


def _create_credential(*, institution, valid_days: int, label: str) -> tuple[ApiCredential, str]:
    if institution.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(institution)s is deregistered: no API credential can be issued."),
            {"institution": institution},
            code="institution_inactive",
        )
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    credential = ApiCredential.objects.create(
        key_id=_new_key_id(),
        secret=secret,
        region_id=institution.region_id,
        label=label,
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
        **_institution_fields(institution),
    )
    return credential, secret


@transaction.atomic(durable=True)
def credential_issue(
    *, actor: Actor, institution, valid_days: int = DEFAULT_CREDENTIAL_DAYS, label: str = ""
) -> tuple[ApiCredential, str]:
    """Issue a key id + secret to an institution. The secret is returned once and never shown again."""
    credential, secret = _create_credential(institution=institution, valid_days=valid_days, label=label)
    audit_record(
        actor=actor,
        action="credential.issue",
        target=credential,
        changes={"institution": institution.code, "expires_at": credential.expires_at.isoformat()},
    )
    return credential, secret


@transaction.atomic(durable=True)
def credential_rotate(
    *, actor: Actor, credential: ApiCredential, valid_days: int = DEFAULT_CREDENTIAL_DAYS, grace_days: int = 0
) -> tuple[ApiCredential, str]:
    """Issue a successor key; the old one is revoked now, or keeps working `grace_days` more for a switch-over."""
    credential = ApiCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.status != CredentialStatus.ACTIVE:
        raise DomainError(_("Only an active key can be rotated."), code="credential_revoked")
    successor, secret = _create_credential(
        institution=credential.institution, valid_days=valid_days, label=credential.label
    )
    credential.replaced_by = successor
    if grace_days > 0:
        credential.expires_at = min(credential.expires_at, timezone.now() + timedelta(days=grace_days))
        credential.save(update_fields=["replaced_by", "expires_at"])
    else:
        credential.status, credential.revoked_at = CredentialStatus.REVOKED, timezone.now()
        credential.revoked_reason = "rotated"
        credential.save(update_fields=["replaced_by", "status", "revoked_at", "revoked_reason"])
    audit_record(
        actor=actor,
        action="credential.rotate",
        target=credential,
        changes={"successor": successor.key_id, "grace_days": grace_days},
    )
    return successor, secret


@transaction.atomic(durable=True)
def credential_revoke(*, actor: Actor, credential: ApiCredential, reason: str) -> ApiCredential:
    reason = require_reason(reason)
    credential = ApiCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.status == CredentialStatus.REVOKED:
        raise DomainError(_("This key is already revoked."), code="credential_revoked")
    credential.status, credential.revoked_at, credential.revoked_reason = (
        CredentialStatus.REVOKED,
        timezone.now(),
        reason,
    )
    credential.save(update_fields=["status", "revoked_at", "revoked_reason"])
    audit_record(actor=actor, action="credential.revoke", target=credential, reason=reason)
    return credential


# --- Import (bulk) ---


@transaction.atomic(durable=True)
def organisation_import_batch(
    *, actor: Actor, model: type[Organisation], rows: list[dict], reason: str = ""
) -> tuple[int, int]:
    """Register or modify many organisations of one register at once, keyed by code (a batch of an import).

    The outcome of organisation_register / organisation_update for each row, in bulk statements and one
    transaction: one audit row per organisation created or changed, one journal row per change (numbers
    taken as one range), nothing at all for an unchanged row, and the code never changes. Fields a row does
    not name are left as they are. Returns (created, updated).
    """
    from django.conf import settings

    from registry.choices import JournalOp
    from registry.imports import bulk_update_values
    from registry.journal import JOURNAL_COUNTER, counter_take
    from registry.models import AuditEntry, JournalEntry

    editable = EDITABLE[model]
    attnames = {name: model._meta.get_field(name).attname for name in editable}
    names = {attname: name for name, attname in attnames.items()}
    prepared: dict[str, dict] = {}
    region_codes = set()
    for row in rows:
        unknown = set(row) - {"code", *editable}
        if unknown:
            raise DomainError(
                _("These fields cannot be set here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
            )
        code = clean_code(row.get("code", ""))
        if code in prepared:
            raise DomainError(
                _("Code %(code)s appears twice in one batch."), {"code": code}, code="duplicate_code"
            )
        values = {attnames[name]: value for name, value in row.items() if name != "code"}
        if "name" in values:
            values["name"] = (values["name"] or "").strip()
            if not values["name"]:
                raise DomainError(_("The name is required."), code="name_required", detail={"field": "name"})
        if "region_id" in values:
            region = values["region_id"]
            values["region_id"] = getattr(region, "pk", region)
            region_codes.add(values["region_id"])
        prepared[code] = values
    regions = Region.objects.in_bulk(region_codes)
    for code in region_codes:
        if code not in regions:
            raise DomainError(_("Unknown region code %(code)s."), {"code": code}, code="unknown_region")
        check_region(model, regions[code])

    existing = {obj.code: obj for obj in model.objects.select_for_update().filter(code__in=list(prepared))}
    now = timezone.now()
    created, updated, diffs, changed_fields = [], [], {}, set()
    for code, values in prepared.items():
        obj = existing.get(code)
        if obj is None:
            if not values.get("name") or not values.get("region_id"):
                raise DomainError(
                    _("A new organisation (%(code)s) needs a name and a region."),
                    {"code": code},
                    code="import_incomplete",
                )
            created.append(model(code=code, registered_at=now, changed_at=now, **values))
            continue
        diff = {}
        for attname, value in values.items():
            old = getattr(obj, attname)
            if old != value:
                diff[names[attname]] = [str(old), str(value)]
                setattr(obj, attname, value)
                changed_fields.add(attname)
        if diff:
            obj.changed_at = now
            updated.append(obj)
            diffs[obj.pk] = diff
    model.objects.bulk_create(created)
    if created and created[0].pk is None:  # a backend that does not return keys from a bulk insert
        keys = dict(model.objects.filter(code__in=[o.code for o in created]).values_list("code", "pk"))
        for obj in created:
            obj.pk = keys[obj.code]
    if updated:
        bulk_update_values(model, updated, [*sorted(changed_fields), "changed_at"])

    label, object_type = _label(model), model._meta.label_lower
    common = {
        "at": now,
        "user": actor.user,
        "actor_label": actor.display[:150],
        "channel": actor.channel,
        "ip": actor.ip,
        "object_type": object_type,
        "reason": reason,
    }
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                action=f"{label}.{verb}",
                object_key=str(obj.pk),
                object_repr=str(obj)[:200],
                region_code=obj.region_id,
                changes=diffs.get(obj.pk, {}) if verb == "update" else {},
                **common,
            )
            for verb, objs in (("register", created), ("update", updated))
            for obj in objs
        ]
    )
    changed = [*created, *updated]
    if changed:
        # Taken last, so the journal counter (which serialises the node's journaled writes) is held briefly.
        first = counter_take(JOURNAL_COUNTER, len(changed))
        kind = JOURNAL_KINDS[model]
        JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    seq=first + offset,
                    kind=kind,
                    key=obj.code,
                    op=JournalOp.UPSERT,
                    payload=obj.journal_payload(),
                    origin_node=settings.HC_REGION,
                    origin_seq=first + offset,
                    created_at=now,
                )
                for offset, obj in enumerate(changed)
            ]
        )
    return len(created), len(updated)


@transaction.atomic(durable=True)
def credential_relabel(*, actor: Actor, credential: ApiCredential, label: str) -> ApiCredential:
    """Name which of the institution's systems uses a key (the only field of a key a person edits)."""
    credential = ApiCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.label == label:
        return credential
    old, credential.label = credential.label, label
    credential.save(update_fields=["label"])
    audit_record(actor=actor, action="credential.relabel", target=credential, changes={"label": [old, label]})
    return credential


LAST_USED_PRECISION_SECONDS = 300


def credential_mark_used(*, credential: ApiCredential) -> bool:
    """Remember that a key was just used, at most once per five minutes: telemetry, not an audited change,
    so a hospital calling at every visit does not write a row per call. True when it wrote."""
    now = timezone.now()
    if (
        credential.last_used_at is None
        or (now - credential.last_used_at).total_seconds() > LAST_USED_PRECISION_SECONDS
    ):
        ApiCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
        credential.last_used_at = now
        return True
    return False
