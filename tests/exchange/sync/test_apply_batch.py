"""The bulk apply (appliers' batch functions) leaves exactly what the row-by-row apply leaves."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from cards.actions.common import HOLDER_BATCH_COLUMNS
from cards.models import Card, CardEvent, Resident
from exchange.choices import BundleStatus, Direction
from exchange.models import InboundBundle, UniquenessConflict
from exchange.sync import appliers
from exchange.sync.apply import bundle_reapply, bundle_receive
from exchange.sync.transport import payload_open
from registry.models import JournalEntry
from registry.protection import blind_index
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

STAMP = "2026-11-20T10:00:00+08:00"


def row_by_row(monkeypatch) -> None:
    """Every kind applied through its row function (the batch functions switched off)."""
    for kind, applier in list(appliers.APPLIERS.items()):
        monkeypatch.setitem(appliers.APPLIERS, kind, dataclasses.replace(applier, batch=None))


def holder_batch_row(documents: list[str], *, seq: int, names: list[str]) -> dict:
    """A cards.holder_batch row as a city's bulk import journals it, in transport form."""
    holders = [
        [f"h-{document[-6:]}", "01", "1", "01", "1985-06-15", "610113", "", "", "", "", ""]
        for document in documents
    ]
    personal = [
        [name, document, "", "", "13800000000", "", [], "", ""]
        for name, document in zip(names, documents, strict=True)
    ]
    payload = {
        "job": None,
        "changed_at": STAMP,
        "columns": list(HOLDER_BATCH_COLUMNS),
        "holders": holders,
        "personal_columns": list(Resident.PERSONAL_FIELDS),
        "personal": {"open": json.dumps(personal, ensure_ascii=False), "json": True},
    }
    return row("cards.holder_batch", f"{holders[0][0]}..{holders[-1][0]}", payload, seq=seq)


def random_rows(seed: int) -> list[dict]:
    """A city's journal for a few holders: registrations (one by one and in an import batch), edits, cards
    issued on site (allocated before the chip is written), losses, a second city's card under the same
    number (a uniqueness conflict), events, and rows that name a holder before its row (quarantined)."""
    rng = random.Random(seed)
    documents = [a_document(n) for n in range(1, 9)]
    hospital = institution_row(seq=1)
    code = hospital["payload"]["code"]
    rows, seq = [hospital], 1

    def next_seq() -> int:
        nonlocal seq
        seq += 1
        return seq

    rows.append(holder_batch_row(documents[:3], seq=next_seq(), names=["甲", "乙", "丙"]))
    rows += [holder_row(document, seq=next_seq()) for document in documents[3:7]]
    chips: dict[str, list[str]] = {document: [] for document in documents}
    for step in range(90):
        if step == 45:  # the last holder's own row comes late: its earlier cards and events wait for it
            rows.append(holder_row(documents[7], seq=next_seq()))
        # (Not at first: the pages with the other holders' rows must not wait for the late one.)
        document = rng.choice(documents if step > 30 else documents[:7])
        choice = rng.random()
        if choice < 0.2:
            rows.append(holder_row(document, seq=next_seq(), name=rng.choice(["张三", "李四", "王五"])))
        elif choice < 0.5:
            chip = rng.choice([*chips[document], f"CH{rng.randrange(10**6):06d}", ""])
            if chip and chip not in chips[document]:
                chips[document].append(chip)
            status = "issuing" if not chip else rng.choice(["active", "active", "lost", "cancelled"])
            card = card_row(document, chip, status, seq=next_seq(), region=rng.choice(["610100", "610200"]))
            if rng.random() < 0.3:
                card["payload"]["institution_code"] = code
            rows.append(card)
        else:
            chip = rng.choice([*chips[document], ""])
            event = event_row(
                document, chip, rng.choice(["collected", "loss_reported", "allocated"]), seq=next_seq()
            )
            if rng.random() < 0.2:
                event["payload"]["card_no"] = ""
            rows.append(event)
    return rows


def deliveries(rows: list[dict], seed: int) -> list[list[dict]]:
    """Bundles as a flaky line delivers them: pages of random size, some sent twice, some late, one page
    overlapping its neighbours, one page carrying a row twice."""
    rng = random.Random(seed)
    pages, start = [], 0
    while start < len(rows):
        size = rng.randint(1, 25)
        pages.append(rows[start : start + size])
        start += size
    sent = list(pages)
    for _ in range(3):
        k = rng.randrange(len(pages) - 1)
        sent[k], sent[k + 1] = sent[k + 1], sent[k]  # out of order
    sent += [rng.choice(pages) for _ in range(3)]  # sent again
    middle = len(rows) // 2
    sent.append(rows[middle - 10 : middle + 10])  # overlapping
    page = rng.choice(pages)
    sent.append([*page, page[0]])  # a row twice in one bundle
    return sent


