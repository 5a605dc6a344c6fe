"""Every write of the vendors app: filings (manufacturers and products) and actual use.

Filings are made at the ministry only; each change is journaled with the full record so the Exchange issue
moves it down, where `filing_apply` keeps a read-only copy (and re-journals it so it travels further down).
Actual use is registered at a city or province and journaled upward; `actual_use_apply` takes it in above.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from institutions.actions import check_region, clean_code
from institutions.choices import OrganisationStatus
from institutions.models import FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import Channel, JournalOp, Tier
from registry.errors import DomainError, PermissionDeniedError, require_reason
from registry.journal import journal_append
from registry.lifecycle import status_change_with_reason, transition
from registry.models import Region
from registry.scope import node_prefix, user_can_see_region
from vendors.choices import ActualUseStatus, FilingStatus, ProductType
from vendors.models import ActualUse, FiledProduct, Manufacturer

MANUFACTURER_KIND = "vendors.manufacturer"
PRODUCT_KIND = "vendors.product"
ACTUAL_USE_KIND = "vendors.actualuse"

MANUFACTURER_EDITABLE = ("name", "region", "address", "contact_person", "phone")
PRODUCT_EDITABLE = ("product_type", "name", "model", "filing_date", "valid_until", "test_report")
ACTUAL_USE_EDITABLE = ("quantity", "since", "note")


# --- Helpers ---------------------------------------------------------------------------------------------


def filings_editable_here() -> bool:
    """Filings are the ministry's: lower tiers hold a copy that only sync (filing_apply) writes."""
    return settings.HC_TIER == Tier.MINISTRY


def filings_check_editable() -> None:
    """Raise the stable `filing_read_only` error below the ministry (actions and API views call it)."""
    if not filings_editable_here():
        raise PermissionDeniedError(
            _(
                "Filed manufacturers and products are entered and changed at the ministry only; this node "
                "holds a read-only copy that sync keeps current."
            ),
            code="filing_read_only",
        )


