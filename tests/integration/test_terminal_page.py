"""The terminal page in a real browser: Chromium (Debian package) driven by Playwright, the terminal agent
with the emulated card and SAM, a live server. The clerk pairs the agent, issues a blank card for an
on-site application, reads the card, writes an immunisation and sees it read back.

Without Chromium or Playwright these skip; with CI=true they fail instead (`.ci/run` installs chromium).
"""

from __future__ import annotations

import os
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
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("playwright is not installed (dev dependency)")
    if not Path(CHROMIUM).exists():
        service_missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls stay synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        try:
            yield b
        finally:
            b.close()


@pytest.mark.django_db(transaction=True)
def test_clerk_issues_reads_and_writes_a_card(
    browser,
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
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/login/?next=/admin/terminals/terminal/console/")
        page.fill("#id_username", "clerk")
        page.fill("#id_password", "pw-Test-2026!")
        page.click("input[type=submit]")
        page.wait_for_selector("#terminal-page")

        page.fill("#agent-url", f"http://127.0.0.1:{agent.port}")
        page.fill("#agent-token", "pairing-token")
        page.click("#connect")
        page.wait_for_function("document.getElementById('agent-status').textContent.includes('T-0001')")

        page.select_option("#application", str(application.pk))
        page.click("#issue-card")
        page.wait_for_function("document.getElementById('issue-status').textContent.length > 0")
        assert page.locator("#issue-status").get_attribute("class") == "ok", page.text_content(
            "#issue-status"
        )
        card = Card.objects.get(application=application)
        assert card.status == CardStatus.ACTIVE and card.chip_serial == agent.devices.virtual_card.chip_serial

        page.wait_for_selector("#holder-name")
        assert page.text_content("#holder-name") == "赵*"  # masked on screen
        assert "赵六" not in page.content()

        immunisation = page.locator("form[data-write=immunisation]")
        immunisation.locator("[name=vaccine]").fill("乙肝疫苗")
        immunisation.locator("[name=date]").fill("2026-11-20")
        immunisation.locator("button").click()
        page.wait_for_function("document.getElementById('write-status').textContent.length > 0")
        assert page.locator("#write-status").get_attribute("class") == "ok", page.text_content(
            "#write-status"
        )
        assert "乙肝疫苗" in page.text_content("#immunisations")
        assert "20261120" in page.text_content("#immunisations")
    finally:
        agent.shutdown()
        agent.server_close()
