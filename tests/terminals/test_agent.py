"""The terminal agent over HTTP against the in-process emulator: token pairing, CORS for one origin only,
reading, writing and issuing."""

import json
import urllib.error
import urllib.request

import pytest

from terminals.agent import Devices, start_agent

from .conftest import DEMO_HOLDER, DEMO_ISSUER

ORIGIN = "http://127.0.0.1:8000"


@pytest.fixture
def agent():
    server = start_agent(Devices(emulator=True), origin=ORIGIN, token="t0k3n")
    yield server
    server.shutdown()
    server.server_close()


PAIRING = "t0k3n"


def call(agent, path, body=None, *, token=PAIRING, origin=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{agent.port}{path}", data=data, method=method)
    if token:
        req.add_header("X-Terminal-Token", token)
    if origin:
        req.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


def test_listens_on_loopback_only(agent):
    assert agent.server_address[0] == "127.0.0.1"


def test_pairing_token_required(agent):
    status, _, body = call(agent, "/status", token="wrong")
    assert status == 401 and "pairing" in body["error"]


def test_cors_only_for_the_platform(agent):
    status, headers, _ = call(agent, "/status", origin=ORIGIN)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
    status, headers, _ = call(agent, "/status", origin="http://evil.example")
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = call(agent, "/status", origin="http://evil.example", method="OPTIONS", token="")
    assert status == 403
    status, headers, _ = call(agent, "/status", origin=ORIGIN, method="OPTIONS", token="")
    assert status == 204 and "X-Terminal-Token" in headers["Access-Control-Allow-Headers"]


def test_status_reports_sam(agent):
    status, _, body = call(agent, "/status")
    assert status == 200
    assert body["mode"] == "emulator"
    assert body["sam"] == {"serial": "SAM0000001", "terminal_number": "610101000001"}


def test_issue_write_read(agent):
    status, _, body = call(
        agent, "/issue", {"issuer": DEMO_ISSUER, "holder": DEMO_HOLDER, "card": {"expiry": "20361121"}}
    )
    assert status == 200, body
    assert body["readback"]["DDF1/EF06"]["name"] == "张三"
    status, _, again = call(
        agent, "/issue", {"issuer": DEMO_ISSUER, "holder": DEMO_HOLDER, "card": {"expiry": "20361121"}}
    )
    assert status == 400 and again["item"] == "card_no"
    assert call(agent, "/write", {"immunisation": {"vaccine": "麻疹疫苗", "date": "20261121"}})[0] == 200
    assert call(agent, "/write", {"file": "DF02/EF05", "values": {"abo": 1}})[0] == 200
    assert (
        call(agent, "/write", {"record": {"kind": "outpatient", "values": {"diagnosis": "感冒"}}})[0] == 200
    )
    status, _, card = call(agent, "/read", {})
    assert status == 200
    assert card["immunisations"] == [{"vaccine": "麻疹疫苗", "date": "20261121"}]
    assert card["DF02/EF05"]["abo"] == 1
    assert card["outpatient"][0]["diagnosis"] == "感冒" and "signature" not in card["outpatient"][0]


def test_errors_name_the_item(agent):
    call(agent, "/issue", {"issuer": DEMO_ISSUER, "holder": DEMO_HOLDER, "card": {"expiry": "20361121"}})
    status, _, body = call(agent, "/write", {"immunisation": {"vaccine": "疫" * 11, "date": "20261121"}})
    assert status == 400 and body["item"] == "vaccine"


def test_blank_card_slot(agent):
    status, _, body = call(agent, "/emulator/blank", {})
    assert status == 200 and len(body["chip_serial"]) == 16
