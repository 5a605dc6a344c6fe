"""The hospital API as an integrator meets it: card checks, identity checks, on-site issuance sync, idempotent
retries and the per-institution rate limit."""

import os
import uuid

import pytest

from cards.choices import CardStatus
from cards.models import Card
from exchange.models import IdempotencyRecord
from registry.models import AuditEntry
from tests.exchange.conftest import make_id_number, next_chip
from tests.integration.conftest import service_missing

BASE = "/api/v1/hospital"


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()


# --- identity/verify ----------------------------------------------------------------------------------------


def test_identity_verify_known_holder_and_name(api, make_holder):
    holder = make_holder(name="王小明")
    answer = api.post(
        f"{BASE}/identity/verify", {"id_number": holder.document_number, "name": "王小明"}
    ).json()
    assert answer == {"valid": True, "problem": None, "known_here": True, "name_matches": True}
    wrong = api.post(f"{BASE}/identity/verify", {"id_number": holder.document_number, "name": "李四"}).json()
    assert wrong["known_here"] is True and wrong["name_matches"] is False


def test_identity_verify_never_returns_personal_data(api, make_holder):
    holder = make_holder(name="王小明")
    response = api.post(f"{BASE}/identity/verify", {"id_number": holder.document_number})
    assert response.status_code == 200
    assert "王小明" not in response.content.decode() and response.json()["name_matches"] is None


def test_identity_verify_bad_checksum_and_unknown(api):
    number = make_id_number()
    bad = number[:-1] + ("0" if number[-1] != "0" else "1")
    answer = api.post(f"{BASE}/identity/verify", {"id_number": bad}).json()
    assert answer["valid"] is False and answer["problem"] == "id_checksum" and answer["known_here"] is False
    unknown = api.post(f"{BASE}/identity/verify", {"id_number": make_id_number()}).json()
    assert unknown["valid"] is True and unknown["known_here"] is False


def test_unsigned_calls_are_refused(client):
    response = client.post(f"{BASE}/identity/verify", {"id_number": "x"}, content_type="application/json")
    assert response.status_code in (401, 403) and response.json()["code"] in (
        "not_authenticated",
        "permission_denied",
    )


# --- card status --------------------------------------------------------------------------------------------


def test_active_card_status_carries_the_list_number(api, active_card):
    card = active_card()
    answer = api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()
    assert answer["code"] == "active" and answer["usable"] is True
    assert answer["card_status"] == "active" and isinstance(answer["list_number"], int)
    assert answer["message_en"].startswith("The card is active") and answer["message_zh"]


def test_unknown_here_is_not_invalid(api, active_card):
    card = active_card()
    assert api.get(f"{BASE}/cards/{make_id_number()}/status?chip=ABC").json()["code"] == "unknown_here"
    # The number is known, this chip is not (say a replacement card issued elsewhere, not synced yet).
    assert api.get(f"{BASE}/cards/{card.card_no}/status?chip=FFFF0000").json()["code"] == "unknown_here"
    assert api.get(f"{BASE}/cards/123456/status?chip=ABC").json()["code"] == "invalid"


def test_not_yet_handed_over_card(api, approved_application, hospital, system_actor):
    from cards import actions

    application = approved_application()
    card = actions.card_issue_onsite_allocate(
        actor=system_actor, application=application, institution=hospital
    )
    answer = api.get(f"{BASE}/cards/{card.card_no}/status").json()
    assert answer["code"] == "not_issued" and answer["usable"] is False


def test_cancelled_card_and_expired_card(api, active_card, system_actor):
    import datetime as dt

    card = active_card()
    Card.objects.filter(pk=card.pk).update(expires_on=dt.date(2020, 1, 1))
    assert api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()["code"] == "expired"
    Card.objects.filter(pk=card.pk).update(status=CardStatus.CANCELLED)
    assert (
        api.get(f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}").json()["code"] == "cancelled"
    )


def test_status_query_is_read_only_and_needs_no_idempotency_key(api, active_card):
    card = active_card()
    before = AuditEntry.objects.count()
    assert api.get(f"{BASE}/cards/{card.card_no}/status").status_code == 200
    assert AuditEntry.objects.count() == before and not IdempotencyRecord.objects.exists()


def _drop_checked_at(response) -> dict:
    answer = response.json()
    answer.pop("checked_at", None)
    return answer


