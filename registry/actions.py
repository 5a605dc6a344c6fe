"""Every write the registry makes: regions, centres, this node's identity, staff users, unmasked views.

Each action is keyword-only, takes the acting Actor, runs in one durable transaction and writes the
audit row and (for what travels between tiers) the journal row in that same transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import CentreStatus, RegionLevel, Tier
from registry.errors import DomainError
from registry.gbt2260 import divisions
from registry.journal import journal_append
from registry.lifecycle import status_change_with_reason
from registry.models import Region, RegistrationCentre, User
from registry.models.regions import region_level

CENTRE_KIND = "registry.centre"
CENTRE_FIELDS = ("name", "contact_person", "phone", "address", "head", "base_url", "public_key")
TIER_OF_LEVEL = {
    RegionLevel.NATION: Tier.MINISTRY,
    RegionLevel.PROVINCE: Tier.PROVINCE,
    RegionLevel.CITY: Tier.CITY,
}


@transaction.atomic
def regions_load(*, region_model=Region) -> int:
    """Load (or refresh) the GB/T 2260 tree from python-stdnum's data; returns the number of regions.

    `region_model` lets the data migration pass its historical model.
    """
    existing = set(region_model.objects.values_list("code", flat=True))
    new, changed = [], []
    full_names: dict[str, str] = {}
    for division in divisions():
        parent_full = full_names.get(division.parent or "", "")
        full_name = (
            f"{parent_full} {division.name}".strip()
            if division.parent not in (None, "100000")
            else division.name
        )
        full_names[division.code] = full_name
        region = region_model(
            code=division.code,
            name=division.name,
            full_name=full_name,
            level=region_level(division.code),
            parent_id=division.parent,
        )
        (changed if division.code in existing else new).append(region)
    region_model.objects.bulk_create(new, batch_size=1000)
    region_model.objects.bulk_update(changed, ["name", "full_name", "level", "parent"], batch_size=1000)
    return len(new) + len(changed)


def _centre_journal(centre: RegistrationCentre) -> None:
    journal_append(kind=CENTRE_KIND, key=centre.region_id, payload=centre.journal_payload())


@transaction.atomic(durable=True)
def centre_register(
    *,
    actor: Actor,
    region: Region,
    name: str,
    contact_person: str = "",
    phone: str = "",
    address: str = "",
    head: str = "",
    base_url: str = "",
    public_key: str = "",
) -> RegistrationCentre:
    """Register a registration-management centre (注册管理中心) for a province, city or the nation."""
    tier = TIER_OF_LEVEL.get(region.level)
    if tier is None:
        raise DomainError(
            _("A registration centre serves the nation, a province or a prefecture city, not %(region)s."),
            {"region": region},
            code="centre_region_level",
        )
    if RegistrationCentre.objects.filter(region=region).exists():
        raise DomainError(
            _("%(region)s already has a registration centre; modify or reinstate it instead."),
            {"region": region},
            code="centre_exists",
        )
    now = timezone.now()
    centre = RegistrationCentre.objects.create(
        tier=tier,
        region=region,
        name=name,
        contact_person=contact_person,
        phone=phone,
        address=address,
        head=head,
        base_url=base_url,
        public_key=public_key,
        registered_at=now,
        changed_at=now,
    )
    audit_record(actor=actor, action="centre.register", target=centre)
    _centre_journal(centre)
    return centre


@transaction.atomic(durable=True)
def centre_update(
    *, actor: Actor, centre: RegistrationCentre, reason: str = "", **changes
) -> RegistrationCentre:
    """Modify a centre's details; the audit row keeps what changed (old and new values)."""
    unknown = set(changes) - set(CENTRE_FIELDS)
    if unknown:
        raise DomainError(
            _("These fields cannot be changed here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
        )
    centre = RegistrationCentre.objects.select_for_update().get(pk=centre.pk)
    diff = {}
    for field, value in changes.items():
        old = getattr(centre, field)
        if old != value:
            diff[field] = [old, value]
            setattr(centre, field, value)
    if not diff:
        return centre
    centre.changed_at = timezone.now()
    centre.save(update_fields=[*diff, "changed_at"])
    # Keys are long and public: record that one changed, not the PEM text twice.
    audit_changes = {k: (["…", "…"] if k == "public_key" else v) for k, v in diff.items()}
    audit_record(actor=actor, action="centre.update", target=centre, reason=reason, changes=audit_changes)
    _centre_journal(centre)
    return centre


@transaction.atomic(durable=True)
def centre_deregister(*, actor: Actor, centre: RegistrationCentre, reason: str) -> RegistrationCentre:
    """Deregister (注销) a centre: the record stays, marked deregistered, with the reason and time."""
    return status_change_with_reason(
        centre,
        actor=actor,
        to=CentreStatus.DEREGISTERED,
        reason=reason,
        action="centre.deregister",
        journal=_centre_journal,
    )


@transaction.atomic(durable=True)
def centre_reinstate(*, actor: Actor, centre: RegistrationCentre, reason: str) -> RegistrationCentre:
    """Bring a deregistered centre back into service."""
    return status_change_with_reason(
        centre,
        actor=actor,
        to=CentreStatus.ACTIVE,
        reason=reason,
        action="centre.reinstate",
        journal=_centre_journal,
    )


def node_init(
    *, actor: Actor, tier: str, region_code: str, parent_url: str = "", name: str = "", base_url: str = ""
):
    """Create this node's key pair (outside the database) and its own centre record. Safe to re-run."""
    from registry.node import node_key_create, public_key_pem
    from registry.protection import key_file_create

    if tier != settings.HC_TIER or region_code != settings.HC_REGION:
        raise DomainError(
            _(
                "The node is configured as %(configured)s; set HC_TIER=%(tier)s and HC_REGION=%(region)s first."
            ),
            {"configured": f"{settings.HC_TIER} {settings.HC_REGION}", "tier": tier, "region": region_code},
            code="node_config_mismatch",
        )
    if not Region.objects.exists():
        regions_load()
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise DomainError(_("Unknown region code %(code)s."), {"code": region_code}, code="unknown_region")
    if TIER_OF_LEVEL.get(region.level) != tier:
        raise DomainError(
            _("Region %(region)s is not at the %(tier)s tier."), {"region": region, "tier": Tier(tier).label}
        )
    key = node_key_create(settings.HC_NODE_KEY_FILE)
    if not settings.HC_DATA_KEYS and not settings.HC_DATA_KEYS_FILE.exists():
        key_file_create(settings.HC_DATA_KEYS_FILE)
    pem = public_key_pem(key)
    default_name = _("%(region)s Resident Health Card Registration Centre") % {"region": region.name}
    centre = RegistrationCentre.objects.filter(region=region).first()
    if centre is None:
        centre = centre_register(
            actor=actor, region=region, name=name or str(default_name), base_url=base_url, public_key=pem
        )
    elif centre.public_key != pem or (base_url and centre.base_url != base_url):
        centre = centre_update(
            actor=actor,
            centre=centre,
            public_key=pem,
            base_url=base_url or centre.base_url,
            reason="node init",
        )
    return centre


@transaction.atomic(durable=True)
def user_create(
    *,
    actor: Actor,
    username: str,
    password: str,
    roles: list[str],
    scope_region: Region | None,
    real_name: str = "",
    id_number: str = "",
    phone: str = "",
    is_superuser: bool = False,
) -> User:
    """Create a staff user with roles (groups) and a scope region."""
    user = User(
        username=username,
        is_staff=True,
        is_superuser=is_superuser,
        scope_region=scope_region,
        real_name=real_name,
        id_number=id_number,
        phone=phone,
    )
    user.set_password(password)
    user.save()
    user.groups.set(Group.objects.filter(name__in=roles))
    audit_record(
        actor=actor,
        action="user.create",
        target=user,
        region_code=scope_region.code if scope_region else "",
        changes={"roles": roles},
    )
    return user


def personal_data_reveal(*, actor: Actor, target, fields: list[str], reason: str = "") -> dict[str, str]:
    """An unmasked view of personal data: needs the permission, and every one is audited."""
    user = actor.user
    if user is None or not user.has_perm("registry.view_personal_data"):
        from registry.errors import PermissionDeniedError

        raise PermissionDeniedError(
            _("You are not allowed to view unmasked personal data."), code="personal_data_forbidden"
        )
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="personal_data.reveal",
            target=target,
            reason=reason,
            changes={"fields": fields},
        )
    return {field: getattr(target, field) for field in fields}


