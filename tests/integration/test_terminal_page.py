"""The terminal page in a real browser: Chromium (Debian package) driven by Playwright, the terminal agent
with the emulated card and SAM, a live server. The clerk pairs the agent, issues a blank card for an
on-site application, reads the card, writes an immunisation and sees it read back.

Without Chromium or Playwright these skip; with CI=true they fail instead (`.ci/run` installs chromium).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cards import actions as card_actions
from cards.choices import ApplicationChannel, CardStatus
from cards.models import Card
from terminals import actions
from terminals.agent import Devices, start_agent
from terminals.choices import TerminalKind
from tests.cards.conftest import make_holder  # noqa: F401
from tests.institutions.conftest import make_institution  # noqa: F401

from .conftest import service_missing

pytestmark = pytest.mark.service
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("playwright is not installed (dev dependency)")
    if not Path(CHROMIUM).exists():
        service_missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    return sync_playwright


def clerk_session(sync_playwright, base_url: str, agent_port: int, application_pk: int) -> dict:
    """Everything the clerk does in the browser; what the page showed comes back for the asserts.

    The ORM is not used in here: Playwright's greenlets carry their own context, so a query inside would
    open a second database connection that the test database's teardown cannot close.
    """
    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        try:
            page = browser.new_page()
            page.goto(f"{base_url}/admin/login/?next=/admin/terminals/terminal/console/")
            page.fill("#id_username", "clerk")
            page.fill("#id_password", "pw-Test-2026!")
            page.click("input[type=submit]")
            page.wait_for_selector("#terminal-page")

            page.fill("#agent-url", f"http://127.0.0.1:{agent_port}")
            page.fill("#agent-token", "pairing-token")
            page.click("#connect")
            page.wait_for_function("document.getElementById('agent-status').textContent.includes('T-0001')")

            page.select_option("#application", str(application_pk))
            page.click("#issue-card")
            page.wait_for_function("document.getElementById('issue-status').textContent.length > 0")
            seen["issue"] = (
                page.locator("#issue-status").get_attribute("class"),
                page.text_content("#issue-status"),
            )
            page.wait_for_selector("#holder-name")
            seen["holder"] = page.text_content("#holder-name")
            seen["html"] = page.content()

            immunisation = page.locator("form[data-write=immunisation]")
            immunisation.locator("[name=vaccine]").fill("乙肝疫苗")
            immunisation.locator("[name=date]").fill("2026-11-20")
            immunisation.locator("button").click()
            page.wait_for_function("document.getElementById('write-status').textContent.length > 0")
            seen["write"] = (
                page.locator("#write-status").get_attribute("class"),
                page.text_content("#write-status"),
            )
            seen["immunisations"] = page.text_content("#immunisations")
        finally:
            browser.close()
    return seen


@pytest.mark.django_db(transaction=True)
def test_clerk_issues_reads_and_writes_a_card(
    sync_playwright,
    live_server,
    make_institution,  # noqa: F811
    make_holder,  # noqa: F811
    make_user,
    system_actor,
):
    hospital = make_institution("610113", name="雁塔区人民医院")
    actions.terminal_register(
        actor=system_actor,
        kind=TerminalKind.COUNTER,
        serial="T-0001",
        institution=hospital,
        sam_serial="SAM0000001",
    )
    holder = make_holder("610113", name="赵六")
    application = card_actions.application_submit(
        actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER
    )
    make_user("clerk", roles=["发卡操作员"], scope="610113")
    agent = start_agent(Devices(emulator=True), origin=live_server.url, token="pairing-token")
    try:
        seen = clerk_session(sync_playwright, live_server.url, agent.port, application.pk)
    finally:
        agent.shutdown()
        agent.server_close()

    assert seen["issue"][0] == "ok", seen["issue"][1]
    card = Card.objects.get(application=application)
    assert card.status == CardStatus.ACTIVE and card.chip_serial == agent.devices.virtual_card.chip_serial
    assert seen["holder"] == "赵*"  # masked on screen
    assert "赵六" not in seen["html"]
    assert seen["write"][0] == "ok", seen["write"][1]
    assert "乙肝疫苗" in seen["immunisations"] and "20261120" in seen["immunisations"]
