"""Fixtures every test shares: a fixed personal-data keyring, a node key, users set up through real actions."""

from __future__ import annotations

import base64
import json

import pytest

from registry.actors import Actor
from registry.choices import Channel

TEST_KEYS = {
    "active": "ktest1",
    "keys": {"ktest1": base64.b64encode(b"k" * 32).decode()},
    "index_key": base64.b64encode(b"i" * 32).decode(),
}


@pytest.fixture(autouse=True)
def test_keys(settings, tmp_path):
    """Tests never touch a developer's key files: keys come from settings, the node key from tmp_path."""
    settings.HC_DATA_KEYS = json.dumps(TEST_KEYS)
    settings.HC_DATA_KEY_ACTIVE = ""
    settings.HC_NODE_KEY_FILE = tmp_path / "node_ed25519.pem"
    settings.MEDIA_ROOT = tmp_path / "media"
    # A real password hash costs ~0.5 s; tests create many users and never test hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return TEST_KEYS


@pytest.fixture(autouse=True)
def tasks_run_in_process():
    """Unit tests run tasks in-process even when CI sets a broker; the real-worker tests switch this off."""
    from config.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system(channel=Channel.COMMAND, label="test")


@pytest.fixture
def make_user(db, system_actor):
    """make_user("clerk", roles=["卡管理员"], scope="610100") through the real user_create action."""
    from registry.actions import user_create
    from registry.models import Region

    def make(username: str, *, roles: list[str] | None = None, scope: str | None = None, **extra):
        region = Region.objects.get(code=scope) if scope else None
        return user_create(
            actor=system_actor,
            username=username,
            password="pw-Test-2026!",
            roles=roles or [],
            scope_region=region,
            **extra,
        )

    return make


@pytest.fixture
def make_centre(db, system_actor):
    from registry.actions import centre_register
    from registry.models import Region

    def make(code: str, **fields):
        region = Region.objects.get(code=code)
        fields.setdefault("name", f"{region.name}居民健康卡注册管理中心")
        return centre_register(actor=system_actor, region=region, **fields)

    return make
