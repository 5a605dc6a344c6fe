"""The dashboard in a real browser (Debian's Chromium driven by Playwright): drill down one level."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings as django_settings
from django.test import Client

from stats.actions import stats_fold
from tests.integration.conftest import service_missing

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.service
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_loads_and_drills_down_to_the_county_figures(
    live_server, settings, world, make_user, monkeypatch
):
    if not shutil.which(CHROMIUM):
        service_missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the playwright package is not installed (uv sync --group dev)")
    settings.HC_REGION = "610000"
    for county, count in (("610113", 3), ("610102", 2), ("610302", 1)):
        for _ in range(count):
            world.apply(county)
    stats_fold()
    client = Client()
    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    # Playwright's sync API runs an event loop in this thread; the database work above is done already.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}/admin/")
            page.wait_for_selector("#stats-dashboard[data-ready='1']", timeout=15000)
            assert page.locator("#stats-drill canvas").count() >= 1  # ECharts drew from our own static file
            received = page.locator("#stats-headline [data-key='received'] b").inner_text()
            assert received == "6"
            assert page.locator("#stats-drill-table tr[data-code='610100']").count() == 1
            page.click("#stats-drill-table tr[data-code='610100'] a")  # descend into Xi'an
            page.wait_for_selector("#stats-dashboard[data-region='610100']", timeout=15000)
            assert page.locator("#stats-breadcrumb").inner_text().endswith("西安市")
            yanta = page.locator("#stats-drill-table tr[data-code='610113'] td")
            assert yanta.nth(0).inner_text() == "雁塔区" and yanta.nth(1).inner_text() == "3"
            assert page.locator("#stats-drill-table tr[data-code='610102'] td").nth(1).inner_text() == "2"
            assert page.locator("#stats-drill-table tr[data-code='610302']").count() == 0
            page.click("#stats-breadcrumb a[data-code='610000']")  # and back up
            page.wait_for_selector("#stats-dashboard[data-region='610000']", timeout=15000)
            assert not errors
        finally:
            browser.close()
