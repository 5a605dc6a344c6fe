"""The card maker's personalisation file: contents, hash, signature, and who may download it."""

import csv
import hashlib
import io
import json
import zipfile

import pytest
from django.utils import timezone

from cards import actions
from cards.personalisation import CARD_COLUMNS, verify_personalisation_file
from registry.errors import DomainError
from registry.models import AuditEntry
from registry.node import public_key_fingerprint, verify

from . import test_production_setup as shared

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan
node_key = shared.node_key


def _open(content: bytes) -> tuple[bytes, bytes, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert sorted(archive.namelist()) == ["cards.csv", "manifest.json", "manifest.sig"]
        return archive.read("cards.csv"), archive.read("manifest.json"), archive.read("manifest.sig").decode()


def _rezip(cards: bytes, manifest: bytes, signature: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("cards.csv", cards)
        archive.writestr("manifest.json", manifest)
        archive.writestr("manifest.sig", signature)
    return out.getvalue()


@pytest.mark.django_db
def test_manifest_hash_matches_and_the_signature_verifies_offline(
    make_plan,
    make_centre,
    node_key,
    system_actor,
):
    make_centre("610100", name="西安市居民健康卡注册管理中心")
    plan = make_plan("submitted", n=2)
    made = actions.plan_personalisation_file(actor=system_actor, plan=plan)
    body, manifest_bytes, signature = _open(made.content)
    manifest = json.loads(manifest_bytes)
    assert manifest["cards_sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["count"] == 2 and manifest["plan_number"] == plan.number
    assert manifest["card_maker_code"] == plan.card_maker.code and manifest["node_region"] == "610100"
    assert manifest["signer_key_fingerprint"] == public_key_fingerprint(node_key)
    assert verify(manifest_bytes, signature, public_key_pem_text=node_key)  # registry.node.verify, offline
    assert verify_personalisation_file(made.content, public_key_pem_text=node_key) == manifest

    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert tuple(rows[0]) == CARD_COLUMNS
    items = {item.pk: item for item in plan.items.select_related("application__resident")}
    for row in rows:
        item = items[int(row["item_id"])]
        holder = item.application.resident
        assert row["card_no"] == row["document_number"] == holder.document_number
        assert (
            row["name"] == holder.name and row["sex"] == holder.sex and row["ethnicity"] == holder.ethnicity
        )
        assert row["birth_date"] == holder.birth_date.strftime("%Y%m%d")
        assert row["issuer_name"] == "西安市居民健康卡注册管理中心" and row["issuer_code"] == "610100"
        assert row["application_city_code"] == "610100" and row["card_type"] and len(row["spec_version"]) == 4
        expiry = timezone.localdate(plan.created_at)
        assert row["card_expiry"] == f"{expiry.year + 10}{expiry:%m%d}"


@pytest.mark.django_db
def test_a_tampered_manifest_or_cards_file_fails_verification(make_plan, node_key, system_actor):
    plan = make_plan("submitted", n=2)
    body, manifest_bytes, signature = _open(
        actions.plan_personalisation_file(actor=system_actor, plan=plan).content
    )
    manifest = json.loads(manifest_bytes)
    manifest["count"] = 3
    tampered = json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2).encode()
    assert not verify(tampered, signature, public_key_pem_text=node_key)
    with pytest.raises(DomainError) as caught:
        verify_personalisation_file(_rezip(body, tampered, signature), public_key_pem_text=node_key)
    assert caught.value.code == "personalisation_signature_invalid"
    with pytest.raises(DomainError) as caught:
        verify_personalisation_file(
            _rezip(body + b"x", manifest_bytes, signature), public_key_pem_text=node_key
        )
    assert caught.value.code == "personalisation_hash_mismatch"


@pytest.mark.django_db
def test_another_key_does_not_verify(make_plan, node_key, system_actor, tmp_path, settings):
    from registry.node import node_key_create, public_key_pem

    made = actions.plan_personalisation_file(actor=system_actor, plan=make_plan("submitted", n=1))
    other = public_key_pem(node_key_create(tmp_path / "other.pem"))
    with pytest.raises(DomainError) as caught:
        verify_personalisation_file(made.content, public_key_pem_text=other)
    assert caught.value.code == "personalisation_signature_invalid"


@pytest.mark.django_db
def test_the_download_needs_the_permission_and_is_audited(make_plan, make_user, node_key):
    from registry.actors import Actor

    plan = make_plan("submitted", n=1)
    viewer = make_user("viewer", roles=["只读用户"], scope="610100")
    with pytest.raises(DomainError) as caught:
        actions.plan_personalisation_file(actor=Actor.for_user(viewer), plan=plan)
    assert caught.value.code == "permission_denied"
    assert not AuditEntry.objects.filter(action="production_plan.personalisation_file").exists()
    manager = make_user("manager", roles=["卡管理员"], scope="610100")
    made = actions.plan_personalisation_file(actor=Actor.for_user(manager), plan=plan)
    entry = AuditEntry.objects.get(action="production_plan.personalisation_file")
    assert entry.user == manager and entry.changes["sha256"] == made.manifest["cards_sha256"]
    assert entry.changes["count"] == 1
    # The audit row names the file, never the holders' data it carries.
    holder = plan.items.get().application.resident
    assert holder.document_number not in json.dumps(entry.changes) and holder.name not in entry.object_repr
