"""Sync fixtures: this node is a province (610000) with a city child (610100) and the ministry above;
the other nodes are just their keys, so bundles are built here as they would be there."""

from __future__ import annotations

import datetime as dt
import itertools
from contextlib import contextmanager

import pytest
from django.test import override_settings

from exchange.choices import Direction
from exchange.sync.bundle import bundle_build, bundle_header
from exchange.sync.wire import ack_sign
from registry.node import node_key_create, public_key_pem
from tests.cards.conftest import make_id_number

_seq = itertools.count(1)
_codes = itertools.count(1)


def make_uscc(region: str = "610113") -> str:
    """A valid USCC code from this package's own counter (other packages' code counters stay untouched)."""
    from stdnum.cn import uscc

    body = f"12{region}E{next(_codes):08d}"[:17]
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def make_institution(db, system_actor):
    def make(region: str = "610113", **fields):
        from institutions.actions import organisation_register
        from institutions.models import MedicalInstitution
        from registry.models import Region

        defaults = {
            "name": f"同步测试医院{next(_codes)}",
            "nature": "public",
            "category": "general_hospital",
            "grade": "3a",
        }
        return organisation_register(
            actor=system_actor,
            model=MedicalInstitution,
            code=make_uscc(region),
            region=Region.objects.get(code=region),
            **{**defaults, **fields},
        )

    return make


class Node:
    def __init__(self, region: str, path):
        self.region = region
        self.path = path
        self.key = node_key_create(path)
        self.pem = public_key_pem(self.key)

    @contextmanager
    def acting(self):
        """Sign (and decrypt) as this node."""
        with override_settings(HC_NODE_KEY_FILE=self.path, HC_REGION=self.region):
            yield


@pytest.fixture
def province(settings, tmp_path, make_centre):
    """This node: the province 610000, knowing its parent and its child city by their centre records."""
    settings.HC_TIER, settings.HC_REGION, settings.HC_PARENT_URL = "province", "610000", "http://parent.test"
    me = Node("610000", settings.HC_NODE_KEY_FILE)
    city = Node("610100", tmp_path / "city.pem")
    ministry = Node("100000", tmp_path / "ministry.pem")
    make_centre("610000", public_key=me.pem)
    make_centre("610100", public_key=city.pem, base_url="http://city.test")
    make_centre("100000", public_key=ministry.pem)
    return {"me": me, "city": city, "ministry": ministry}


def child_bundle(nodes, rows: list[dict], *, first: int | None = None, last: int | None = None) -> bytes:
    """A bundle from the city to this province, as the city would send it."""
    city, me = nodes["city"], nodes["me"]
    first = first if first is not None else rows[0]["origin_seq"]
    last = last if last is not None else rows[-1]["origin_seq"]
    with city.acting():
        bundle = bundle_build(
            rows,
            sender=city.region,
            receiver=me.region,
            receiver_pem=me.pem,
            direction=Direction.UP,
            first_seq=first,
            last_seq=last,
        )
    return bundle.to_bytes()


def row(
    kind: str, key: str, payload: dict, *, seq: int | None = None, origin: str = "610100", op: str = "upsert"
):
    seq = seq or next(_seq)
    return {
        "seq": seq,
        "kind": kind,
        "key": key,
        "op": op,
        "origin_node": origin,
        "origin_seq": seq,
        "created_at": "2026-11-20T10:00:00+08:00",
        "payload": payload,
    }


def institution_row(
    *, seq: int | None = None, code: str | None = None, name: str = "西安市第一医院", region="610113"
):
    code = code or make_uscc(region)
    payload = {
        "name": name,
        "code": code,
        "address": "",
        "contact_person": "",
        "phone": "",
        "head": "",
        "status": "active",
        "status_reason": "",
        "licence_number": "",
        "nature": "public",
        "category": "general_hospital",
        "grade": "3a",
        "region": region,
        "registered_at": "2026-11-20T10:00:00+08:00",
        "changed_at": "2026-11-20T10:00:00+08:00",
    }
    return row("institutions.medical", code, payload, seq=seq)


def opened(value, *, json_value: bool = False) -> dict:
    import json

    return {"open": json.dumps(value, ensure_ascii=False) if json_value else value, "json": json_value}


def holder_row(document: str, *, seq: int | None = None, name: str = "张三"):
    payload = {
        "name": opened(name),
        "document_number": opened(document),
        "document_type": "01",
        "sex": "1",
        "ethnicity": "01",
        "birth_date": "1985-06-15",
        "region": "610113",
        "address1_type": "",
        "address2_type": "",
        "education": "",
        "marital_status": "",
        "occupation": "",
        "phone1": opened("13812345678"),
        "contacts": opened([{"name": "李四", "phone": "13900001111"}], json_value=True),
        "changed_at": "2026-11-20T10:00:00+08:00",
    }
    return row("cards.holder", f"h-{document[-6:]}", payload, seq=seq)


def card_row(document: str, chip: str, status: str = "active", *, seq: int | None = None, region="610100"):
    payload = {
        "card_no": opened(document),
        "chip_serial": chip,
        "status": status,
        "region": region,
        "institution_code": "",
        "collected_at": "2026-11-20T10:00:00+08:00",
        "expires_on": "2036-11-20",
    }
    return row("cards.card", f"c-{document[-6:]}:{chip}", payload, seq=seq)


def event_row(document: str, chip: str, kind: str, *, seq: int | None = None):
    payload = {
        "kind": kind,
        "at": "2026-11-20T10:00:00+08:00",
        "holder_document_type": "01",
        "holder_document": opened(document),
        "card_no": opened(document),
        "chip_serial": chip,
        "application": "",
        "actor": "clerk",
        "channel": "web",
        "institution_code": "",
        "region": "610100",
        "reason": "",
        "data": {},
    }
    return row("cards.event", f"e-{chip}-{kind}", payload, seq=seq)


def a_document(n: int = 1) -> str:
    return make_id_number("610113", dt.date(1980 + n, 1, 2), male=n % 2 == 1)


class FakeParent:
    """The line to the parent in sender tests: records bundles, acknowledges with the parent's key, or fails."""

    def __init__(self, parent: Node, *, fail_after_receiving: bool = False, status: str = "applied"):
        self.parent = parent
        self.received: list[bytes] = []
        self.fail_after_receiving = fail_after_receiving
        self.status = status

    def push(self, peer, data: bytes) -> dict:
        from exchange.sync.wire import WireError

        self.received.append(data)
        if self.fail_after_receiving:
            raise WireError("connection reset before the acknowledgement")
        header, _sig, _body = bundle_header(data)
        with self.parent.acting():
            return ack_sign(
                {
                    "receiver": self.parent.region,
                    "sha256": header["sha256"],
                    "status": self.status,
                    "applied": header["count"],
                    "duplicates": 0,
                    "last_seq": header["last_seq"],
                    "reason": "",
                }
            )
