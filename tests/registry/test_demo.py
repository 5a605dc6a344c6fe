"""The demo: `manage.py seed_demo` (idempotent, through the real actions) and `scripts/demo.py` end to end."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection
from stdnum.cn import ric

from registry.choices import CentreStatus
from registry.management.commands.seed_demo import demo_logins
from registry.models import AuditEntry, JournalEntry, RegistrationCentre, User
from registry.protection import blind_lookup
from registry.roles import ROLES

ROOT = Path(__file__).resolve().parents[2]


def new_public_key() -> str:
    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def write_peers(path: Path, peers: list[dict]) -> Path:
    path.write_text(json.dumps(peers, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def peers() -> list[dict]:
    return [
        {
            "tier": "ministry",
            "region": "100000",
            "name": "国家居民健康卡注册管理中心",
            "base_url": "http://127.0.0.1:8001",
            "public_key": new_public_key(),
        },
        {
            "tier": "province",
            "region": "610000",
            "name": "陕西省居民健康卡注册管理中心",
            "base_url": "http://127.0.0.1:8002",
            "public_key": new_public_key(),
        },
    ]


@pytest.fixture
def fast_hasher(settings):
    # The demo users' passwords are checked, not their hashing cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def seed(peers_file: Path | None = None) -> str:
    out = io.StringIO()
    call_command("seed_demo", *(["--peers", str(peers_file)] if peers_file else []), stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        RegistrationCentre.objects.count(),
        AuditEntry.objects.count(),
        JournalEntry.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_city_users_centres_and_idempotent(settings, tmp_path, peers, make_centre, fast_hasher):
    settings.HC_TIER, settings.HC_REGION = "city", "610100"
    make_centre("610100", base_url="http://127.0.0.1:8003")  # what `node init` leaves
    peers_file = write_peers(tmp_path / "peers.json", peers)

    seed(peers_file)
    first = counts()
    seed(peers_file)
    assert counts() == first, "a second run must change nothing (no rows, no audit, no journal)"

    logins = demo_logins("city")
    assert [login.role.key for login in logins] == [role.key for role in ROLES]
    assert User.objects.count() == len(ROLES)
    for login in logins:
        user = User.objects.get(username=login.username)
        assert login.username.startswith("city_")
        assert login.password == "demo-city-2026"
        assert user.check_password(login.password)
        assert set(user.groups.values_list("name", flat=True)) == {login.role.group_name}
        assert user.scope_region_id == "610100"
        assert user.is_staff
        assert user.is_superuser == (login.role.key == "system_admin")
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", user.real_name)
        assert re.fullmatch(r"1[3-9]\d{9}", user.phone)
        assert ric.is_valid(user.id_number) and user.id_number.startswith("6101"), user.id_number
        assert User.objects.get(**blind_lookup(User, "id_number", user.id_number)) == user

    # Personal data is encrypted at rest: no run of the ID's digits in the raw column.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT username, id_number, real_name, phone FROM {User._meta.db_table}"  # noqa: S608
        )
        rows = cursor.fetchall()
    assert len(rows) == len(ROLES)
    plain = {u.username: u for u in User.objects.all()}
    for username, raw_id, raw_name, raw_phone in rows:
        user = plain[username]
        assert raw_id and user.id_number not in raw_id
        for start in range(len(user.id_number) - 5):
            assert user.id_number[start : start + 6] not in raw_id
        assert user.real_name not in raw_name
        assert user.phone not in raw_phone

    # The peers' centres, with their keys; the node's own centre got its contact details.
    for peer in peers:
        centre = RegistrationCentre.objects.get(region_id=peer["region"])
        assert (centre.tier, centre.name, centre.base_url, centre.public_key) == (
            peer["tier"],
            peer["name"],
            peer["base_url"],
            peer["public_key"],
        )
        assert centre.status == CentreStatus.ACTIVE
        assert centre.contact_person and centre.head and centre.phone and centre.address
    own = RegistrationCentre.objects.get(region_id="610100")
    assert own.contact_person and own.address
    assert RegistrationCentre.objects.count() == 3  # a city registers no other centres

    # A peer that re-keyed (demo --reset) is updated in place, through centre_update.
    peers[1]["public_key"] = new_public_key()
    seed(write_peers(tmp_path / "peers.json", peers))
    assert RegistrationCentre.objects.count() == 3
    assert RegistrationCentre.objects.get(region_id="610000").public_key == peers[1]["public_key"]
    assert AuditEntry.objects.filter(action="centre.update", object_repr=peers[1]["name"]).exists()


@pytest.mark.django_db
def test_seed_demo_province_registers_cities_one_deregistered(settings, make_centre, fast_hasher):
    settings.HC_TIER, settings.HC_REGION = "province", "610000"
    make_centre("610000")
    seed()
    first = counts()
    seed()
    assert counts() == first

    assert {u.username for u in User.objects.all()} == {login.username for login in demo_logins("province")}
    assert all(u.id_number.startswith("61") and ric.is_valid(u.id_number) for u in User.objects.all())
    cities = RegistrationCentre.objects.filter(tier="city")
    assert cities.count() >= 4 and all(c.region_id.startswith("61") for c in cities)
    gone = cities.filter(status=CentreStatus.DEREGISTERED)
    assert gone.count() == 1
    assert gone.get().status_reason
    assert AuditEntry.objects.filter(action="centre.deregister", object_key=str(gone.get().pk)).count() == 1


@pytest.mark.django_db
def test_seed_demo_ministry_registers_other_provinces(settings, make_centre, fast_hasher):
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    make_centre("100000")
    seed()
    assert User.objects.filter(
        username="ministry_admin", is_superuser=True, scope_region_id="100000"
    ).exists()
    provinces = RegistrationCentre.objects.filter(tier="province")
    assert provinces.count() >= 4
    assert all(c.contact_person and c.phone and c.address and c.head for c in provinces)


def test_demo_script_sets_up_three_nodes(tmp_path):
    """`scripts/demo.py --no-serve --reset`: three nodes, each its own database, users and peers' keys."""
    var_dir = tmp_path / "demo"
    command = [
        sys.executable,
        str(ROOT / "scripts" / "demo.py"),
        "--no-serve",
        "--reset",
        "--var-dir",
        str(var_dir),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "city_admin" in result.stdout and "demo-city-2026" in result.stdout

    peers = {p["region"]: p for p in json.loads((var_dir / "peers.json").read_text(encoding="utf-8"))}
    assert set(peers) == {"100000", "610000", "610100"}
    for tier, region in (("ministry", "100000"), ("province", "610000"), ("city", "610100")):
        with sqlite3.connect(var_dir / tier / "db.sqlite3") as db:
            users = dict(db.execute("SELECT username, scope_region_id FROM registry_user"))
            centres = dict(db.execute("SELECT region_id, public_key FROM registry_registrationcentre"))
        assert users == {login.username: region for login in demo_logins(tier)}
        # Every node knows every other demo node's public key, and its own.
        for code, peer in peers.items():
            assert centres[code] == peer["public_key"], (tier, code)
        assert (var_dir / tier / "node_ed25519.pem").exists()
