"""Blacklist / whitelist downloads and the blacklist checks of the card status. They need registry's list
(registry/lists.py, the lead's branch) merged."""

import json

import pytest

from registry import lists
from registry.choices import EntryType, ListName, ListReason
from registry.node import public_key_pem, verify
from tests.integration.conftest import service_missing

BASE = "/api/v1/hospital"


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


def _add(system_actor, entry_type, subject, reason, region="610113"):
    from django.db import transaction

    with transaction.atomic():
        return lists.list_add(
            list_name=ListName.BLACKLIST,
            entry_type=entry_type,
            subject=subject,
            reason=reason,
            region_code=region,
            label="test",
            object_ref="test",
            actor=system_actor,
        )


def test_a_blacklisted_person_is_refused_with_the_list_number(api, active_card, system_actor):
    card = active_card()
    _add(system_actor, EntryType.PERSON, lists.person_subject(card.card_no), ListReason.INELIGIBLE)
    answer = api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()
    assert answer["code"] == "blacklisted_person" and answer["usable"] is False
    assert answer["list_number"] == lists.list_number(ListName.BLACKLIST) >= 1


def test_a_card_on_the_national_list_but_unknown_here(api, system_actor):
    from tests.exchange.conftest import make_id_number

    number = make_id_number()
    _add(system_actor, EntryType.CARD, lists.card_subject(number, "CHIP9999"), ListReason.CANCELLED)
    answer = api.post(
        f"{BASE}/cards/verify-batch", {"cards": [{"card_no": number, "chip": "CHIP9999"}]}
    ).json()
    assert answer["results"][0]["code"] == "cancelled"


