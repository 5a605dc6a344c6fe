"""Personal self-query (ID + name + one-time code, masked answer, throttled) and the electronic health card
(one per holder, signed dynamic QR code, verify)."""

import re

import pytest

from exchange.hospital import ehc as ehc_module
from exchange.hospital.sms import MemorySmsBackend
from exchange.models import ElectronicHealthCard
from registry.models import AuditEntry
from tests.exchange.conftest import make_id_number


@pytest.fixture(autouse=True)
def fresh_cache_and_outbox(settings):
    from django.core.cache import cache

    cache.clear()
    settings.HC_SMS_BACKEND = "exchange.hospital.sms.MemorySmsBackend"
    MemorySmsBackend.outbox.clear()


def _code_for(phone: str) -> str:
    sent = [message for to, message in MemorySmsBackend.outbox if to == phone]
    return re.search(r"\b(\d{6})\b", sent[-1]).group(1)


def test_self_query_with_the_code_sent_to_the_phone(client, active_card):
    card = active_card(name="王小明", phone1="13800138000")
    holder = card.resident
    asked = client.post(
        "/api/v1/selfquery/code",
        {"id_number": holder.document_number, "name": "王小明"},
        content_type="application/json",
    )
    assert asked.status_code == 202
    code = _code_for("13800138000")
    answer = client.post(
        "/api/v1/selfquery/result",
        {"id_number": holder.document_number, "name": "王小明", "code": code},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (
        body["holder"] == "王**"
        and body["document"] == f"{holder.document_number[:6]}**********{holder.document_number[-4:]}"
    )
    assert holder.document_number not in answer.content.decode()
    assert body["cards"][0]["status"] == "active" and any(
        event["kind"] == "collected" for event in body["history"]
    )
    assert AuditEntry.objects.filter(action="holder.selfquery", object_key=str(holder.pk)).exists()
    # Single use.
    again = client.post(
        "/api/v1/selfquery/result",
        {"id_number": holder.document_number, "name": "王小明", "code": code},
        content_type="application/json",
    )
    assert again.status_code == 400 and again.json()["code"] == "selfquery_code_invalid"


def test_self_query_does_not_tell_who_exists(client, make_holder):
    holder = make_holder(name="王小明", phone1="13800138000")
    known = client.post(
        "/api/v1/selfquery/code",
        {"id_number": holder.document_number, "name": "王小明"},
        content_type="application/json",
    )
    wrong_name = client.post(
        "/api/v1/selfquery/code",
        {"id_number": holder.document_number, "name": "李四"},
        content_type="application/json",
    )
    nobody = client.post(
        "/api/v1/selfquery/code",
        {"id_number": make_id_number(), "name": "王小明"},
        content_type="application/json",
    )
    assert known.json() == wrong_name.json() == nobody.json()
    assert len(MemorySmsBackend.outbox) == 1


def test_self_query_wrong_codes_and_throttle(client, make_holder, settings):
    holder = make_holder(name="王小明", phone1="13800138000")
    body = {"id_number": holder.document_number, "name": "王小明"}
    client.post("/api/v1/selfquery/code", body, content_type="application/json")
    code = _code_for("13800138000")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post("/api/v1/selfquery/result", {**body, "code": wrong}, content_type="application/json")
    # Five wrong tries burn the code: even the right one is refused now.
    late = client.post("/api/v1/selfquery/result", {**body, "code": code}, content_type="application/json")
    assert late.status_code == 400
    settings.HC_HOSPITAL_RATE_LIMITS = {"selfquery": "2/hour", "selfquery_client": "100/hour"}
    from django.core.cache import cache

    cache.clear()
    statuses = [
        client.post("/api/v1/selfquery/code", body, content_type="application/json").status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
    refused = client.post("/api/v1/selfquery/code", body, content_type="application/json")
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0


def test_e_card_one_per_holder_and_its_code_verifies(api, active_card):
    card = active_card()
    first = api.post("/api/v1/hospital/ehc", {"id_number": card.card_no})
    assert first.status_code == 201, first.json()
    second = api.post("/api/v1/hospital/ehc", {"id_number": card.card_no})
    assert second.status_code == 200 and second.json()["ehc_id"] == first.json()["ehc_id"]
    assert ElectronicHealthCard.objects.filter(resident=card.resident).count() == 1
    code = first.json()["code"]
    ehc_id, kind, expiry, _signature = code.split(":")
    assert ehc_id == first.json()["ehc_id"] and kind == "01" and int(expiry) == first.json()["expires_at"]
    verified = api.post("/api/v1/hospital/ehc/verify", {"code": code}).json()
    assert (
        verified["valid"] is True
        and verified["id_number"] == card.card_no
        and verified["card_status"] == "active"
    )
    assert AuditEntry.objects.filter(action="ehc.verify").exists()


def test_e_card_codes_expire_and_cannot_be_forged(api, active_card):
    card = active_card()
    ehc_id = api.post("/api/v1/hospital/ehc", {"id_number": card.card_no}).json()["ehc_id"]
    ehc = ElectronicHealthCard.objects.get(ehc_id=ehc_id)
    old, _expiry = ehc_module.ehc_code(ehc, now=1_000_000)
    assert api.post("/api/v1/hospital/ehc/verify", {"code": old}).json()["result"] == "expired"
    code, _expiry = ehc_module.ehc_code(ehc)
    ehc_part, kind, expiry, signature = code.split(":")
    forged = f"{ehc_part}:{kind}:{int(expiry) + 3600}:{signature}"
    answer = api.post("/api/v1/hospital/ehc/verify", {"code": forged}).json()
    assert answer["result"] == "bad_signature" and answer["id_number"] is None
    assert api.post("/api/v1/hospital/ehc/verify", {"code": "garbage"}).json()["result"] == "malformed"


def test_e_card_needs_an_active_holder(api, make_holder):
    holder = make_holder()
    response = api.post("/api/v1/hospital/ehc", {"id_number": holder.document_number})
    assert response.status_code == 400 and response.json()["code"] == "no_active_card"


def test_e_card_qr_as_svg_and_png(api, active_card):
    card = active_card()
    ehc_id = api.post("/api/v1/hospital/ehc", {"id_number": card.card_no}).json()["ehc_id"]
    svg = api.get(f"/api/v1/hospital/ehc/{ehc_id}/qr")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    png = api.get(f"/api/v1/hospital/ehc/{ehc_id}/qr?as=png")
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert int(png["X-HC-Code-Expires"]) > 0
    assert api.get("/api/v1/hospital/ehc/nope/qr").status_code == 404
