"""Hospital writes that run Cards II's actions (loss report / revoke, replacement, contact and card changes).
They need the cards2 branch merged (cards.actions.maintenance, cards.selectors.cards.card_find)."""

import pytest

from cards.choices import CardStatus
from cards.models import Card
from registry.models import AuditEntry
from tests.exchange.conftest import next_chip

BASE = "/api/v1/hospital"


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


def _loss(api, card, action="report_loss", number=None, **kwargs):
    body = {"action": action, "chip": card.chip_serial, "document_number": number or card.card_no}
    return api.post(f"{BASE}/cards/{card.card_no}/status", body, **kwargs)


def test_loss_report_and_revocation_at_the_hospital(api, active_card):
    card = active_card()
    response = _loss(api, card)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "lost"
    status = api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()
    assert status["code"] == "lost" and status["usable"] is False
    assert _loss(api, card, "unreport_loss").json()["status"] == "active"
    assert api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()["code"] == "active"


def test_loss_report_refusals(api, active_card, make_holder):
    card = active_card()
    other = make_holder()
    wrong = _loss(api, card, number=other.document_number)
    assert wrong.status_code == 400 and wrong.json()["code"] == "identity_mismatch"
    assert Card.objects.get(pk=card.pk).status == CardStatus.ACTIVE
    twice = _loss(api, card, "unreport_loss")
    # An active card has no loss to revoke: the refusal names the state.
    assert twice.status_code == 409 and twice.json()["code"] == "illegal_transition"
    unknown = api.post(
        f"{BASE}/cards/{other.document_number}/status",
        {"action": "report_loss", "document_number": other.document_number},
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "card_unknown_here"


def test_loss_report_retried_is_done_once(api, active_card):
    card = active_card()
    first = _loss(api, card, idempotency_key="loss-report-0001")
    retry = _loss(api, card, idempotency_key="loss-report-0001")
    assert first.status_code == retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert AuditEntry.objects.filter(object_key=str(card.pk), action__icontains="loss").count() == 1


def test_replacement_on_site(api, active_card):
    card = active_card()
    new_chip = next_chip()
    response = api.post(
        f"{BASE}/cards/{card.card_no}/replacement",
        {"chip": card.chip_serial, "reason": "damaged", "new_chip_serial": new_chip},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["chip_serial"] == new_chip and response.json()["status"] == "active"
    old = api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()
    new = api.get(f"{BASE}/cards/{card.card_no}/status?chip={new_chip}").json()
    assert old["code"] == "replaced" and new["code"] == "active"
    again = api.post(
        f"{BASE}/cards/{card.card_no}/replacement", {"chip": card.chip_serial, "reason": "damaged"}
    )
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"


def test_contacts_change_is_audited_and_masked(api, active_card):
    card = active_card()
    response = api.patch(f"{BASE}/residents/{card.card_no}", {"phone1": "13800138000"})
    assert response.status_code == 200, response.json()
    assert response.json()["phone1"] == "138****8000" and "13800138000" not in response.content.decode()
    card.resident.refresh_from_db()
    assert card.resident.phone1 == "13800138000"
    assert AuditEntry.objects.filter(object_key=str(card.resident.pk), action="holder.update").exists()


def test_identity_fields_are_never_changed(api, active_card):
    card = active_card()
    response = api.patch(f"{BASE}/residents/{card.card_no}", {"name": "张三"})
    assert response.status_code == 400 and "name" in response.json()["detail"]
    response = api.patch(f"{BASE}/cards/{card.card_no}", {"chip": card.chip_serial, "status": "cancelled"})
    assert response.status_code == 400
    assert Card.objects.get(pk=card.pk).status == CardStatus.ACTIVE


def test_card_info_change(api, active_card):
    card = active_card()
    response = api.patch(
        f"{BASE}/cards/{card.card_no}", {"chip": card.chip_serial, "expires_on": "2036-03-02"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["expires_on"] == "2036-03-02"


def test_a_bank_takes_a_loss_report(bank_api, active_card):
    card = active_card()
    body = {"card_no": card.card_no, "chip": card.chip_serial, "document_number": card.card_no}
    response = bank_api.post("/api/v1/bank/loss-reports", body)
    assert response.status_code == 200, response.json()
    assert Card.objects.get(pk=card.pk).status == CardStatus.LOST
