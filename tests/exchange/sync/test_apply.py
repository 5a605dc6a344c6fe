"""Receiving bundles: every fault leaves nothing lost and nothing doubled."""

from __future__ import annotations

import pytest

from cards.models import Card, CardEvent, Resident
from exchange.choices import BundleStatus, Direction
from exchange.models import InboundBundle, UniquenessConflict
from exchange.sync import appliers
from exchange.sync.apply import bundle_reapply, bundle_receive, quarantine_retry_due
from institutions.models import MedicalInstitution
from registry.models import AuditEntry, JournalEntry
from registry.protection import blind_index, unseal_payload
from tests.exchange.sync.conftest import (
    a_document,
    card_row,
    child_bundle,
    event_row,
    holder_row,
    institution_row,
    row,
)

pytestmark = pytest.mark.django_db


def journal_of(origin: str = "610100"):
    return JournalEntry.objects.filter(origin_node=origin).order_by("seq")


def test_bundle_applies_and_rejournals_with_origin_kept(province):
    rows = [institution_row(seq=1, name="西安市第一医院"), institution_row(seq=2, name="西安市第二医院")]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)

    assert record.status == BundleStatus.APPLIED
    assert (record.applied_rows, record.duplicate_rows) == (2, 0)
    assert set(MedicalInstitution.objects.values_list("name", flat=True)) == {
        "西安市第一医院",
        "西安市第二医院",
    }
    copies = list(journal_of().values_list("origin_seq", "kind", "key"))
    assert copies == [
        (1, "institutions.medical", rows[0]["key"]),
        (2, "institutions.medical", rows[1]["key"]),
    ]
    assert AuditEntry.objects.filter(action="sync.bundle_apply").count() == 1


def test_bundle_sent_twice_changes_nothing_the_second_time(province):
    data = child_bundle(province, [institution_row(seq=1), institution_row(seq=2)])
    first = bundle_receive(data, direction=Direction.UP)
    again = bundle_receive(data, direction=Direction.UP)

    assert again.pk == first.pk and again.status == BundleStatus.APPLIED
    assert MedicalInstitution.objects.count() == 2 and journal_of().count() == 2


def test_overlapping_bundles_apply_each_row_once(province):
    rows = [institution_row(seq=n) for n in (1, 2, 3)]
    bundle_receive(child_bundle(province, rows[:2]), direction=Direction.UP)
    # The child did not get the acknowledgement and re-sends from row 1 with one more row.
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)

    assert (record.applied_rows, record.duplicate_rows) == (1, 2)
    assert MedicalInstitution.objects.count() == 3
    assert list(journal_of().values_list("origin_seq", flat=True)) == [1, 2, 3]


def test_bundles_out_of_order_all_apply_once(province):
    rows = [institution_row(seq=n) for n in (1, 2, 3, 4)]
    later = child_bundle(province, rows[2:])
    earlier = child_bundle(province, rows[:2])
    assert bundle_receive(later, direction=Direction.UP).status == BundleStatus.APPLIED
    assert bundle_receive(earlier, direction=Direction.UP).status == BundleStatus.APPLIED
    assert bundle_receive(later, direction=Direction.UP).status == BundleStatus.APPLIED

    assert MedicalInstitution.objects.count() == 4
    assert sorted(journal_of().values_list("origin_seq", flat=True)) == [1, 2, 3, 4]


def test_bad_signature_is_refused_and_nothing_applied(province):
    data = child_bundle(province, [institution_row(seq=1)])
    magic, header, signature, body = data.split(b"\n", 3)
    forged = b"\n".join([magic, header.replace(b'"last_seq":1', b'"last_seq":9'), signature, body])
    # A bundle signed by some other key than the one registered for the city:
    with province["ministry"].acting():
        from exchange.sync.bundle import bundle_build

        other = bundle_build(
            [institution_row(seq=2)],
            sender="610100",
            receiver="610000",
            receiver_pem=province["me"].pem,
            direction=Direction.UP,
            first_seq=2,
            last_seq=2,
        ).to_bytes()

    for bad in (forged, other):
        record = bundle_receive(bad, direction=Direction.UP)
        assert record.status == BundleStatus.REFUSED
        assert "signature" in record.reason
    assert MedicalInstitution.objects.count() == 0 and journal_of().count() == 0


