"""Request signing: every refusal has its own status and stable error code."""

import json
import time

import pytest
from django.core.cache import cache
from django.utils import timezone

from institutions import actions
from institutions.signing import signed_headers

WHOAMI = "/api/v1/hospital/whoami"


@pytest.fixture(autouse=True)
def fresh_nonces():
    cache.clear()


@pytest.fixture
def hospital(make_institution):
    return make_institution("610113", name="西安市雁塔区人民医院")


@pytest.fixture
def key(hospital, system_actor):
    credential, secret = actions.credential_issue(actor=system_actor, institution=hospital)
    return credential, secret


def call(client, method, path, *, key_id, secret, body=b"", **overrides):
    headers = signed_headers(key_id=key_id, secret=secret, method=method, path_with_query=path, body=body)
    headers.update(overrides)
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    if method == "GET":
        return client.get(path, **meta)
    return client.generic(method, path, body, content_type="application/json", **meta)


@pytest.mark.django_db
def test_valid_signature_answers_the_institution(client, key, hospital):
    credential, secret = key
    response = call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["code"] == hospital.code and body["name"] == "西安市雁塔区人民医院"
    assert (
        body["region"] == "610113"
        and body["region_name"] == "陕西省 西安市 雁塔区"
        and body["type"] == "medical"
    )
    credential.refresh_from_db()
    assert credential.last_used_at is not None


@pytest.mark.django_db
def test_query_string_is_part_of_the_signature(client, key):
    credential, secret = key
    headers = signed_headers(key_id=credential.key_id, secret=secret, method="GET", path_with_query=WHOAMI)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert client.get(WHOAMI + "?x=1", **meta).json()["code"] == "bad_signature"


def assert_refused(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message_zh"] and body["message_en"] and body["message_zh"] != body["message_en"]


@pytest.mark.django_db
def test_wrong_secret(client, key):
    credential, _ = key
    assert_refused(
        call(client, "GET", WHOAMI, key_id=credential.key_id, secret="not-the-secret"), 401, "bad_signature"
    )


@pytest.mark.django_db
def test_stale_timestamp(client, key):
    credential, secret = key
    old = str(int(time.time()) - 301)
    headers = signed_headers(
        key_id=credential.key_id, secret=secret, method="GET", path_with_query=WHOAMI, timestamp=int(old)
    )
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert_refused(client.get(WHOAMI, **meta), 401, "stale_timestamp")


@pytest.mark.django_db
def test_replayed_nonce(client, key):
    credential, secret = key
    headers = signed_headers(key_id=credential.key_id, secret=secret, method="GET", path_with_query=WHOAMI)
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert client.get(WHOAMI, **meta).status_code == 200
    assert_refused(client.get(WHOAMI, **meta), 401, "replayed_nonce")


@pytest.mark.django_db
def test_revoked_key(client, key, system_actor):
    credential, secret = key
    actions.credential_revoke(actor=system_actor, credential=credential, reason="泄露")
    assert_refused(call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret), 401, "key_revoked")


@pytest.mark.django_db
def test_expired_key(client, key):
    credential, secret = key
    type(credential).objects.filter(pk=credential.pk).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert_refused(call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret), 401, "key_expired")


@pytest.mark.django_db
def test_body_tampered(client, key):
    credential, secret = key
    signed_body = json.dumps({"card_no": "61010219900307123X"}).encode()
    headers = signed_headers(
        key_id=credential.key_id, secret=secret, method="POST", path_with_query=WHOAMI, body=signed_body
    )
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    tampered = json.dumps({"card_no": "61010219900307124X"}).encode()
    assert_refused(
        client.generic("POST", WHOAMI, tampered, content_type="application/json", **meta),
        401,
        "bad_signature",
    )


@pytest.mark.django_db
def test_unknown_key_missing_headers_bad_nonce(client, key):
    credential, secret = key
    assert_refused(call(client, "GET", WHOAMI, key_id="hc_nope", secret=secret), 401, "unknown_key")
    assert_refused(client.get(WHOAMI, HTTP_X_HC_KEY=credential.key_id), 401, "signature_headers_missing")
    assert_refused(
        call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret, **{"X-HC-Nonce": "short"}),
        401,
        "bad_nonce",
    )


@pytest.mark.django_db
def test_unsigned_and_staff_sessions_are_refused(client, make_user):
    assert client.get(WHOAMI).status_code in (401, 403)
    client.force_login(make_user("staff", roles=["系统管理员"], scope="610100"))
    assert client.get(WHOAMI).status_code in (401, 403)


@pytest.mark.django_db
def test_rotation_with_grace_keeps_the_old_key_for_the_switch_over(client, key, system_actor):
    credential, secret = key
    successor, new_secret = actions.credential_rotate(actor=system_actor, credential=credential, grace_days=7)
    assert call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret).status_code == 200
    assert call(client, "GET", WHOAMI, key_id=successor.key_id, secret=new_secret).status_code == 200
    credential.refresh_from_db()
    assert credential.replaced_by == successor and credential.days_left <= 7


@pytest.mark.django_db
def test_rotation_without_grace_cuts_the_old_key(client, key, system_actor):
    credential, secret = key
    actions.credential_rotate(actor=system_actor, credential=credential)
    assert_refused(call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret), 401, "key_revoked")


@pytest.mark.django_db
def test_the_secret_is_stored_sealed(key):
    from django.db import connection

    credential, secret = key
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM institutions_apicredential WHERE id = %s", [credential.pk])
        raw = cursor.fetchone()[0]
    assert secret not in raw and raw.startswith("hc1.")


@pytest.mark.django_db
def test_a_bank_key_works_too(client, bank, system_actor):
    credential, secret = actions.credential_issue(actor=system_actor, institution=bank)
    response = call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret)
    assert response.status_code == 200 and response.json()["type"] == "financial"


# --- Keys are cached per web process: revocation still takes effect at once ---------------------------------


@pytest.mark.django_db
def test_revoking_a_key_in_use_refuses_its_next_call(client, key, system_actor):
    credential, secret = key
    assert (
        call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret).status_code == 200
    )  # cached now
    actions.credential_revoke(actor=system_actor, credential=credential, reason="泄露")
    assert_refused(call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret), 401, "key_revoked")


@pytest.mark.django_db
def test_deregistering_an_institution_in_use_refuses_its_next_call(client, key, hospital, system_actor):
    credential, secret = key
    assert call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret).status_code == 200
    actions.organisation_deregister(actor=system_actor, obj=hospital, reason="撤销")
    assert_refused(
        call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret), 401, "institution_inactive"
    )


@pytest.mark.django_db
def test_a_change_made_around_the_models_counts_after_the_cache_period(client, key, settings, monkeypatch):
    from institutions.api import authentication

    credential, secret = key
    assert call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret).status_code == 200
    type(credential).objects.filter(pk=credential.pk).update(  # SQL-like: no signal, no version bump
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret).status_code == 200
    later = time.monotonic() + settings.HC_CREDENTIAL_CACHE_SECONDS + 1
    monkeypatch.setattr(authentication.time, "monotonic", lambda: later)
    assert_refused(call(client, "GET", WHOAMI, key_id=credential.key_id, secret=secret), 401, "key_expired")