# --- Background exports --------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def export_job_create(*, user: User, source: str, params: dict, fmt: str, rows_total: int | None = None):
    """Queue a large export; the worker writes the file and reports progress on the job."""
    from registry.models import ExportJob
    from registry.tasks import export_job_run_task

    job = ExportJob.objects.create(user=user, source=source, params=params, format=fmt, rows_total=rows_total)
    audit_record(
        actor=Actor.for_user(user),
        action="export.request",
        target=job,
        changes={"source": source, "params": params},
    )
    transaction.on_commit(lambda: export_job_run_task.delay(job.pk))
    return job


def export_job_run(*, job_id: int) -> None:
    """Write the job's file. Not one transaction: progress must be visible while it runs."""
    import tempfile

    from django.core.files import File

    from registry.choices import ExportJobStatus
    from registry.export_sources import sheet_for_job
    from registry.exports import WRITERS, export_filename
    from registry.models import ExportJob

    job = ExportJob.objects.get(pk=job_id)
    if job.status == ExportJobStatus.DONE:
        return  # a redelivered task: the file exists already
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJobStatus.RUNNING, rows_done=0, error="")
    try:
        sheet = sheet_for_job(job)

        def progress(done: int) -> None:
            ExportJob.objects.filter(pk=job.pk).update(rows_done=done)

        with tempfile.TemporaryFile() as handle:
            WRITERS[job.format](sheet, handle, progress)
            handle.seek(0)
            job.file.save(export_filename(sheet.title, job.format), File(handle), save=False)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJobStatus.DONE, file=job.file.name, finished_at=timezone.now()
        )
    except Exception as exc:
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise


