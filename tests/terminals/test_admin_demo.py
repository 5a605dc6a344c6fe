"""The terminal admin and page as a clerk sees them (Django test client), and the demo seed."""

import io
import json

import pytest
from django.test import override_settings

from cards.choices import CardStatus
from cards.models import Application, Card
from terminals import actions, demo
from terminals.choices import TerminalKind
from terminals.models import Terminal
from tests.cards.conftest import approved_application, make_holder  # noqa: F401
from tests.institutions.conftest import make_institution  # noqa: F401


@pytest.fixture
def counter(make_institution, system_actor):  # noqa: F811
    hospital = make_institution("610113", name="雁塔区人民医院")
    return actions.terminal_register(
        actor=system_actor,
        kind=TerminalKind.COUNTER,
        serial="T-0001",
        institution=hospital,
        sam_serial="SAM0000001",
    )


@pytest.fixture
def clerk_client(client, make_user):
    client.force_login(make_user("clerk", roles=["发卡操作员"], scope="610113"))
    return client


def post(client, name, body):
    response = client.post(
        f"/admin/terminals/terminal/console/{name}/", json.dumps(body), content_type="application/json"
    )
    return response.status_code, response.json()


@pytest.mark.django_db
def test_console_lists_onsite_applications(clerk_client, counter, approved_application):  # noqa: F811
    application = approved_application()
    page = clerk_client.get("/admin/terminals/terminal/console/")
    assert page.status_code == 200
    assert application.number in page.content.decode()


@pytest.mark.django_db
def test_console_forbidden_without_terminal_permission(client, make_user):
    client.force_login(make_user("stats", roles=["统计员"]))
    assert client.get("/admin/terminals/terminal/console/").status_code == 403


@pytest.mark.django_db
def test_check_in_and_card_state(clerk_client, counter, approved_application, system_actor):  # noqa: F811
    status, body = post(
        clerk_client, "check-in", {"sam_serial": "SAM0000001", "terminal_number": "610101000001"}
    )
    assert status == 200 and body["serial"] == "T-0001"
    status, body = post(clerk_client, "check-in", {"sam_serial": "NOPE"})
    assert status == 400 and body["code"] == "sam_not_bound" and body["message_zh"]
    application = approved_application()
    status, started = post(
        clerk_client, "issue/start", {"application": application.pk, "terminal": counter.pk}
    )
    assert status == 200 and started["payload"]["issuer"]["card_no"] == application.resident.document_number
    card = Card.objects.get(pk=started["card"])
    status, state = post(clerk_client, "card-state", {"card_no": card.card_no})
    assert state["card"]["status"] == "issuing" and not state["card"]["writable"]
    # A lost card (Cards II moves it there; set directly until that lands) is flagged before any write.
    Card.objects.filter(pk=card.pk).update(status=CardStatus.LOST)
    status, state = post(clerk_client, "card-state", {"card_no": card.card_no})
    assert state["card"]["flags"] == ["lost"] and not state["card"]["writable"]
    assert application.resident.name not in json.dumps(state, ensure_ascii=False)


@pytest.mark.django_db
def test_issue_abort_through_the_page(clerk_client, counter, approved_application):  # noqa: F811
    application = approved_application()
    _, started = post(clerk_client, "issue/start", {"application": application.pk, "terminal": counter.pk})
    status, body = post(
        clerk_client, "issue/finish", {"card": started["card"], "chip_serial": "AB", "readback": {}}
    )
    assert status == 400 and body["code"] == "readback_mismatch"
    status, body = post(clerk_client, "issue/abort", {"card": started["card"], "reason": "回读失败"})
    assert status == 200 and body["status"] == "cancelled"


@pytest.mark.django_db
def test_register_through_the_admin(make_institution, make_user, client):  # noqa: F811
    hospital = make_institution("610113", name="某医院")
    client.force_login(make_user("admin", roles=["系统管理员"], scope="610000"))
    response = client.post(
        "/admin/terminals/terminal/add/",
        {"kind": "counter", "serial": "t-9", "institution_code": hospital.code, "sam_serial": "SAM2"},
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert "/add/" not in response["Location"], [str(m) for m in response.wsgi_request._messages]
    terminal = Terminal.objects.get(serial="T-9")
    assert terminal.medical_institution == hospital and terminal.sam_serial == "SAM2"


@pytest.mark.django_db
@override_settings(HC_TIER="city", HC_REGION="610100")
def test_demo_seed(make_institution, system_actor):  # noqa: F811
    make_institution("610113", name="演示医院")
    demo.seed(actor=system_actor, stdout=io.StringIO())
    again = demo.seed(actor=system_actor, stdout=io.StringIO())
    assert Terminal.objects.get(serial=demo.DEMO_TERMINAL).sam_serial == "SAM0000001"
    assert "0 counter applications" in again
    assert Application.objects.filter(status="approved").count() == 3