def test_the_card_check_answers_alike_on_its_lean_path_and_on_drfs(api, active_card):
    # A signed JSON GET takes the view's lean path; ?format=json takes DRF's: same answer, same headers.
    card = active_card()
    path = f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}"
    lean, drf = api.get(path), api.get(path + "&format=json")
    assert lean.status_code == drf.status_code == 200
    assert _drop_checked_at(lean) == _drop_checked_at(drf)
    for header in ("Content-Type", "Allow", "Vary", "Content-Language", "X-Frame-Options"):
        assert lean.headers.get(header) == drf.headers.get(header), header
    assert lean.content.decode().startswith('{"card_no":')  # compact, unescaped: as DRF's JSONRenderer writes


def test_the_card_check_refuses_a_replay_a_bad_signature_and_a_revoked_key_on_the_next_call(
    api, active_card, client, system_actor
):
    from institutions import actions
    from institutions.models import ApiCredential
    from institutions.signing import signed_headers

    card = active_card()
    path = f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}"
    headers = signed_headers(key_id=api.key_id, secret=api.secret, method="GET", path_with_query=path)
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    assert client.get(path, **meta).status_code == 200
    replayed = client.get(path, **meta)
    assert replayed.status_code == 401 and replayed.json()["code"] == "replayed_nonce"
    assert replayed.headers["WWW-Authenticate"].startswith("HC-HMAC-SHA256")
    assert replayed.json()["message_zh"] and replayed.json()["message_en"]
    forged = {**meta, "HTTP_X_HC_NONCE": "a-fresh-nonce-0000001"}  # the signature covers the nonce
    assert client.get(path, **forged).json()["code"] == "bad_signature"
    assert api.get(path).status_code == 200  # the key is cached by this process now
    actions.credential_revoke(
        actor=system_actor, credential=ApiCredential.objects.get(key_id=api.key_id), reason="泄露"
    )
    revoked = api.get(path)
    assert revoked.status_code == 401 and revoked.json()["code"] == "key_revoked"


def test_the_card_check_unsigned_or_half_signed(client, active_card):
    card = active_card()
    path = f"{BASE}/cards/{card.card_no}/status"
    unsigned = client.get(path)
    assert unsigned.status_code in (401, 403) and unsigned.json()["code"] in (
        "not_authenticated",
        "permission_denied",
    )
    half = client.get(path, HTTP_X_HC_SIGNATURE="00")
    assert half.status_code == 401 and half.json()["code"] == "signature_headers_missing"


def test_the_card_check_counts_one_hit_per_call_and_none_for_a_replay(
    api, active_card, client, settings, hospital
):
    from institutions.signing import signed_headers

    settings.HC_HOSPITAL_RATE_LIMITS = {"default": "2/min"}
    card = active_card()
    path = f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}"
    headers = signed_headers(key_id=api.key_id, secret=api.secret, method="GET", path_with_query=path)
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    assert client.get(path, **meta).status_code == 200
    assert client.get(path, **meta).json()["code"] == "replayed_nonce"  # refused, and not counted
    assert api.get(path).status_code == 200  # the second call of the window
    throttled = api.get(path)
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert int(throttled.headers["Retry-After"]) >= 1


# --- verify-batch -------------------------------------------------------------------------------------------


def test_verify_batch_answers_in_order_with_counts(api, active_card, django_assert_max_num_queries):
    cards = [active_card() for _ in range(3)]
    pairs = [{"card_no": card.card_no, "chip": card.chip_serial} for card in cards]
    pairs.append({"card_no": make_id_number(), "chip": "X1"})
    pairs.append({"card_no": "bogus", "chip": ""})
    with django_assert_max_num_queries(12):
        answer = api.post(f"{BASE}/cards/verify-batch", {"cards": pairs}).json()
    assert [result["code"] for result in answer["results"]] == ["active"] * 3 + ["unknown_here", "invalid"]
    assert answer["counts"] == {"active": 3, "unknown_here": 1, "invalid": 1}
    assert [result["card_no"] for result in answer["results"][:3]] == [card.card_no for card in cards]


def test_verify_batch_limits(api):
    too_many = {"cards": [{"card_no": "x", "chip": ""}] * 1001}
    response = api.post(f"{BASE}/cards/verify-batch", too_many)
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert api.post(f"{BASE}/cards/verify-batch", {"cards": []}).status_code == 400
    assert api.post(f"{BASE}/cards/verify-batch", {"cards": [{"chip": "x"}]}).status_code == 400