def _unknown_fields(changes: dict, editable: tuple[str, ...]) -> None:
    unknown = set(changes) - set(editable)
    if unknown:
        raise DomainError(
            _("These fields cannot be changed here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
        )


def _apply_changes(obj, changes: dict) -> dict:
    """Set the changed fields on obj; returns the audit diff {field: [old, new]}."""
    diff = {}
    for field, value in changes.items():
        old = getattr(obj, field)
        if old != value:
            diff[field] = [str(getattr(old, "pk", old)), str(getattr(value, "pk", value))]
            setattr(obj, field, value)
    return diff


def _require_name(value: str, field: str = "name") -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(_("The name is required."), code="name_required", detail={"field": field})
    return value


def _check_validity_period(filing_date: dt.date, valid_until: dt.date) -> None:
    if valid_until < filing_date:
        raise DomainError(
            _("The filing is valid until %(until)s, before its filing date %(date)s: check both dates."),
            {"until": valid_until.isoformat(), "date": filing_date.isoformat()},
            code="filing_dates",
            detail={"field": "valid_until"},
        )


def _check_product_type(value: str) -> None:
    if value not in ProductType.values:
        raise DomainError(
            _("Unknown product type %(type)s."),
            {"type": value},
            code="product_type",
            detail={"field": "product_type"},
        )


def _journal_manufacturer(obj: Manufacturer, op: str = JournalOp.UPSERT) -> None:
    journal_append(kind=MANUFACTURER_KIND, key=obj.code, payload=obj.journal_payload(), op=op)


def _journal_product(obj: FiledProduct, op: str = JournalOp.UPSERT) -> None:
    journal_append(kind=PRODUCT_KIND, key=obj.filing_number, payload=obj.journal_payload(), op=op)


def _journal_use(obj: ActualUse) -> None:
    journal_append(kind=ACTUAL_USE_KIND, key=str(obj.uid), payload=obj.journal_payload())


def _delete(obj, *, what) -> None:
    """Delete a filing row unless something refers to it (PROTECT): then the person should revoke it."""
    try:
        obj.delete()
    except ProtectedError as error:
        raise DomainError(
            _(
                "%(object)s cannot be deleted: %(count)s records refer to it (%(what)s). Revoke it instead; "
                "the record stays and no longer counts as valid."
            ),
            {"object": obj, "count": len(error.protected_objects), "what": what},
            code="filing_referenced",
        ) from None


# --- Manufacturers (ministry) ----------------------------------------------------------------------------


@transaction.atomic(durable=True)
def manufacturer_register(
    *,
    actor: Actor,
    code: str,
    name: str,
    region: Region,
    address: str = "",
    contact_person: str = "",
    phone: str = "",
) -> Manufacturer:
    """File a manufacturer (生产单位备案). Ministry only."""
    filings_check_editable()
    code = clean_code(code)
    name = _require_name(name)
    check_region(Manufacturer, region)
    if Manufacturer.objects.filter(code=code).exists():
        raise DomainError(
            _("A manufacturer with code %(code)s is already filed; modify it instead."),
            {"code": code},
            code="duplicate_code",
            detail={"field": "code"},
        )
    now = timezone.now()
    obj = Manufacturer.objects.create(
        code=code,
        name=name,
        region=region,
        address=address,
        contact_person=contact_person,
        phone=phone,
        registered_at=now,
        changed_at=now,
    )
    audit_record(actor=actor, action="manufacturer.register", target=obj)
    _journal_manufacturer(obj)
    return obj


@transaction.atomic(durable=True)
def manufacturer_update(
    *, actor: Actor, manufacturer: Manufacturer, reason: str = "", **changes
) -> Manufacturer:
    """Modify a filed manufacturer; the code never changes. Ministry only."""
    filings_check_editable()
    _unknown_fields(changes, MANUFACTURER_EDITABLE)
    if "name" in changes:
        changes["name"] = _require_name(changes["name"])
    if "region" in changes:
        check_region(Manufacturer, changes["region"])
    obj = Manufacturer.objects.select_for_update().get(pk=manufacturer.pk)
    diff = _apply_changes(obj, changes)
    if not diff:
        return obj
    obj.changed_at = timezone.now()
    obj.save(update_fields=[*diff, "changed_at"])
    audit_record(actor=actor, action="manufacturer.update", target=obj, reason=reason, changes=diff)
    _journal_manufacturer(obj)
    return obj


def _manufacturer_status(*, actor: Actor, manufacturer: Manufacturer, to: str, reason: str, verb: str):
    filings_check_editable()
    return status_change_with_reason(
        manufacturer,
        actor=actor,
        to=to,
        reason=reason,
        action=f"manufacturer.{verb}",
        journal=_journal_manufacturer,
    )


@transaction.atomic(durable=True)
def manufacturer_suspend(*, actor: Actor, manufacturer: Manufacturer, reason: str) -> Manufacturer:
    """Suspend (暂停) a manufacturer's filing: none of its products counts as valid until reinstated."""
    return _manufacturer_status(
        actor=actor, manufacturer=manufacturer, to=FilingStatus.SUSPENDED, reason=reason, verb="suspend"
    )


@transaction.atomic(durable=True)
def manufacturer_revoke(*, actor: Actor, manufacturer: Manufacturer, reason: str) -> Manufacturer:
    """Revoke (撤销) a manufacturer's filing, for good."""
    return _manufacturer_status(
        actor=actor, manufacturer=manufacturer, to=FilingStatus.REVOKED, reason=reason, verb="revoke"
    )


@transaction.atomic(durable=True)
def manufacturer_reinstate(*, actor: Actor, manufacturer: Manufacturer, reason: str) -> Manufacturer:
    """Lift a suspension."""
    return _manufacturer_status(
        actor=actor, manufacturer=manufacturer, to=FilingStatus.VALID, reason=reason, verb="reinstate"
    )


@transaction.atomic(durable=True)
def manufacturer_delete(*, actor: Actor, manufacturer: Manufacturer, reason: str = "") -> None:
    """Delete a manufacturer entered by mistake: only while nothing refers to it (no product filed)."""
    filings_check_editable()
    obj = Manufacturer.objects.select_for_update().get(pk=manufacturer.pk)
    audit_record(
        actor=actor, action="manufacturer.delete", target=obj, reason=reason, changes=obj.journal_payload()
    )
    _journal_manufacturer(obj, op=JournalOp.DELETE)
    _delete(obj, what=_("filed products"))


# --- Filed products (ministry) ---------------------------------------------------------------------------


@transaction.atomic(durable=True)
def product_register(
    *,
    actor: Actor,
    manufacturer: Manufacturer,
    product_type: str,
    name: str,
    model: str,
    filing_number: str,
    filing_date: dt.date,
    valid_until: dt.date,
    test_report: str = "",
) -> FiledProduct:
    """File a product (产品备案) of a filed manufacturer. Ministry only."""
    filings_check_editable()
    _check_product_type(product_type)
    name = _require_name(name)
    model = (model or "").strip()
    if not model:
        raise DomainError(_("The model is required."), code="model_required", detail={"field": "model"})
    filing_number = (filing_number or "").strip()
    if not filing_number:
        raise DomainError(
            _("The filing number is required."),
            code="filing_number_required",
            detail={"field": "filing_number"},
        )
    _check_validity_period(filing_date, valid_until)
    manufacturer = Manufacturer.objects.select_for_update().get(pk=manufacturer.pk)
    if manufacturer.status == FilingStatus.REVOKED:
        raise DomainError(
            _("%(manufacturer)s has a revoked filing: no product can be filed for it."),
            {"manufacturer": manufacturer},
            code="manufacturer_revoked",
        )
    if FiledProduct.objects.filter(filing_number=filing_number).exists():
        raise DomainError(
            _("Filing number %(number)s is already used; modify that product instead."),
            {"number": filing_number},
            code="duplicate_filing_number",
            detail={"field": "filing_number"},
        )
    now = timezone.now()
    obj = FiledProduct.objects.create(
        manufacturer=manufacturer,
        product_type=product_type,
        name=name,
        model=model,
        filing_number=filing_number,
        filing_date=filing_date,
        valid_until=valid_until,
        test_report=test_report,
        registered_at=now,
        changed_at=now,
    )
    audit_record(actor=actor, action="filedproduct.register", target=obj)
    _journal_product(obj)
    return obj


@transaction.atomic(durable=True)
def product_update(*, actor: Actor, product: FiledProduct, reason: str = "", **changes) -> FiledProduct:
    """Modify a filed product (e.g. extend its validity); the filing number never changes. Ministry only."""
    filings_check_editable()
    _unknown_fields(changes, PRODUCT_EDITABLE)
    if "product_type" in changes:
        _check_product_type(changes["product_type"])
    if "name" in changes:
        changes["name"] = _require_name(changes["name"])
    obj = FiledProduct.objects.select_related("manufacturer").select_for_update().get(pk=product.pk)
    _check_validity_period(
        changes.get("filing_date", obj.filing_date), changes.get("valid_until", obj.valid_until)
    )
    diff = _apply_changes(obj, changes)
    if not diff:
        return obj
    obj.changed_at = timezone.now()
    obj.save(update_fields=[*diff, "changed_at"])
    audit_record(actor=actor, action="filedproduct.update", target=obj, reason=reason, changes=diff)
    _journal_product(obj)
    return obj


def _product_status(*, actor: Actor, product: FiledProduct, to: str, reason: str, verb: str) -> FiledProduct:
    filings_check_editable()
    return status_change_with_reason(
        product,
        actor=actor,
        to=to,
        reason=reason,
        action=f"filedproduct.{verb}",
        journal=_journal_product,
        queryset=FiledProduct.objects.select_related("manufacturer"),
    )


@transaction.atomic(durable=True)
def product_suspend(*, actor: Actor, product: FiledProduct, reason: str) -> FiledProduct:
    """Suspend (暂停) a product's filing: it stops counting as valid until reinstated."""
    return _product_status(
        actor=actor, product=product, to=FilingStatus.SUSPENDED, reason=reason, verb="suspend"
    )


@transaction.atomic(durable=True)
def product_revoke(*, actor: Actor, product: FiledProduct, reason: str) -> FiledProduct:
    """Revoke (撤销) a product's filing, for good: it no longer counts as valid anywhere."""
    return _product_status(
        actor=actor, product=product, to=FilingStatus.REVOKED, reason=reason, verb="revoke"
    )


@transaction.atomic(durable=True)
def product_reinstate(*, actor: Actor, product: FiledProduct, reason: str) -> FiledProduct:
    """Lift a suspension."""
    return _product_status(
        actor=actor, product=product, to=FilingStatus.VALID, reason=reason, verb="reinstate"
    )


@transaction.atomic(durable=True)
def product_delete(*, actor: Actor, product: FiledProduct, reason: str = "") -> None:
    """Delete a product entered by mistake: only while nothing refers to it (no actual use registered)."""
    filings_check_editable()
    obj = FiledProduct.objects.select_related("manufacturer").select_for_update().get(pk=product.pk)
    audit_record(
        actor=actor, action="filedproduct.delete", target=obj, reason=reason, changes=obj.journal_payload()
    )
    _journal_product(obj, op=JournalOp.DELETE)
    _delete(obj, what=_("actual-use registrations"))


# --- The read-only copy below the ministry ---------------------------------------------------------------


def _payload_error(kind: str, problem: str) -> DomainError:
    return DomainError(
        _("A %(kind)s journal row cannot be applied: %(problem)s."),
        {"kind": kind, "problem": problem},
        code="filing_payload_invalid",
    )


def _parse(payload: dict, kind: str, key: str, parser=str, *, optional: bool = False):
    value = payload.get(key)
    if value in (None, ""):
        if optional:
            return None if parser is not str else ""
        raise _payload_error(kind, f"{key} is missing")
    try:
        return parser(value)
    except (TypeError, ValueError):
        raise _payload_error(kind, f"{key}={value!r}") from None


def _aware(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _status(value: str) -> str:
    if value not in FilingStatus.values:
        raise ValueError(value)
    return value


def _manufacturer_values(payload: dict) -> tuple[str, dict]:
    kind = MANUFACTURER_KIND
    code = _parse(payload, kind, "code")
    region = Region.objects.filter(code=_parse(payload, kind, "region")).first()
    if region is None:
        raise _payload_error(kind, f"unknown region {payload.get('region')!r}")
    return code, {
        "name": _parse(payload, kind, "name"),
        "region": region,
        "address": _parse(payload, kind, "address", optional=True),
        "contact_person": _parse(payload, kind, "contact_person", optional=True),
        "phone": _parse(payload, kind, "phone", optional=True),
        "status": _parse(payload, kind, "status", _status),
        "status_reason": _parse(payload, kind, "status_reason", optional=True),
        "status_changed_at": _parse(payload, kind, "status_changed_at", _aware, optional=True),
        "registered_at": _parse(payload, kind, "registered_at", _aware),
        "changed_at": _parse(payload, kind, "changed_at", _aware),
    }


def _product_values(payload: dict) -> tuple[str, dict]:
    kind = PRODUCT_KIND
    number = _parse(payload, kind, "filing_number")
    manufacturer = Manufacturer.objects.filter(code=_parse(payload, kind, "manufacturer")).first()
    if manufacturer is None:
        raise DomainError(
            _(
                "Filed product %(number)s names manufacturer %(code)s, which this node does not hold yet: "
                "apply the manufacturer first."
            ),
            {"number": number, "code": payload.get("manufacturer")},
            code="filing_manufacturer_unknown",
        )
    product_type = _parse(payload, kind, "product_type")
    _check_product_type(product_type)
    return number, {
        "manufacturer": manufacturer,
        "product_type": product_type,
        "name": _parse(payload, kind, "name"),
        "model": _parse(payload, kind, "model"),
        "filing_date": _parse(payload, kind, "filing_date", dt.date.fromisoformat),
        "valid_until": _parse(payload, kind, "valid_until", dt.date.fromisoformat),
        "test_report": _parse(payload, kind, "test_report", optional=True),
        "status": _parse(payload, kind, "status", _status),
        "status_reason": _parse(payload, kind, "status_reason", optional=True),
        "status_changed_at": _parse(payload, kind, "status_changed_at", _aware, optional=True),
        "registered_at": _parse(payload, kind, "registered_at", _aware),
        "changed_at": _parse(payload, kind, "changed_at", _aware),
    }


FILING_APPLY = {
    MANUFACTURER_KIND: (Manufacturer, "code", _manufacturer_values, "manufacturer", _("filed products")),
    PRODUCT_KIND: (
        FiledProduct,
        "filing_number",
        _product_values,
        "filedproduct",
        _("actual-use registrations"),
    ),
}


@transaction.atomic(durable=True)
def filing_apply(*, actor: Actor, kind: str, payload: dict, op: str = JournalOp.UPSERT):
    """Apply one filing journal row from above (a manufacturer or a product) to this node's read-only copy.

    Idempotent: a payload equal to what the node holds writes nothing (no audit, no journal). A change is
    audited and re-journaled with the same kind, key and payload so it travels on down. A delete of a record
    something here refers to is refused (the exchange quarantines it with this reason).
    """
    if filings_editable_here():
        raise DomainError(
            _("The ministry is where filings are made; it does not apply copies of them."),
            code="filing_apply_at_source",
        )
    if actor.channel != Channel.SYNC:
        raise PermissionDeniedError(
            _("Filings below the ministry are written by sync only."), code="filing_apply_channel"
        )
    if kind not in FILING_APPLY:
        raise DomainError(_("Unknown filing kind %(kind)s."), {"kind": kind}, code="filing_kind_unknown")
    model, key_field, parse_values, label, referrers = FILING_APPLY[kind]
    key = _parse(payload, kind, key_field)
    obj = model.objects.select_for_update().filter(**{key_field: key}).first()
    if op == JournalOp.DELETE:
        if obj is None:
            return None  # already gone: applying twice changes nothing
        audit_record(actor=actor, action=f"{label}.apply_delete", target=obj, changes=obj.journal_payload())
        journal_append(kind=kind, key=key, payload=payload, op=JournalOp.DELETE)
        _delete(obj, what=referrers)
        return None
    key, values = parse_values(payload)
    if obj is None:
        obj = model.objects.create(**{key_field: key}, **values)
        audit_record(actor=actor, action=f"{label}.apply", target=obj, changes={"created": True})
    else:
        diff = _apply_changes(obj, values)
        if not diff:
            return obj
        obj.save(update_fields=list(diff))
        audit_record(actor=actor, action=f"{label}.apply", target=obj, changes=diff)
    # Re-journaled exactly as it arrived, so it travels on down (the Exchange issue adds the origin).
    journal_append(kind=kind, key=key, payload=payload)
    return obj


# --- Actual use (city and province) ----------------------------------------------------------------------


def _institution_fields(institution) -> dict:
    if isinstance(institution, MedicalInstitution):
        return {"medical_institution": institution, "financial_institution": None}
    if isinstance(institution, FinancialInstitution):
        return {"financial_institution": institution, "medical_institution": None}
    raise DomainError(
        _("Actual use is registered for a medical or financial institution."), code="actual_use_institution"
    )


def actual_use_editable_here() -> bool:
    """Actual use is registered at cities and provinces; the ministry's rows are copies from below."""
    return settings.HC_TIER != Tier.MINISTRY


def actual_use_check_editable() -> None:
    """Raise the stable `actual_use_read_only` error at the ministry (actions and API views call it)."""
    if not actual_use_editable_here():
        raise PermissionDeniedError(
            _(
                "Actual use is registered by the provinces and cities; at the ministry it arrives by sync "
                "and is read-only."
            ),
            code="actual_use_read_only",
        )


@transaction.atomic(durable=True)
def actual_use_register(
    *,
    actor: Actor,
    institution: MedicalInstitution | FinancialInstitution,
    product: FiledProduct,
    quantity: int,
    since: dt.date,
    note: str = "",
) -> ActualUse:
    """Register that `quantity` of a validly filed product are in use at an institution since a date."""
    actual_use_check_editable()
    fields = _institution_fields(institution)
    if institution.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(institution)s is deregistered: no actual use can be registered for it."),
            {"institution": institution},
            code="institution_inactive",
        )
    if not institution.region_id.startswith(node_prefix()) or (
        actor.user is not None and not user_can_see_region(actor.user, institution.region_id)
    ):
        raise PermissionDeniedError(
            _("%(institution)s is outside your region."),
            {"institution": institution},
            code="institution_out_of_scope",
        )
    product = FiledProduct.objects.select_related("manufacturer").get(pk=product.pk)
    if not product.is_valid_on():
        raise DomainError(
            _(
                "%(product)s is not a validly filed product today (status “%(status)s”, valid until "
                "%(until)s): only valid filed products can be registered in use."
            ),
            {
                "product": product,
                "status": product.get_status_display(),
                "until": product.valid_until.isoformat(),
            },
            code="product_not_valid",
            detail={"field": "product"},
        )
    _check_use_values(quantity=quantity, since=since)
    now = timezone.now()
    obj = ActualUse.objects.create(
        **fields,
        region_id=institution.region_id,
        product=product,
        quantity=quantity,
        since=since,
        note=note,
        registered_at=now,
        changed_at=now,
    )
    audit_record(
        actor=actor,
        action="actualuse.register",
        target=obj,
        changes={"institution": institution.code, "product": product.filing_number, "quantity": quantity},
    )
    _journal_use(obj)
    return obj


def _check_use_values(*, quantity=None, since=None) -> None:
    if quantity is not None and (not isinstance(quantity, int) or quantity < 1):
        raise DomainError(
            _("The quantity must be a whole number of at least 1."),
            code="quantity_invalid",
            detail={"field": "quantity"},
        )
    if since is not None and since > timezone.localdate():
        raise DomainError(
            _("The date in use since cannot be in the future."),
            code="since_future",
            detail={"field": "since"},
        )


@transaction.atomic(durable=True)
def actual_use_update(*, actor: Actor, use: ActualUse, reason: str = "", **changes) -> ActualUse:
    """Correct the quantity, the date or the note of a registration still in use."""
    actual_use_check_editable()
    _unknown_fields(changes, ACTUAL_USE_EDITABLE)
    _check_use_values(quantity=changes.get("quantity"), since=changes.get("since"))
    obj = ActualUse.objects.select_related("product").select_for_update().get(pk=use.pk)
    if obj.status != ActualUseStatus.IN_USE:
        raise DomainError(
            _("This registration is retired and can no longer be changed; register the use again instead."),
            code="actual_use_retired",
        )
    diff = _apply_changes(obj, changes)
    if not diff:
        return obj
    obj.changed_at = timezone.now()
    obj.save(update_fields=[*diff, "changed_at"])
    audit_record(actor=actor, action="actualuse.update", target=obj, reason=reason, changes=diff)
    _journal_use(obj)
    return obj


@transaction.atomic(durable=True)
def actual_use_retire(*, actor: Actor, use: ActualUse, reason: str) -> ActualUse:
    """The products are no longer in use there (停用): the row stays, and stops counting."""
    actual_use_check_editable()
    reason = require_reason(reason)
    obj = ActualUse.objects.select_related("product").select_for_update().get(pk=use.pk)
    fields = transition(obj, to=ActualUseStatus.RETIRED)
    obj.status_reason = reason[:200]
    obj.changed_at = timezone.now()
    obj.save(update_fields=[*fields, "status_reason", "changed_at"])
    audit_record(actor=actor, action="actualuse.retire", target=obj, reason=reason)
    _journal_use(obj)
    return obj


@transaction.atomic(durable=True)
def actual_use_apply(*, actor: Actor, payload: dict) -> ActualUse:
    """Apply one actual-use journal row from below (province or ministry), idempotently, keyed by its uid.

    The institution (by code) and the product (by filing number) must be here already: institutions travel
    up and filings down before it. Re-journaled unchanged so it travels on up.
    """
    if actor.channel != Channel.SYNC:
        raise PermissionDeniedError(
            _("Actual use from below is written by sync only."), code="actual_use_apply_channel"
        )
    kind = ACTUAL_USE_KIND
    uid = _parse(payload, kind, "uid", uuid.UUID)
    model = MedicalInstitution if payload.get("institution_kind") == "medical" else FinancialInstitution
    institution = model.objects.filter(code=_parse(payload, kind, "institution")).first()
    product = FiledProduct.objects.filter(filing_number=_parse(payload, kind, "product")).first()
    if institution is None or product is None:
        raise DomainError(
            _(
                "Actual use %(uid)s names institution %(institution)s and product %(product)s; this node "
                "does not hold both yet."
            ),
            {"uid": uid, "institution": payload.get("institution"), "product": payload.get("product")},
            code="actual_use_reference_unknown",
        )
    status = _parse(payload, kind, "status")
    if status not in ActualUseStatus.values:
        raise _payload_error(kind, f"status={status!r}")
    values = {
        **_institution_fields(institution),
        "region_id": institution.region_id,
        "product": product,
        "quantity": _parse(payload, kind, "quantity", int),
        "since": _parse(payload, kind, "since", dt.date.fromisoformat),
        "note": _parse(payload, kind, "note", optional=True),
        "status": status,
        "status_reason": _parse(payload, kind, "status_reason", optional=True),
        "status_changed_at": _parse(payload, kind, "status_changed_at", _aware, optional=True),
        "registered_at": _parse(payload, kind, "registered_at", _aware),
        "changed_at": _parse(payload, kind, "changed_at", _aware),
    }
    obj = ActualUse.objects.select_for_update().filter(uid=uid).first()
    if obj is None:
        obj = ActualUse.objects.create(uid=uid, **values)
        audit_record(actor=actor, action="actualuse.apply", target=obj, changes={"created": True})
    else:
        diff = _apply_changes(obj, {k: v for k, v in values.items() if k != "region_id"})
        if obj.region_id != values["region_id"]:
            diff["region"] = [obj.region_id, values["region_id"]]
            obj.region_id = values["region_id"]
        if not diff:
            return obj
        obj.save(update_fields=list(diff))
        audit_record(actor=actor, action="actualuse.apply", target=obj, changes=diff)
    journal_append(kind=kind, key=str(uid), payload=payload)
    return obj
