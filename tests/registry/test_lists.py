"""The one numbered, signed list: numbering like a CRL, deltas, snapshots, signatures, the compact file."""

from __future__ import annotations

import random

import pytest
from django.db import transaction

from registry.actors import Actor
from registry.choices import EntryType, ListName, ListReason
from registry.errors import DomainError
from registry.lists import (
    ListSignatureError,
    SnapshotRequired,
    card_subject,
    card_subjects,
    list_add,
    list_apply,
    list_decode,
    list_delta,
    list_encode,
    list_expire_due,
    list_number,
    list_remove,
    list_snapshot,
    person_subject,
    person_subjects,
    sam_subject,
    subject_from_hex,
    subject_to_hex,
)
from registry.node import node_key_create, public_key_pem

pytestmark = pytest.mark.django_db

BL = ListName.BLACKLIST


@pytest.fixture
def actor() -> Actor:
    return Actor.system(label="test")


@pytest.fixture(autouse=True)
def node_key(settings):
    node_key_create(settings.HC_NODE_KEY_FILE)


def add(actor, subject, reason=ListReason.LOST, region="610102", list_name=BL, entry_type=EntryType.CARD):
    with transaction.atomic():
        return list_add(
            list_name=list_name,
            entry_type=entry_type,
            subject=subject,
            reason=reason,
            region_code=region,
            actor=actor,
            label="x",
        )


def remove(actor, subject, **kwargs):
    with transaction.atomic():
        return list_remove(list_name=BL, subject=subject, actor=actor, **kwargs)


def test_identifiers_follow_the_published_scheme():
    # docs/lists.md: SHA-256("hcl1|card|<card number>|<chip serial>"), first 8 bytes, hex.
    import hashlib

    expected = hashlib.sha256(b"hcl1|card|61010219900101123X|CHIP000001").hexdigest()[:16]
    assert subject_to_hex(card_subject("61010219900101123x", "chip000001")) == expected
    assert subject_from_hex(expected) == card_subject("61010219900101123X", "CHIP000001")
    # a replacement card (new chip) is a different subject from its lost predecessor
    assert card_subject("61010219900101123X", "CHIP000002") != card_subject(
        "61010219900101123X", "CHIP000001"
    )
    assert len({card_subject("1", "2"), person_subject("1"), sam_subject("1")}) == 3
    pairs = [("61010219900101123x", " chip000001"), ("1", "2"), ("王", "")]
    assert card_subjects(pairs) == {pair: card_subject(*pair) for pair in pairs}
    assert person_subjects(["61010219900101123x ", "1"]) == {
        number: person_subject(number) for number in ["61010219900101123x ", "1"]
    }
    with pytest.raises(DomainError):
        subject_from_hex("not-hex")


def test_every_change_takes_the_next_number_and_a_repeat_takes_none(actor):
    subject = card_subject("610102199001011234", "C1")
    assert list_number(BL) == 0
    first = add(actor, subject)
    assert first.added_number == 1 and list_number(BL) == 1
    assert add(actor, subject).pk == first.pk and list_number(BL) == 1  # same reason: nothing changes
    # the hold becomes a cancellation: one number closes the old entry and opens the new one
    cancelled = add(actor, subject, reason=ListReason.CANCELLED)
    first.refresh_from_db()
    assert first.removed_number == cancelled.added_number == 2
    assert cancelled.permanent


def test_permanent_entries_come_off_only_through_a_correction(actor):
    subject = card_subject("610102199001011234", "C1")
    add(actor, subject, reason=ListReason.DEATH)
    with pytest.raises(DomainError) as refused:
        remove(actor, subject)
    assert refused.value.code == "list_entry_permanent"
    assert "永久" in refused.value.message_zh or "permanent" in refused.value.message_en
    assert remove(actor, subject, allow_permanent=True, note="wrong death record").removed_note
    assert remove(actor, subject) is None  # nothing current any more


def test_delta_since_n_holds_exactly_the_changes_after_n(actor):
    rng = random.Random(7)
    subjects = [card_subject(f"6101021990010{i:05d}", "C") for i in range(40)]
    copies = {}  # list number -> the list's content at that number
    content: dict[int, tuple[str, str]] = {}
    for _step in range(120):
        subject = rng.choice(subjects)
        if subject in content and rng.random() < 0.5:
            if content[subject][1] == ListReason.LOST:
                remove(actor, subject)
                del content[subject]
        else:
            reason = rng.choice([ListReason.LOST, ListReason.CANCELLED, ListReason.MANUAL])
            if subject in content and content[subject][1] in (ListReason.CANCELLED,):
                continue
            add(actor, subject, reason=reason)
            content[subject] = (EntryType.CARD, reason)
        copies[list_number(BL)] = dict(content)
    final = list_number(BL)
    snapshot = list_snapshot(list_name=BL)
    assert {s: (t, r) for t, r, s in snapshot.adds} == content
    for since, then in list(copies.items())[::7]:
        copy = dict(then)
        assert list_apply(copy, list_delta(list_name=BL, since=since), have=since) == final
        assert copy == content