def test_corrupted_body_is_refused(province):
    data = bytearray(child_bundle(province, [institution_row(seq=1)]))
    data[-5] ^= 0xFF
    record = bundle_receive(bytes(data), direction=Direction.UP)

    assert record.status == BundleStatus.REFUSED
    assert "SHA-256" in record.reason
    assert MedicalInstitution.objects.count() == 0


def test_bundle_for_another_node_or_from_a_stranger_is_refused(province):
    garbage = bundle_receive(b"not a bundle", direction=Direction.UP)
    assert garbage.status == BundleStatus.REFUSED
    # From the ministry, pushed "up" as if it were a child of this province:
    with province["ministry"].acting():
        from exchange.sync.bundle import bundle_build

        data = bundle_build(
            [institution_row(seq=1)],
            sender="100000",
            receiver="610000",
            receiver_pem=province["me"].pem,
            direction=Direction.UP,
            first_seq=1,
            last_seq=1,
        ).to_bytes()
    record = bundle_receive(data, direction=Direction.UP)
    assert (
        record.status == BundleStatus.REFUSED and "不是本节点的下级节点" in record.reason
    )  # said in Chinese


def test_unknown_kind_quarantines_with_reason_then_reapplies(province, monkeypatch):
    rows = [institution_row(seq=1), row("vouchers.voucher", "V-1", {"n": 1}, seq=2)]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)

    assert record.status == BundleStatus.QUARANTINED
    assert "unknown journal kind(s) vouchers.voucher" in record.reason
    assert MedicalInstitution.objects.count() == 0 and journal_of().count() == 0
    assert record.data  # kept for re-apply

    # The node learns the kind (its branch lands): a person re-applies.
    monkeypatch.setitem(
        appliers.APPLIERS, "vouchers.voucher", appliers.Applier("vouchers.voucher", appliers.pass_through)
    )
    record = bundle_reapply(record=InboundBundle.objects.get(pk=record.pk))
    assert record.status == BundleStatus.APPLIED and record.attempts == 2
    assert MedicalInstitution.objects.count() == 1
    assert list(journal_of().values_list("kind", flat=True)) == ["institutions.medical", "vouchers.voucher"]
    assert not bytes(InboundBundle.objects.get(pk=record.pk).data)


def test_failure_in_the_middle_rolls_back_the_whole_bundle_and_retry_applies_it(province, monkeypatch):
    rows = [institution_row(seq=n) for n in (1, 2, 3)]
    calls = {"n": 0}
    real = appliers.APPLIERS["institutions.medical"]

    def dies_on_third(ctx, row_, payload):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("server killed")
        real.function(ctx, row_, payload)

    monkeypatch.setitem(
        appliers.APPLIERS, "institutions.medical", appliers.Applier("institutions.medical", dies_on_third)
    )
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.QUARANTINED and "server killed" in record.reason
    assert MedicalInstitution.objects.count() == 0 and journal_of().count() == 0

    monkeypatch.setitem(appliers.APPLIERS, "institutions.medical", real)
    InboundBundle.objects.filter(pk=record.pk).update(next_attempt_at=record.received_at)
    assert quarantine_retry_due() == 1
    assert MedicalInstitution.objects.count() == 3 and journal_of().count() == 3


def test_holder_card_and_events_arrive_with_personal_data_sealed_here(province):
    document = a_document(1)
    rows = [
        holder_row(document, seq=1),
        card_row(document, "CHIP0001", seq=2),
        event_row(document, "CHIP0001", "collected", seq=3),
        card_row(document, "CHIP0001", status="lost", seq=4),
        event_row(document, "CHIP0001", "loss_reported", seq=5),
    ]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED, record.reason

    resident = Resident.objects.get(document_index=blind_index(document, family="id_number"))
    assert resident.name == "张三" and resident.contacts == [{"name": "李四", "phone": "13900001111"}]
    card = Card.objects.get(card_index=resident.document_index, chip_serial="CHIP0001")
    assert card.status == "lost"
    assert list(CardEvent.objects.filter(card=card).order_by("id").values_list("kind", flat=True)) == [
        "collected",
        "loss_reported",
    ]
    # Re-journaled sealed with this node's keys, origin kept, so it travels on to the ministry.
    entry = journal_of().get(origin_seq=1)
    assert document not in str(entry.payload)
    assert unseal_payload(entry.payload)["document_number"] == document