def received(province, bundles: list[list[dict]]) -> list[tuple]:
    outcome = []
    for page in bundles:
        data = child_bundle(
            province, page, first=min(r["origin_seq"] for r in page), last=max(r["origin_seq"] for r in page)
        )
        record = bundle_receive(data, direction=Direction.UP)
        outcome.append((record.status, record.applied_rows, record.duplicate_rows, record.reason))
    # The quarantined ones again, now that the rows before them are here.
    for _round in range(3):
        for record in InboundBundle.objects.filter(status=BundleStatus.QUARANTINED).order_by("pk"):
            record = bundle_reapply(record=record)
            outcome.append((record.status, record.applied_rows, record.duplicate_rows, record.reason))
    return outcome


def state() -> dict:
    """What the node holds, by natural keys (no database ids, no times taken from the clock)."""
    residents = {
        resident.pk: (resident.document_type, resident.document_index) for resident in Resident.objects.all()
    }
    cards = {card.pk: (card.card_index, card.chip_serial) for card in Card.objects.all()}
    return {
        "residents": sorted(
            (
                resident.document_type,
                resident.document_index,
                resident.name,
                resident.phone1,
                json.dumps(resident.contacts),
                resident.region_id,
                resident.birth_date,
                resident.created_at,
                resident.changed_at,
            )
            for resident in Resident.objects.all()
        ),
        "cards": sorted(
            (
                card.card_index,
                card.chip_serial,
                card.status,
                card.region_id,
                card.collected_at,
                card.expires_on,
                card.medical_institution_id is not None,
                residents[card.resident_id],
                card.status_changed_at is not None,
            )
            for card in Card.objects.all()
        ),
        "events": [
            (event.kind, residents[event.resident_id], cards.get(event.card_id), event.at, event.data)
            for event in CardEvent.objects.order_by("id")
        ],
        "journal": [
            (
                entry.kind,
                entry.key,
                entry.op,
                entry.origin_node,
                entry.origin_seq,
                payload_open(entry.kind, entry.payload),
            )
            for entry in JournalEntry.objects.filter(origin_node="610100").order_by("seq")
        ],
        "conflicts": sorted(
            (conflict.card_index, conflict.origins, json.dumps(conflict.records, sort_keys=True))
            for conflict in UniquenessConflict.objects.all()
        ),
    }


def forget_everything() -> None:
    CardEvent.objects.all().delete()
    Card.objects.all().delete()
    Resident.objects.all().delete()
    UniquenessConflict.objects.all().delete()
    JournalEntry.objects.filter(origin_node="610100").delete()
    InboundBundle.objects.all().delete()
    from institutions.models import MedicalInstitution

    MedicalInstitution.objects.all().delete()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bundles_leave_the_same_state_in_bulk_and_row_by_row(province, monkeypatch, seed):
    bundles = deliveries(random_rows(seed), seed)

    in_bulk = received(province, bundles)
    bulk_state = state()
    forget_everything()
    with monkeypatch.context() as patch:
        row_by_row(patch)
        one_by_one = received(province, bundles)
        row_state = state()

    assert in_bulk == one_by_one
    for part, value in bulk_state.items():
        assert value == row_state[part], part
    # The rows did something: holders, cards, events; some bundles waited in quarantine, then all applied.
    assert len(bulk_state["residents"]) == 8 and bulk_state["cards"] and bulk_state["events"]
    assert BundleStatus.QUARANTINED in {status for status, *_rest in in_bulk}
    assert not InboundBundle.objects.filter(status=BundleStatus.QUARANTINED).exists()


def test_a_row_twice_in_one_bundle_is_applied_once(province):
    document = a_document(1)
    holder, event = holder_row(document, seq=1), event_row(document, "", "holder_registered", seq=2)
    event["payload"]["card_no"] = ""
    record = bundle_receive(child_bundle(province, [holder, event, holder, event]), direction=Direction.UP)

    assert record.status == BundleStatus.APPLIED, record.reason
    assert (record.applied_rows, record.duplicate_rows) == (2, 2)
    assert Resident.objects.count() == 1 and CardEvent.objects.count() == 1
    assert JournalEntry.objects.filter(origin_node="610100").count() == 2


