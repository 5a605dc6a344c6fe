"""SAM entries on registry's one numbered, signed list: frozen and cancelled SAMs are blacklisted."""

import pytest

from registry.choices import EntryType, ListName, ListReason
from registry.lifecycle import IllegalTransition
from registry.lists import list_delta, list_entry_current, list_number, list_snapshot, sam_subject
from sam import actions


@pytest.mark.django_db
def test_frozen_sam_is_in_the_delta_and_leaves_it_on_unfreeze(issued_sams, city):
    sam = issued_sams(1)[0]
    subject = sam_subject(sam.serial)
    before = list_number(ListName.BLACKLIST)
    actions.sam_freeze(actor=city, sam=sam, reason="终端送修")
    delta = list_delta(list_name=ListName.BLACKLIST, since=before)
    assert (EntryType.SAM, ListReason.SAM_FROZEN, subject) in [tuple(a) for a in delta.adds]
    entry = list_entry_current(list_name=ListName.BLACKLIST, subject=subject)
    assert entry.region_id == "610113" and entry.object_ref == f"sam.sam:{sam.pk}"
    assert subject in [
        tuple(a)[2] for a in list_snapshot(list_name=ListName.BLACKLIST, region_prefix="6101").adds
    ]

    frozen_at = list_number(ListName.BLACKLIST)
    actions.sam_unfreeze(actor=city, sam=sam, reason="修复")
    removed = list_delta(list_name=ListName.BLACKLIST, since=frozen_at)
    assert subject in removed.removes and not removed.adds
    assert list_entry_current(list_name=ListName.BLACKLIST, subject=subject) is None
    whole = list_delta(list_name=ListName.BLACKLIST, since=before)
    assert subject not in [tuple(a)[2] for a in whole.adds]


@pytest.mark.django_db
def test_cancelled_sam_stays_blacklisted(issued_sams, city):
    sam = issued_sams(1)[0]
    subject = sam_subject(sam.serial)
    actions.sam_freeze(actor=city, sam=sam, reason="疑似被盗")
    actions.sam_cancel(actor=city, sam=sam, reason="核实被盗")
    entry = list_entry_current(list_name=ListName.BLACKLIST, subject=subject)
    assert entry.reason == ListReason.SAM_CANCELLED
    with pytest.raises(IllegalTransition):
        actions.sam_unfreeze(actor=city, sam=sam, reason="x")
    assert (
        list_entry_current(list_name=ListName.BLACKLIST, subject=subject).reason == ListReason.SAM_CANCELLED
    )
