"""Blacklist / whitelist downloads and the blacklist checks of the card status. They need registry's list
(registry/lists.py, the lead's branch) merged."""

import json

import pytest

from registry import lists
from registry.choices import EntryType, ListName, ListReason
from registry.node import public_key_pem, verify

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