def test_blacklist_snapshot_json_is_signed(api, system_actor):
    _add(system_actor, EntryType.CARD, lists.card_subject("610113198506150012", "C1"), ListReason.LOST)
    response = api.get(f"{BASE}/blacklist/snapshot", ACCEPT="application/json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["number"] == lists.list_number(ListName.BLACKLIST) and doc["base"] is None
    assert response.headers["X-HC-List-Number"] == str(doc["number"])
    signature = doc.pop("signature")
    body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert verify(body, signature, public_key_pem_text=public_key_pem())


def test_blacklist_snapshot_binary_decodes(api, system_actor):
    _add(system_actor, EntryType.CARD, lists.card_subject("610113198506150012", "C1"), ListReason.LOST)
    response = api.get(f"{BASE}/blacklist/snapshot", ACCEPT="application/octet-stream")
    assert response.status_code == 200 and response["Content-Type"] == "application/octet-stream"
    doc = lists.list_decode(response.content)
    assert doc.number == lists.list_number(ListName.BLACKLIST)


def test_blacklist_delta_since(api, system_actor):
    _add(system_actor, EntryType.CARD, lists.card_subject("610113198506150012", "C1"), ListReason.LOST)
    since = lists.list_number(ListName.BLACKLIST)
    _add(system_actor, EntryType.CARD, lists.card_subject("610113198506150012", "C2"), ListReason.LOST)
    doc = api.get(f"{BASE}/blacklist?since={since}", ACCEPT="application/json").json()
    assert doc["base"] == since and len(doc["adds"]) == 1
    bad = api.get(f"{BASE}/blacklist?since=x", ACCEPT="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_since"


def test_whitelist_snapshot(api):
    response = api.get(f"{BASE}/whitelist/snapshot", ACCEPT="application/json")
    assert response.status_code == 200 and response.json()["list"] == "whitelist"


def test_verify_batch_answers_every_situation_as_the_single_check_does(api, active_card, system_actor):
    """One batch holding every answer code, chip mismatches, a missing chip and a chip written with separators:
    each result is what was expected and what the single check answers for the same card."""
    import datetime as dt

    from cards.choices import CardStatus
    from cards.models import Card
    from tests.exchange.conftest import make_id_number

    def card(status=CardStatus.ACTIVE, **changes):
        made = active_card()
        Card.objects.filter(pk=made.pk).update(status=status, **changes)
        return made

    active, expired = card(), card(expires_on=dt.date(2020, 1, 1))
    not_issued, lost = card(CardStatus.DISPATCHED), card(CardStatus.LOST)
    cancelled, replaced = card(CardStatus.CANCELLED), card(CardStatus.REPLACED)
    card_listed, card_listed_lost = card(), card()
    person_listed, cancelled_person_listed = card(), card(CardStatus.CANCELLED)
    unknown_number, listed_elsewhere, person_elsewhere = make_id_number(), make_id_number(), make_id_number()
    _add(
        system_actor,
        EntryType.CARD,
        lists.card_subject(card_listed.card_no, card_listed.chip_serial),
        "manual",
    )
    _add(
        system_actor,
        EntryType.CARD,
        lists.card_subject(card_listed_lost.card_no, card_listed_lost.chip_serial),
        ListReason.LOST,
    )
    _add(system_actor, EntryType.CARD, lists.card_subject(listed_elsewhere, "CHIP7"), ListReason.REPLACED)
    for number in (person_listed.card_no, cancelled_person_listed.card_no, person_elsewhere):
        _add(system_actor, EntryType.PERSON, lists.person_subject(number), ListReason.INELIGIBLE)
    cases = [
        (active.card_no, active.chip_serial, "active"),
        (
            active.card_no.lower(),
            ":".join(active.chip_serial[i : i + 2] for i in range(0, 16, 2)).lower(),
            "active",
        ),
        (active.card_no, "", "active"),  # no chip: the holder's card
        (active.card_no, "FFFF0000", "unknown_here"),  # a chip this number does not have here
        (expired.card_no, expired.chip_serial, "expired"),
        (not_issued.card_no, not_issued.chip_serial, "not_issued"),
        (lost.card_no, lost.chip_serial, "lost"),
        (cancelled.card_no, cancelled.chip_serial, "cancelled"),
        (replaced.card_no, replaced.chip_serial, "replaced"),
        (card_listed.card_no, card_listed.chip_serial, "blacklisted_card"),
        (card_listed_lost.card_no, card_listed_lost.chip_serial, "lost"),
        (person_listed.card_no, person_listed.chip_serial, "blacklisted_person"),
        (person_listed.card_no, "FFFF0000", "blacklisted_person"),
        (cancelled_person_listed.card_no, cancelled_person_listed.chip_serial, "cancelled"),
        (person_elsewhere, "CHIP1", "blacklisted_person"),
        (listed_elsewhere, "CHIP7", "replaced"),
        (listed_elsewhere, "CHIP8", "unknown_here"),
        (unknown_number, "ABC", "unknown_here"),
        ("123456", "ABC", "invalid"),
        ("   ", "ABC", "invalid"),
    ]
    answer = api.post(
        f"{BASE}/cards/verify-batch", {"cards": [{"card_no": no, "chip": chip} for no, chip, _code in cases]}
    ).json()
    assert [result["code"] for result in answer["results"]] == [code for _no, _chip, code in cases]
    assert answer["list_number"] == lists.list_number(ListName.BLACKLIST)
    assert (
        answer["results"][1]
        == answer["results"][0]
        == {
            "card_no": active.card_no,
            "chip": active.chip_serial,
            "code": "active",
            "usable": True,
        }
    )
    assert answer["results"][2]["chip"] == active.chip_serial  # the card found says which chip it is
    for (card_no, chip, _code), result in zip(cases[:-1], answer["results"], strict=False):
        single = api.get(f"{BASE}/cards/{card_no}/status?chip={chip}").json()
        assert {key: single[key] for key in result} == result, (card_no, chip)


@pytest.mark.django_db(transaction=True)
def test_the_single_card_read_answers_as_the_batch_read_in_every_situation(active_card, system_actor):
    # The single GET reads one card by a statement of its own, straight on libpq outside a transaction: every
    # situation must get the batch's answer and list number (the batch read is the reference).
    import datetime as dt

    from django.db import connection

    from cards.models import Card
    from exchange.hospital import cardstatus
    from tests.exchange.conftest import make_id_number

    if connection.vendor != "postgresql":
        service_missing("the one-card read is PostgreSQL's: set DATABASE_URL")
    active, lost_chip, listed_person, expired, cancelled = (active_card() for _ in range(5))
    _add(
        system_actor,
        EntryType.CARD,
        lists.card_subject(lost_chip.card_no, lost_chip.chip_serial),
        ListReason.LOST,
    )
    _add(system_actor, EntryType.PERSON, lists.person_subject(listed_person.card_no), ListReason.INELIGIBLE)
    elsewhere = make_id_number()  # a card on the list, not known here
    _add(system_actor, EntryType.CARD, lists.card_subject(elsewhere, "CHIP77"), ListReason.REPLACED)
    Card.objects.filter(pk=expired.pk).update(expires_on=dt.date(2020, 1, 1))
    Card.objects.filter(pk=cancelled.pk).update(status="cancelled")
    pairs = [
        (card.card_no, card.chip_serial) for card in (active, lost_chip, listed_person, expired, cancelled)
    ]
    pairs += [
        (active.card_no, ""),  # no chip: the holder's card in hand
        (active.card_no.lower(), active.chip_serial.lower()[:4] + "-" + active.chip_serial[4:]),  # normalised
        (active.card_no, "FFFF0000"),  # a chip not known here
        (elsewhere, "CHIP77"),
        (make_id_number(), "ABC"),  # unknown here
        ("123456", "ABC"),  # invalid
        ("", "ABC"),
    ]
    assert cardstatus._one_read_possible()  # the libpq read is what runs here
    answers = [cardstatus.card_status_check_one(*pair) for pair in pairs]
    batch = [cardstatus.card_status_check_numbered([pair]) for pair in pairs]
    assert answers == [(checks[0], number) for checks, number in batch]
    codes = [check.code for check, _number in answers]
    assert codes[:6] == ["active", "lost", "blacklisted_person", "expired", "cancelled", "active"]
    assert codes[6:] == ["active", "unknown_here", "replaced", "unknown_here", "invalid", "invalid"]
    assert {number for _check, number in answers} == {lists.list_number(ListName.BLACKLIST)}


@pytest.mark.django_db(transaction=True)
def test_the_single_card_read_survives_a_dead_connection_and_a_forgotten_statement(active_card):
    from django.db import connection

    from exchange.hospital.cardstatus import PendingCheck, card_status_check_one
    from tests.exchange.conftest import kill_kept_connection

    if connection.vendor != "postgresql" or not connection.settings_dict.get("CONN_HEALTH_CHECKS"):
        service_missing("this needs PostgreSQL with CONN_HEALTH_CHECKS: set DATABASE_URL")
    card = active_card()
    assert card_status_check_one(card.card_no, card.chip_serial)[0].code == "active"
    with connection.cursor() as cursor:  # what psycopg does after a rollback, a pooler after a client leaves
        cursor.execute("DEALLOCATE ALL")
    assert card_status_check_one(card.card_no, card.chip_serial)[0].code == "active"  # prepared again
    kill_kept_connection()
    assert card_status_check_one(card.card_no, card.chip_serial)[0].code == "active"
    assert connection.health_check_done
    # Sent ahead (while the claim is out) on a connection that died: read again on a new one, not a 500.
    kill_kept_connection()
    pending = PendingCheck(card.card_no, card.chip_serial)
    pending.send()()
    assert pending.result()[0].code == "active" and connection.health_check_done
    with connection.cursor() as cursor:  # DEALLOCATE ALL again: sent ahead, refused, prepared and read
        cursor.execute("DEALLOCATE ALL")
    pending = PendingCheck(card.card_no, card.chip_serial)
    pending.send()()
    assert pending.failure is not None and pending.result()[0].code == "active"