def test_one_card_twice_in_a_bundle_ends_in_its_latest_state(province):
    document = a_document(2)
    rows = [
        holder_row(document, seq=1),
        card_row(document, "CHIP0001", "active", seq=2),
        card_row(document, "CHIP0001", "lost", seq=3),
    ]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)

    assert record.status == BundleStatus.APPLIED, record.reason
    card = Card.objects.get()
    assert card.status == "lost" and card.status_changed_at is not None
    assert not UniquenessConflict.objects.exists()


def test_an_edit_and_a_batch_registration_of_the_same_holder_apply_in_journal_order(province):
    first, second = a_document(3), a_document(4)
    rows = [
        holder_batch_row([first, second], seq=1, names=["赵一", "钱二"]),
        holder_row(second, seq=2, name="钱二改"),
    ]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED, record.reason

    by_number = {resident.document_index: resident.name for resident in Resident.objects.all()}
    assert by_number == {
        blind_index(first, family="id_number"): "赵一",
        blind_index(second, family="id_number"): "钱二改",
    }
    # The edit in a later bundle changes the holder already here (an update, not a second holder).
    bundle_receive(child_bundle(province, [holder_row(first, seq=3, name="赵一改")]), direction=Direction.UP)
    assert Resident.objects.count() == 2
    assert Resident.objects.get(document_index=blind_index(first, family="id_number")).name == "赵一改"


def test_a_failing_row_in_a_bulk_run_quarantines_the_whole_bundle_naming_the_row(province):
    here, missing = a_document(5), a_document(6)
    rows = [
        holder_row(here, seq=1),
        card_row(here, "CHIPAAA1", seq=2),
        card_row(missing, "CHIPBBB2", seq=3),  # its holder never came
        card_row(here, "CHIPAAA1", "lost", seq=4),
        event_row(here, "CHIPAAA1", "collected", seq=5),
    ]
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)

    assert record.status == BundleStatus.QUARANTINED
    assert record.reason.startswith("row 610100#3 (cards.card c-")
    assert "holder of this card or event is not here yet" in record.reason
    assert not Resident.objects.exists() and not Card.objects.exists() and not CardEvent.objects.exists()
    assert not JournalEntry.objects.filter(origin_node="610100").exists()


def test_a_mangled_payload_in_a_bulk_run_names_the_row_and_what_is_wrong(province):
    document = a_document(7)
    broken = holder_row(a_document(8), seq=2)
    del broken["payload"]["birth_date"]
    record = bundle_receive(
        child_bundle(province, [holder_row(document, seq=1), broken]), direction=Direction.UP
    )

    assert record.status == BundleStatus.QUARANTINED
    assert record.reason == "row 610100#2 (cards.holder): payload lacks or mangles 'birth_date'"
    assert not Resident.objects.exists()


def test_a_kind_without_a_batch_function_is_applied_row_by_row_through_the_same_call():
    applier = appliers.APPLIERS["institutions.medical"]
    assert applier.batch is None
    assert applier.batch_function is appliers.APPLIERS["institutions.financial"].batch_function
    assert appliers.APPLIERS["cards.card"].batch_function is appliers.cards_apply_batch


def test_events_a_sync_applies_are_counted_in_the_daily_counts_and_their_roll_ups(province):
    """The province's figures come from its children's events: the same fold that counts them by day counts
    them by ISO week and month (a Sunday 23:30 and the Monday 00:30 after it, Shanghai time, in two weeks)."""
    import datetime as dt

    from stats.actions import stats_fold
    from stats.models import DailyCount, MonthlyCount, WeeklyCount

    document = a_document(3)
    stamps = (
        "2026-09-28T10:00:00+08:00",
        "2026-10-01T09:00:00+08:00",
        "2026-10-04T23:30:00+08:00",
        "2026-10-05T00:30:00+08:00",
    )
    rows = [holder_row(document, seq=1)]
    for seq, at in enumerate(stamps, start=2):
        payload = {**event_row(document, "", "holder_registered")["payload"], "at": at, "card_no": ""}
        rows.append(row("cards.event", f"e-registered-{seq}", payload, seq=seq))
    record = bundle_receive(child_bundle(province, rows), direction=Direction.UP)
    assert record.status == BundleStatus.APPLIED, record.reason
    stats_fold()

    def counts(model):
        return dict(model.objects.filter(measure="holder_registered").values_list("day", "count"))

    d = dt.date
    assert counts(DailyCount) == {d(2026, 9, 28): 1, d(2026, 10, 1): 1, d(2026, 10, 4): 1, d(2026, 10, 5): 1}
    assert counts(WeeklyCount) == {d(2026, 9, 28): 3, d(2026, 10, 5): 1}
    assert counts(MonthlyCount) == {d(2026, 9, 1): 1, d(2026, 10, 1): 3}
