"""POST card-uses hands a hospital's batch to the card-use ingestion (cards.actions.uses, helper carduse's
branch): it needs that branch merged."""

import pytest

BASE = "/api/v1/hospital"


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


def test_card_uses_batch_is_taken_once(api, active_card):
    card = active_card()
    body = {
        "batch_id": "20261121-001",
        "records": [
            {
                "card_no": card.card_no,
                "chip_serial": card.chip_serial,
                "used_at": "2026-11-21T08:30:00+08:00",
                "scenario": "outpatient",
            },
        ],
    }
    first = api.post(f"{BASE}/card-uses", body, idempotency_key="uses-20261121-001")
    assert first.status_code == 201, first.json()
    assert first.json()["records"] == 1 and first.json()["accepted"] + len(first.json()["rejected"]) == 1
    retry = api.post(f"{BASE}/card-uses", body, idempotency_key="uses-20261121-001")
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"


def test_banks_do_not_send_card_uses(bank_api):
    response = bank_api.post(f"{BASE}/card-uses", {"batch_id": "b1", "records": []})
    assert response.status_code == 403 and response.json()["code"] == "institution_type_refused"