def test_card_before_its_holder_quarantines_and_applies_after(province):
    document = a_document(2)
    early = bundle_receive(
        child_bundle(province, [card_row(document, "CHIP0002", seq=2)]), direction=Direction.UP
    )
    assert early.status == BundleStatus.QUARANTINED and "holder" in early.reason

    bundle_receive(child_bundle(province, [holder_row(document, seq=1)]), direction=Direction.UP)
    assert bundle_reapply(record=early).status == BundleStatus.APPLIED
    assert Card.objects.filter(chip_serial="CHIP0002").count() == 1


def test_a_card_number_active_under_two_origins_is_a_conflict_not_an_overwrite(province):
    document = a_document(3)
    bundle_receive(
        child_bundle(province, [holder_row(document, seq=1), card_row(document, "CHIPAAA1", seq=2)]),
        direction=Direction.UP,
    )
    # The same number issued active again on another physical card (e.g. by a second city).
    bundle_receive(
        child_bundle(province, [card_row(document, "CHIPBBB2", seq=3, region="610200")]),
        direction=Direction.UP,
    )

    assert Card.objects.filter(status="active").count() == 2
    conflict = UniquenessConflict.objects.get()
    assert {r["chip_serial"] for r in conflict.records} == {"CHIPAAA1", "CHIPBBB2"}
    assert document not in str(conflict.records)


def test_an_event_journaled_before_its_holder_in_the_same_bundle_applies(province):
    document = a_document(4)
    rows = [event_row(document, "", "holder_registered", seq=1), holder_row(document, seq=2)]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED, record.reason
    assert CardEvent.objects.filter(kind="holder_registered").count() == 1


def test_a_late_bundle_never_rolls_a_card_back_to_an_older_state(province):
    document = a_document(5)
    bundle_receive(child_bundle(province, [holder_row(document, seq=1)]), direction=Direction.UP)
    older = child_bundle(province, [card_row(document, "CHIPCCC3", "active", seq=2)])
    newer = child_bundle(province, [card_row(document, "CHIPCCC3", "lost", seq=3)])
    assert bundle_receive(newer, direction=Direction.UP).status == BundleStatus.APPLIED
    assert (
        bundle_receive(older, direction=Direction.UP).status == BundleStatus.APPLIED
    )  # e.g. re-applied late

    assert Card.objects.get(chip_serial="CHIPCCC3").status == "lost"
    assert sorted(journal_of().filter(kind="cards.card").values_list("origin_seq", flat=True)) == [2, 3]


def test_a_child_speaks_only_for_the_centres_of_its_own_subtree(province, tmp_path):
    from registry.models import RegistrationCentre
    from tests.exchange.sync.conftest import Node

    other = Node("100000", tmp_path / "other.pem")
    stamp = "2026-11-01T09:00:00+08:00"

    def centre(region: str, seq: int):
        payload = {
            "tier": "province" if region.endswith("0000") else "city",
            "region": region,
            "name": f"中心{region}",
            "contact_person": "",
            "phone": "",
            "address": "",
            "head": "",
            "status": "active",
            "status_reason": "",
            "base_url": "",
            "public_key": other.pem,
            "registered_at": stamp,
            "changed_at": stamp,
        }
        return row("registry.centre", region, payload, seq=seq)

    ministry_before = RegistrationCentre.objects.get(region_id="100000").public_key
    rows = [centre("100000", 1), centre("610100", 2)]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED
    assert RegistrationCentre.objects.get(region_id="100000").public_key == ministry_before
    assert RegistrationCentre.objects.get(region_id="610100").name == "中心610100"
    assert journal_of().count() == 2  # both travel on; the ministry decides for itself the same way


