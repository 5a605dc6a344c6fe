"""Down direction (filings and centres from the parent), file mode, reconciliation, the admin pages."""

from __future__ import annotations

import pytest

from exchange import actions
from exchange.choices import BundleStatus, Direction, RunStatus
from exchange.models import ReconcileReport, SyncRun
from exchange.sync.apply import bundle_receive
from exchange.sync.bundle import bundle_build
from exchange.sync.reconcile import digest_of
from exchange.sync.runner import checkpoint_of, sync_pull, sync_reconcile
from exchange.sync.wire import ack_sign
from institutions.models import MedicalInstitution
from registry.errors import DomainError
from registry.models import JournalEntry, RegistrationCentre
from tests.exchange.sync.conftest import Node, child_bundle, institution_row, row
from vendors.models import Manufacturer

pytestmark = pytest.mark.django_db

STAMP = "2026-11-01T09:00:00+08:00"


def manufacturer_row(seq: int, code: str = "91110000100000000X", name: str = "某某智能卡有限公司"):
    payload = {
        "code": code,
        "name": name,
        "region": "110000",
        "address": "",
        "contact_person": "",
        "phone": "",
        "status": "valid",
        "status_reason": "",
        "status_changed_at": None,
        "registered_at": STAMP,
        "changed_at": STAMP,
    }
    return row("vendors.manufacturer", code, payload, seq=seq, origin="100000")


def centre_row(seq: int, region: str, pem: str):
    payload = {
        "tier": "city",
        "region": region,
        "name": "宝鸡市居民健康卡注册管理中心",
        "contact_person": "",
        "phone": "",
        "address": "",
        "head": "",
        "status": "active",
        "status_reason": "",
        "base_url": "",
        "public_key": pem,
        "registered_at": STAMP,
        "changed_at": STAMP,
    }
    return row("registry.centre", region, payload, seq=seq, origin="610000")


class FakeParentDown:
    """The province above this city, serving pages of rows (built here as the province would)."""

    def __init__(self, province: Node, city: Node, rows: list[dict]):
        self.province, self.city, self.rows, self.calls = province, city, rows, []

    def pull(self, peer, *, after: int, limit: int):
        self.calls.append(after)
        page = [r for r in self.rows if r["seq"] > after][:limit]
        if not page:
            return None
        with self.province.acting():
            return bundle_build(
                page,
                sender="610000",
                receiver="610100",
                receiver_pem=self.city.pem,
                direction=Direction.DOWN,
                first_seq=after + 1,
                last_seq=page[-1]["seq"],
            ).to_bytes()

    def digest(self, peer):
        with self.province.acting():
            return ack_sign(self.remote)


@pytest.fixture
def city(settings, tmp_path, make_centre):
    settings.HC_TIER, settings.HC_REGION, settings.HC_PARENT_URL = "city", "610100", "http://province.test"
    me = Node("610100", settings.HC_NODE_KEY_FILE)
    province = Node("610000", tmp_path / "province.pem")
    make_centre("610100", public_key=me.pem)
    make_centre("610000", public_key=province.pem)
    return {"me": me, "province": province}


def test_pull_applies_filings_and_centres_read_only_and_moves_the_down_checkpoint(city, tmp_path):
    baoji = Node("610300", tmp_path / "baoji.pem")
    rows = [manufacturer_row(11), centre_row(12, "610300", baoji.pem), manufacturer_row(13, name="某某卡业")]
    parent = FakeParentDown(city["province"], city["me"], rows)

    run = sync_pull(transport=parent, limit=2)
    assert run.status == RunStatus.OK, run.message
    assert (run.bundles, run.rows) == (2, 3)
    assert Manufacturer.objects.get().name == "某某卡业"  # the later row of the same filing wins
    assert RegistrationCentre.objects.get(region_id="610300").public_key == baoji.pem
    assert checkpoint_of("610000", Direction.DOWN).position == 13
    # Pulling again asks from 13 and gets nothing; re-journaled rows keep the ministry/province origin.
    assert sync_pull(transport=parent).bundles == 0 and parent.calls[-1] == 13
    assert set(
        JournalEntry.objects.filter(kind="vendors.manufacturer").values_list("origin_node", "origin_seq")
    ) == {
        ("100000", 11),
        ("100000", 13),
    }