# --- cards/issued -------------------------------------------------------------------------------------------


def test_card_issued_on_site_activates_a_card(api, make_holder, hospital):
    holder = make_holder()
    chip = next_chip()
    response = api.post(f"{BASE}/cards/issued", {"id_number": holder.document_number, "chip_serial": chip})
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["status"] == "active" and answer["chip_serial"] == chip
    assert holder.document_number not in response.content.decode()  # masked
    card = Card.objects.get(chip_serial=chip)
    assert card.medical_institution == hospital and card.status == CardStatus.ACTIVE
    assert AuditEntry.objects.filter(
        action="card.onsite.complete", actor_label__startswith=hospital.code
    ).exists()
    assert api.get(f"{BASE}/cards/{holder.document_number}/status?chip={chip}").json()["code"] == "active"


def test_card_issued_refusals(api, active_card):
    unknown = api.post(f"{BASE}/cards/issued", {"id_number": make_id_number(), "chip_serial": next_chip()})
    assert unknown.status_code == 404 and unknown.json()["code"] == "holder_unknown_here"
    card = active_card()
    again = api.post(f"{BASE}/cards/issued", {"id_number": card.card_no, "chip_serial": next_chip()})
    assert again.status_code == 400 and again.json()["code"] in ("already_holds_card", "application_pending")
    bad_chip = api.post(f"{BASE}/cards/issued", {"id_number": card.card_no, "chip_serial": "??"})
    assert bad_chip.json()["code"] == "invalid_chip_serial"


# --- idempotency --------------------------------------------------------------------------------------------


def test_a_retried_write_returns_the_first_answer_and_changes_nothing_twice(api, make_holder):
    holder = make_holder()
    body = {"id_number": holder.document_number, "chip_serial": next_chip()}
    first = api.post(f"{BASE}/cards/issued", body, idempotency_key="visit-20261121-0001")
    retry = api.post(f"{BASE}/cards/issued", body, idempotency_key="visit-20261121-0001")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert Card.objects.filter(resident=holder).count() == 1


def test_a_refusal_is_replayed_too(api):
    body = {"id_number": make_id_number(), "chip_serial": next_chip()}
    first = api.post(f"{BASE}/cards/issued", body, idempotency_key="visit-refused-1")
    retry = api.post(f"{BASE}/cards/issued", body, idempotency_key="visit-refused-1")
    assert first.status_code == retry.status_code == 404 and retry.json() == first.json()