def test_onsite_issuance_in_journal_order_gives_one_card_with_its_whole_history(province):
    document = a_document(6)
    rows = [
        event_row(document, "", "holder_registered", seq=1),
        holder_row(document, seq=2),
        event_row(document, "", "allocated", seq=3),
        card_row(document, "", "issuing", seq=4),
        event_row(document, "CHIPDDD4", "activated", seq=5),
        event_row(document, "CHIPDDD4", "collected", seq=6),
        card_row(document, "CHIPDDD4", "active", seq=7),
    ]
    rows[0]["payload"]["card_no"] = ""  # a holder event names no card
    rows[2]["payload"]["chip_serial"] = rows[3]["payload"]["chip_serial"] = ""
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED, record.reason

    card = Card.objects.get()
    assert (card.chip_serial, card.status) == ("CHIPDDD4", "active")
    assert list(CardEvent.objects.filter(card=card).order_by("id").values_list("kind", flat=True)) == [
        "allocated",
        "activated",
        "collected",
    ]


def test_list_entries_from_a_child_are_mirrored_and_travel_on(province):
    from registry.lists import list_entry_current, subject_from_hex

    payload = {
        "list": "blacklist",
        "type": "card",
        "subject": "00000000000000ab",
        "reason": "lost",
        "permanent": False,
        "region": "610113",
        "label": "610113**********1234 / CHIP0001",
        "object_ref": "cards.card:1",
        "note": "",
        "valid_until": None,
        "origin_node": "610100",
        "number": 7,
    }
    add = row("registry.list_entry", "blacklist:00000000000000ab", payload, seq=1)
    remove = row("registry.list_entry", "blacklist:00000000000000ab", payload, seq=2, op="delete")
    assert (
        bundle_receive(child_bundle(province, [add]), direction=Direction.UP).status == BundleStatus.APPLIED
    )
    entry = list_entry_current(list_name="blacklist", subject=subject_from_hex("00000000000000ab"))
    assert entry.reason == "lost" and entry.origin_node == "610100"
    assert (
        bundle_receive(child_bundle(province, [remove]), direction=Direction.UP).status
        == BundleStatus.APPLIED
    )
    assert list_entry_current(list_name="blacklist", subject=subject_from_hex("00000000000000ab")) is None
    assert list(journal_of().values_list("kind", "op")) == [
        ("registry.list_entry", "upsert"),
        ("registry.list_entry", "delete"),
    ]


def test_card_use_figures_and_sam_rows_travel_up(province):
    """Every kind a city journals has an applier: card-use day counts land in the parent's aggregate (set, not
    added, so a resend changes nothing) and SAM rows travel on instead of quarantining the bundle."""
    from cards.models import CardUseDaily

    hospital = institution_row(seq=1)
    code = hospital["payload"]["code"]
    figure = {
        "day": "2026-11-20",
        "institution": code,
        "scenario": "registration",
        "count": 7,
        "region": "610113",
    }
    rows = [
        hospital,
        row("cards.use_daily", f"2026-11-20:{code}:registration", figure, seq=2),
        row("sam.card", "SAM0001", {"serial": "SAM0001", "status": "issued"}, seq=3),
    ]
    data = child_bundle(province, rows)
    record = bundle_receive(data, direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED, record.reason
    assert CardUseDaily.objects.get().count == 7
    bundle_receive(data, direction=Direction.UP)
    assert CardUseDaily.objects.get().count == 7
    assert set(journal_of().values_list("kind", flat=True)) == {
        "institutions.medical",
        "cards.use_daily",
        "sam.card",
    }


def test_every_journal_kind_the_code_writes_has_an_applier():
    """A kind without an applier quarantines every bundle that carries it, so a new kind must come with one.
    The kinds are read from the source: the `*_KIND = "app.kind"` constants and `kind="app.kind"` literals."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    pattern = re.compile(r'(?:KIND\s*=\s*|kind\s*=\s*)"([a-z_]+\.[a-z_]+)"')
    tuple_pattern = re.compile(r'^[A-Z_, ]*KIND\s*=\s*((?:"[a-z_]+\.[a-z_]+",?\s*)+)$', re.M)
    written = set()
    for app in ("registry", "institutions", "cards", "sam", "vendors", "terminals", "exchange", "stats"):
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            written.update(pattern.findall(text))
            for group in tuple_pattern.findall(text):
                written.update(re.findall(r'"([a-z_]+\.[a-z_]+)"', group))
    assert {"cards.card", "sam.plan", "registry.list_entry", "exchange.ehc"} <= written  # the scan works
    assert sorted(written - set(appliers.APPLIERS)) == []
