"""Fixtures of the partner-interface tests: an institution with an API key, a signed test client, holders and
cards made through the real actions."""

import itertools
import json
import uuid

import pytest

from cards import actions as card_actions
from cards.choices import ApplicationChannel
from institutions import actions
from institutions.signing import signed_headers
from tests.cards.conftest import approved_application, make_holder, make_id_number  # noqa: F401
from tests.institutions.conftest import bank, make_institution  # noqa: F401

_chips = itertools.count(1)


def kill_kept_connection() -> None:
    """PostgreSQL ends this thread's kept connection (a restart, a dropped line); the next request's start
    then forgets its health check, as Django does at every request."""
    from django.db import connection, connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    finally:
        other.close()
    connection.health_check_done = False


class SignedClient:
    """Django's test client, each request signed with the institution's key (as an integrator would)."""

    def __init__(self, client, key_id: str, secret: str):
        self.client, self.key_id, self.secret = client, key_id, secret

    def call(
        self,
        method: str,
        path: str,
        payload=None,
        *,
        idempotency_key: str | None = "auto",
        raw: bytes | None = None,
        content_type: str = "application/json",
        **headers,
    ):
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        signed = signed_headers(
            key_id=self.key_id, secret=self.secret, method=method, path_with_query=path, body=body
        )
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed.items()}
        if method in ("POST", "PATCH", "PUT", "DELETE") and idempotency_key:
            key = uuid.uuid4().hex if idempotency_key == "auto" else idempotency_key
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        extra.update({f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()})
        return self.client.generic(method, path, body, content_type=content_type, **extra)

    def get(self, path, **headers):
        return self.call("GET", path, **headers)

    def post(self, path, payload=None, **kwargs):
        return self.call("POST", path, payload, **kwargs)

    def patch(self, path, payload=None, **kwargs):
        return self.call("PATCH", path, payload, **kwargs)


@pytest.fixture
def hospital(make_institution):  # noqa: F811
    return make_institution("610113", name="西安市雁塔区人民医院")


@pytest.fixture
def api(client, hospital, system_actor):
    credential, secret = actions.credential_issue(actor=system_actor, institution=hospital)
    return SignedClient(client, credential.key_id, secret)


@pytest.fixture
def bank_api(client, bank, system_actor):  # noqa: F811
    credential, secret = actions.credential_issue(actor=system_actor, institution=bank)
    return SignedClient(client, credential.key_id, secret)


def next_chip() -> str:
    return f"CHIP{next(_chips):012d}"


@pytest.fixture
def active_card(make_holder, hospital, system_actor):  # noqa: F811
    """A holder with an active card issued on site at the hospital."""

    def make(county: str = "610113", **holder_fields):
        holder = make_holder(county, **holder_fields)
        application = card_actions.application_submit(
            actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER
        )
        card = card_actions.card_issue_onsite_allocate(
            actor=system_actor, application=application, institution=hospital
        )
        return card_actions.card_issue_onsite_complete(actor=system_actor, card=card, chip_serial=next_chip())

    return make


@pytest.fixture(autouse=True)
def node_key(settings):
    """The node's signing key (e-card codes and the JSON lists are signed with it)."""
    from registry.node import node_key_create

    if not settings.HC_NODE_KEY_FILE.exists():
        node_key_create(settings.HC_NODE_KEY_FILE)