# --- Personal-data keys ---------------------------------------------------------------------------------


def data_keys_status() -> dict[str, dict[str, int]]:
    """For each model with encrypted fields: how many values each key id sealed."""
    from collections import Counter as Tally

    from django.apps import apps as django_apps
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from registry.protection import encrypted_fields, sealed_key_id

    report: dict[str, dict[str, int]] = {}
    for model in django_apps.get_models():
        fields = encrypted_fields(model)
        if not fields:
            continue
        tally: Tally = Tally()
        raw = {f"raw_{f.name}": Cast(f.name, TextField()) for f in fields}
        for row in model._base_manager.annotate(**raw).values_list(*raw).iterator(chunk_size=2000):
            tally.update(sealed_key_id(value) for value in row if value)
        report[model._meta.label] = dict(tally)
    return report


def data_keys_rotate(*, actor: Actor, batch_size: int = 1000) -> dict[str, int]:
    """Re-seal every value not sealed with the active key, and recompute blind indexes; batch by batch.

    Each batch is its own transaction, so a rotation interrupted half-way simply resumes when run again.
    """
    from django.apps import apps as django_apps
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from registry.protection import BlindIndexField, encrypted_fields, keyring, sealed_key_id

    active = keyring().active
    rotated: dict[str, int] = {}
    for model in django_apps.get_models():
        fields = encrypted_fields(model)
        if not fields:
            continue
        index_fields = [f.name for f in model._meta.concrete_fields if isinstance(f, BlindIndexField)]
        raw = {f"raw_{f.name}": Cast(f.name, TextField()) for f in fields}
        count, last_pk = 0, None
        while True:
            page = model._base_manager.order_by("pk")
            if last_pk is not None:
                page = page.filter(pk__gt=last_pk)
            rows = list(page.annotate(**raw).values_list("pk", *raw)[:batch_size])
            if not rows:
                break
            last_pk = rows[-1][0]
            stale = [row[0] for row in rows if any(v and sealed_key_id(v) != active for v in row[1:])]
            if not stale:
                continue
            with transaction.atomic():
                for obj in model._base_manager.select_for_update().filter(pk__in=stale):
                    obj.save(update_fields=[f.name for f in fields] + index_fields)
            count += len(stale)
        rotated[model._meta.label] = count
    with transaction.atomic():
        audit_record(actor=actor, action="data_keys.rotate", changes={"active": active, "rotated": rotated})
    return rotated
