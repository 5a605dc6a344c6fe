"""The parent's HTTP endpoints: a child's signed push is applied and acknowledged; strangers are refused."""

from __future__ import annotations

import pytest

from exchange.sync.bundle import bundle_open
from exchange.sync.wire import BUNDLE_TYPE, ack_verify, signed_headers
from institutions.models import MedicalInstitution
from tests.exchange.sync.conftest import child_bundle, institution_row

pytestmark = pytest.mark.django_db


def as_city(province, method: str, path: str, query: str = "") -> dict:
    with province["city"].acting():
        return signed_headers(method, path, query)


def test_a_signed_push_is_applied_and_acknowledged_with_the_parents_key(province, client):
    data = child_bundle(province, [institution_row(seq=1)])
    response = client.post(
        "/api/v1/sync/push/",
        data,
        content_type=BUNDLE_TYPE,
        headers=as_city(province, "POST", "/api/v1/sync/push/"),
    )
    assert response.status_code == 200
    ack = ack_verify(response.json(), public_key=province["me"].pem)
    assert ack["status"] == "applied" and ack["applied"] == 1 and ack["last_seq"] == 1
    assert MedicalInstitution.objects.count() == 1


def test_an_unsigned_or_stranger_push_is_refused_before_reading(province, client):
    data = child_bundle(province, [institution_row(seq=1)])
    assert client.post("/api/v1/sync/push/", data, content_type=BUNDLE_TYPE).status_code == 403
    with province["ministry"].acting():
        headers = signed_headers("POST", "/api/v1/sync/push/")
    assert (
        client.post("/api/v1/sync/push/", data, content_type=BUNDLE_TYPE, headers=headers).status_code == 403
    )
    assert MedicalInstitution.objects.count() == 0


def test_pull_serves_the_down_kinds_encrypted_to_the_child(province, client, system_actor):
    from vendors.models import Manufacturer  # noqa: F401

    # The province's own journal holds centre rows (from the fixture): they go down; the city's own do not.
    query = "after=0&limit=100"
    response = client.get(
        f"/api/v1/sync/pull/?{query}", headers=as_city(province, "GET", "/api/v1/sync/pull/", query)
    )
    assert response.status_code == 200
    with province["city"].acting():
        bundle = bundle_open(response.content, sender_pem=province["me"].pem, receiver="610100")
    origins = {row["origin_node"] for row in bundle.rows}
    regions = [row["payload"]["region"] for row in bundle.rows]
    assert origins == {"610000"} and "100000" in regions  # nothing the city itself sent up comes back

    last = bundle.header["last_seq"]
    query = f"after={last}&limit=100"
    again = client.get(
        f"/api/v1/sync/pull/?{query}", headers=as_city(province, "GET", "/api/v1/sync/pull/", query)
    )
    assert again.status_code == 204