def test_a_down_bundle_signed_by_a_child_is_refused(city, tmp_path):
    stranger = Node("610000", tmp_path / "stranger.pem")
    run = sync_pull(transport=FakeParentDown(stranger, city["me"], [manufacturer_row(1)]))
    assert run.status == RunStatus.FAILED and "signature" in run.message
    assert Manufacturer.objects.count() == 0 and checkpoint_of("610000", Direction.DOWN).position == 0


def test_file_mode_round_trip_up_with_acknowledgement(province, system_actor, settings):
    """At the province: a city's bundle file uploads, applies, and yields the ack file the city carries back."""
    data = child_bundle(province, [institution_row(seq=1), institution_row(seq=2)])
    record, ack = actions.bundle_file_upload(actor=system_actor, data=data)
    assert record.status == BundleStatus.APPLIED and MedicalInstitution.objects.count() == 2
    assert SyncRun.objects.get(trigger="file").rows == 2

    # Back at the city (its own DB in real life): the ack moves its up checkpoint.
    settings.HC_TIER, settings.HC_REGION, settings.HC_PARENT_URL = "city", "610100", "http://province.test"
    with province["city"].acting():
        assert actions.ack_file_upload(actor=system_actor, data=ack) == 2
        with pytest.raises(DomainError):
            actions.ack_file_upload(actor=system_actor, data=ack.replace(b'"applied": 2', b'"applied": 3'))


def test_file_mode_download_at_the_child_is_encrypted_to_the_parent(city, system_actor, make_institution):
    make_institution("610113", name="某某县医院")
    name, data = actions.bundle_file_up(actor=system_actor)
    assert name.startswith("hc-up-610100-to-610000-") and data.startswith(b"HCB1\n")
    assert "某某县医院".encode() not in data  # the body is encrypted
    assert checkpoint_of("610000", Direction.UP).position == 0  # moves only with the parent's ack


def test_reconcile_reports_zero_drift_then_a_row_deleted_behind_its_back(city, make_institution):
    make_institution("610113")
    checkpoint = checkpoint_of("610000", Direction.UP)
    checkpoint.position = JournalEntry.objects.order_by("seq").last().seq
    checkpoint.save()
    parent = FakeParentDown(city["province"], city["me"], [])
    parent.remote = digest_of("610100")  # what the parent holds from this city: the same, here

    report = sync_reconcile(transport=parent)
    assert report.drift == [] and report.in_step

    parent.remote = {**parent.remote, "tables": {**parent.remote["tables"], "institutions.medical": 0}}
    report = sync_reconcile(transport=parent)
    assert report.drift == [{"kind": "institutions.medical", "measure": "rows", "here": 1, "parent": 0}]
    assert ReconcileReport.objects.count() == 2


def test_admin_lists_runs_quarantine_and_reapplies(province, admin_client, monkeypatch):
    from exchange.sync import appliers

    data = child_bundle(province, [row("vouchers.voucher", "P1", {}, seq=1)])
    record = bundle_receive(data, direction=Direction.UP)
    assert record.status == BundleStatus.QUARANTINED
    response = admin_client.get("/admin/exchange/inboundbundle/")
    assert response.status_code == 200 and "vouchers.voucher" in response.content.decode()
    assert admin_client.get("/admin/exchange/syncrun/").status_code == 200
    assert (
        "/admin/exchange/syncrun/sync-now/" in admin_client.get("/admin/exchange/syncrun/").content.decode()
    )
    assert admin_client.get("/admin/exchange/syncrun/files/").status_code == 200

    monkeypatch.setitem(
        appliers.APPLIERS, "vouchers.voucher", appliers.Applier("vouchers.voucher", appliers.pass_through)
    )
    response = admin_client.post(
        "/admin/exchange/inboundbundle/", {"action": "reapply", "_selected_action": [record.pk]}, follow=True
    )
    assert response.status_code == 200
    record.refresh_from_db()
    assert record.status == BundleStatus.APPLIED


def test_admin_sync_now_runs_push_and_pull(
    city, admin_client, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr(
        "exchange.sync.runner.sync_push",
        lambda **kw: (
            calls.append("push")
            or SyncRun.objects.create(direction="up", trigger="manual", started_at="2026-11-21T00:00:00Z")
        ),
    )
    monkeypatch.setattr(
        "exchange.sync.runner.sync_pull",
        lambda **kw: (
            calls.append("pull")
            or SyncRun.objects.create(direction="down", trigger="manual", started_at="2026-11-21T00:00:00Z")
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/exchange/syncrun/sync-now/", follow=True)
    assert response.status_code == 200 and calls == ["push", "pull"]