def test_same_key_different_body_is_refused(api, make_holder):
    holder = make_holder()
    api.post(
        f"{BASE}/cards/issued",
        {"id_number": holder.document_number, "chip_serial": next_chip()},
        idempotency_key="visit-20261121-0002",
    )
    other = api.post(
        f"{BASE}/cards/issued",
        {"id_number": holder.document_number, "chip_serial": next_chip()},
        idempotency_key="visit-20261121-0002",
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_writes_need_an_idempotency_key(api, make_holder):
    holder = make_holder()
    body = {"id_number": holder.document_number, "chip_serial": next_chip()}
    missing = api.post(f"{BASE}/cards/issued", body, idempotency_key=None)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    bad = api.post(f"{BASE}/cards/issued", body, idempotency_key="short")
    assert bad.json()["code"] == "idempotency_key_invalid"
    assert not Card.objects.filter(resident=holder).exists()


def test_keys_belong_to_one_institution(api, client, make_institution, system_actor, make_holder):
    from institutions import actions
    from tests.exchange.conftest import SignedClient

    other = make_institution("610113")
    credential, secret = actions.credential_issue(actor=system_actor, institution=other)
    other_api = SignedClient(client, credential.key_id, secret)
    body = {"id_number": make_id_number(), "chip_serial": next_chip()}
    api.post(f"{BASE}/cards/issued", body, idempotency_key="shared-key-0001")
    answer = other_api.post(f"{BASE}/cards/issued", body, idempotency_key="shared-key-0001")
    assert "Idempotent-Replayed" not in answer.headers


# --- rate limit ---------------------------------------------------------------------------------------------


def test_rate_limit_per_institution_with_retry_after(
    api, settings, hospital, client, make_institution, system_actor
):
    from institutions import actions
    from tests.exchange.conftest import SignedClient

    settings.HC_HOSPITAL_RATE_LIMITS = {"default": "100/min", hospital.code: "3/min"}
    path = f"{BASE}/cards/{make_id_number()}/status"
    assert [api.get(path).status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get(path)
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another institution has its own bucket.
    other = make_institution("610113")
    credential, secret = actions.credential_issue(actor=system_actor, institution=other)
    assert SignedClient(client, credential.key_id, secret).get(path).status_code == 200


def test_an_answer_quoting_a_nul_character_is_kept_and_replayed(api):
    # A refusal may quote what was sent; PostgreSQL's jsonb would refuse the NUL (schemathesis found it).
    path = f"{BASE}/residents/{make_id_number()}"
    first = api.patch(path, {"ph\u0000one": "x"}, idempotency_key="nul-answer-0001")
    retry = api.patch(path, {"ph\u0000one": "x"}, idempotency_key="nul-answer-0001")
    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_the_card_read_survives_a_kept_connection_that_died(active_card):
    # The card read takes the place of CONN_HEALTH_CHECKS' ping: a dead kept connection is replaced, not a 500.
    from django.db import connection

    from exchange.hospital.cardstatus import card_status_check
    from tests.exchange.conftest import kill_kept_connection

    if connection.vendor != "postgresql" or not connection.settings_dict.get("CONN_HEALTH_CHECKS"):
        service_missing("this needs PostgreSQL with CONN_HEALTH_CHECKS: set DATABASE_URL")
    card = active_card()
    pair = (card.card_no, card.chip_serial)
    assert card_status_check([pair])[0].code == "active"
    kill_kept_connection()
    assert card_status_check([pair])[0].code == "active"
    assert connection.health_check_done


@pytest.mark.django_db(transaction=True)
def test_the_card_check_reads_the_card_during_the_claim_and_still_refuses_what_it_must(
    api, active_card, client, settings, system_actor, monkeypatch
):
    # Outside a transaction, on PostgreSQL with Redis, the card read goes out while the claim is on its way:
    # the answer is the same, and a replay, a revoked key (reloaded from the database after the overlapped read)
    # and the rate limit still refuse.
    from django.db import connection

    from exchange.hospital.cardstatus import PendingCheck
    from institutions import actions
    from institutions.api.sharedcache import ClaimLine
    from institutions.models import ApiCredential
    from institutions.signing import signed_headers

    redis = os.environ.get("CACHE_URL") or os.environ.get("CELERY_BROKER_URL", "")
    if connection.vendor != "postgresql" or not redis.startswith("redis://"):
        service_missing(
            "this needs PostgreSQL and Redis: set DATABASE_URL and CACHE_URL or CELERY_BROKER_URL"
        )
    settings.CACHES = {  # keys of this test's own (a prefix): nothing else in that Redis database is touched
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis,
            "KEY_PREFIX": uuid.uuid4().hex,
        }
    }
    assert ClaimLine.current() is not None
    sent = []
    original = PendingCheck.send
    monkeypatch.setattr(PendingCheck, "send", lambda self: sent.append(original(self)) or sent[-1])
    settings.HC_HOSPITAL_RATE_LIMITS = {"default": "3/min"}
    card = active_card()
    path = f"{BASE}/cards/{card.card_no}/status?chip={card.chip_serial}"
    lean, drf = api.get(path), api.get(path + "&format=json")
    assert lean.status_code == drf.status_code == 200 and lean.json()["code"] == "active"
    assert _drop_checked_at(lean) == _drop_checked_at(drf)
    assert (
        sent and sent[0] is not None and sent[0].__name__ == "_collect"
    )  # the read was sent, then collected
    headers = signed_headers(key_id=api.key_id, secret=api.secret, method="GET", path_with_query=path)
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    assert client.get(path, **meta).status_code == 200  # the third call of the window
    assert client.get(path, **meta).json()["code"] == "replayed_nonce"
    throttled = api.get(path)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    settings.HC_HOSPITAL_RATE_LIMITS = {"default": "100/min"}
    actions.credential_revoke(
        actor=system_actor, credential=ApiCredential.objects.get(key_id=api.key_id), reason="泄露"
    )
    revoked = api.get(path)
    assert revoked.status_code == 401 and revoked.json()["code"] == "key_revoked"
    with connection.cursor() as cursor:  # the connection was left ready for the next query
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