def test_a_gap_forces_a_snapshot(actor):
    for i in range(3):
        add(actor, card_subject(str(i), "C"))
    with pytest.raises(SnapshotRequired):
        list_delta(list_name=BL, since=9)
    delta = list_delta(list_name=BL, since=2)
    with pytest.raises(SnapshotRequired) as gap:
        list_apply({}, delta, have=1)  # the receiver missed change 2
    assert gap.value.code == "snapshot_required"
    copy: dict = {}
    assert list_apply(copy, list_snapshot(list_name=BL), have=1) == 3 and len(copy) == 3


def test_the_signed_file_round_trips_and_a_tampered_one_fails(actor, settings, tmp_path):
    for i in range(50):
        add(actor, card_subject(str(i), "C"), reason=[ListReason.LOST, ListReason.CANCELLED][i % 2])
    add(actor, sam_subject("SAM1"), reason=ListReason.SAM_FROZEN, entry_type=EntryType.SAM)
    remove(actor, card_subject("0", "C"))
    blob = list_encode(list_snapshot(list_name=BL))
    document = list_decode(blob, public_key_pem=public_key_pem())
    assert document.number == 52 and document.base is None
    assert sorted(document.adds) == sorted(list_snapshot(list_name=BL).adds)
    delta = list_decode(list_encode(list_delta(list_name=BL, since=50)))
    assert delta.base == 50 and delta.removes == [card_subject("0", "C")]

    tampered = bytearray(blob)
    tampered[-3] ^= 0x01  # one bit of the body
    with pytest.raises(ListSignatureError):
        list_decode(bytes(tampered))
    header_tampered = blob.replace(b'"number":52', b'"number":53')
    with pytest.raises(ListSignatureError):
        list_decode(header_tampered)
    # another node's key does not verify it
    other = tmp_path / "other.pem"
    with pytest.raises(ListSignatureError):
        list_decode(blob, public_key_pem=public_key_pem(node_key_create(other)))


def test_a_region_snapshot_holds_only_that_region(actor):
    add(actor, card_subject("a", "C"), region="610102")
    add(actor, card_subject("b", "C"), region="610203")
    assert [s for _t, _r, s in list_snapshot(list_name=BL, region_prefix="6101").adds] == [
        card_subject("a", "C")
    ]


def test_the_file_is_compact(actor):
    # docs/lists.md: about 6 bytes an entry at scale (the benchmark measures a million); here the overhead
    # of a small list stays small too.
    from registry.lists import _planes

    values = sorted(random.Random(1).getrandbits(64) for _ in range(20000))
    import zlib

    assert len(zlib.compress(_planes([v - (1 << 63) for v in values]), 6)) / len(values) < 8


def test_expired_person_entries_come_off(actor):
    import datetime

    with transaction.atomic():
        list_add(
            list_name=BL,
            entry_type=EntryType.PERSON,
            subject=person_subject("610102199001011234"),
            reason=ListReason.INELIGIBLE,
            region_code="610102",
            actor=actor,
            valid_until=datetime.date(2026, 1, 1),
        )
    assert list_expire_due(actor=actor, today=datetime.date(2026, 1, 2)) == 1
    assert list_snapshot(list_name=BL).adds == []


def test_list_changes_are_journaled_to_travel_up(actor):
    from registry.models import JournalEntry

    subject = card_subject("x", "C")
    add(actor, subject)
    remove(actor, subject)
    rows = list(JournalEntry.objects.filter(kind="registry.list_entry").order_by("seq"))
    assert [row.op for row in rows] == ["upsert", "delete"]
    assert rows[0].payload["subject"] == subject_to_hex(subject) and rows[0].payload["number"] == 1


def test_the_admin_lists_entries_in_scope_and_hands_out_the_signed_file(actor, client, make_user):
    add(actor, card_subject("a", "C"), region="610102")
    add(actor, card_subject("b", "C"), region="620102")
    clerk = make_user("clerk", roles=["卡管理员"], scope="610100")
    client.force_login(clerk)
    page = client.get("/admin/registry/listentry/")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1  # a city clerk sees the city's entries only
    assert "签名黑名单 第2号".encode() in page.content
    blob = client.get("/admin/registry/listentry/file/blacklist/")
    assert blob["Content-Disposition"].endswith('blacklist-2.hcl"')
    assert list_decode(blob.content).number == 2
