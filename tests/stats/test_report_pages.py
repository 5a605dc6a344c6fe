"""Reports whose rows are institutions: a ranked page on screen, every row in the export, totals of all rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from cards.choices import CardEventKind as K
from stats import selectors
from stats.choices import Grouping
from stats.filtersets import FigureFilters
from stats.models import DailyCount
from stats.selectors import figure_rows

# (county, institution code, cards delivered, collected): ties on the main figure (delivered) are broken by code.
INSTITUTIONS = [
    ("610113", "INST07", 5, 2),
    ("610113", "INST02", 9, 4),
    ("610102", "INST05", 5, 5),
    ("610102", "INST01", 1, 0),
    ("610113", "INST04", 7, 1),
    ("610302", "INST09", 8, 3),  # Baoji
    ("610302", "INST03", 5, 5),  # Baoji
    ("610113", "INST06", 2, 2),
]
RANKED = ["INST02", "INST09", "INST04", "INST03", "INST05", "INST07", "INST06", "INST01"]


@pytest.fixture
def institutions(settings, db, monkeypatch):
    """Daily counts of eight institutions in two cities (two days: the figures read the daily rows), three rows
    a page."""
    settings.HC_REGION = "610000"
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    today = timezone.localdate()
    DailyCount.objects.bulk_create(
        DailyCount(
            day=today - dt.timedelta(days=n % 2), region=county, institution_code=code, measure=m, count=c
        )
        for n, (county, code, delivered, collected) in enumerate(INSTITUTIONS)
        for m, c in ((K.APPLIED, delivered + 1), (K.DELIVERED, delivered), (K.COLLECTED, collected))
    )


def period(**more) -> FigureFilters:
    today = timezone.localdate()
    return FigureFilters(
        date_from=today - dt.timedelta(days=1), date_to=today, by=Grouping.INSTITUTION, **more
    )


def sheet_rows(response) -> list[tuple]:
    """The labelled rows of an exported workbook, as on screen: below its title, filters and header lines, above
    its row count."""
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(min_row=6))[
        :-1
    ]
    return [
        (row[0].value, [c.value if c.value != "" else None for c in row[1:]]) for row in rows if row[0].value
    ]


def pages(user, name: str, filters: FigureFilters, count: int) -> list[list[dict]]:
    return [
        figure_rows(user=user, name=name, filters=dataclasses.replace(filters, page=n))
        for n in range(1, count + 1)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["issuance", "assessment"])  # ranked by PostgreSQL / from several sources
def test_the_pages_follow_each_other_in_rank_and_each_total_covers_every_row(institutions, make_user, name):
    user = make_user("prov", roles=["统计员"], scope="610000")
    main = selectors.figure_get(name).main_column
    whole = figure_rows(user=user, name=name, filters=period())
    assert [r["key"] for r in whole[:-1]] == (
        RANKED
        if name == "issuance"
        else ["INST03", "INST05", "INST02", "INST09", "INST06", "INST07", "INST04", "INST01"]
    )  # the scorecard's main figure is cards collected
    assert "groups" not in whole[-1]  # the export's table: every row, no page
    shown = pages(user, name, period(), 3)
    assert [len(page) for page in shown] == [4, 4, 3]  # three rows and the total; two and the total
    assert [r for page in shown for r in page[:-1]] == whole[:-1]  # page after page, the export's rows
    for number, page in enumerate(shown, start=1):
        assert page[-1] == {**whole[-1], "groups": 8, "page": number}  # the total of all rows, on every page
    assert whole[-1][main] == sum(r[main] for r in whole[:-1]) == (42 if name == "issuance" else 22)
    past = figure_rows(user=user, name=name, filters=period(page=9))
    assert past == shown[-1]  # past the end: the last page


@pytest.mark.django_db
def test_a_city_statistician_pages_through_the_city_only(institutions, make_user):
    city = make_user("xian", roles=["统计员"], scope="610100")
    shown = pages(city, "issuance", period(), 2)
    keys = [r["key"] for page in shown for r in page[:-1]]
    assert keys == [code for code in RANKED if code not in ("INST09", "INST03")]  # Baoji's two are not here
    assert shown[0][-1]["groups"] == 6 and shown[0][-1]["issued"] == 29  # Xi'an's cards, not the province's
    other = figure_rows(user=city, name="issuance", filters=period(region="610300", page=1))
    assert other[:-1] == [] and other[-1]["issued"] == 0 and other[-1]["groups"] == 0


@pytest.mark.django_db
def test_the_report_page_shows_a_page_and_the_export_every_row(institutions, make_user, client):
    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    filters = period()
    query = {"date_from": str(filters.date_from), "date_to": str(filters.date_to), "by": filters.by}
    url = "/admin/stats/dailycount/report/issuance/"
    page = client.get(url, {**query, "p": "2"})
    assert page.status_code == 200
    screen = [(row["label"], values) for row, values in page.context["rows"]]
    assert [label for label, _values in screen] == ["INST03", "INST05", "INST07", "合计"]
    body = page.content.decode()
    assert 'aria-current="page">2</a>' in body and "p=3" in body and "p=1" in body
    assert "第 4–6 行，共 8 行，按“向网点发卡数”从大到小排列。合计行和导出包含全部行。" in body
    assert "p=2" not in page.context["xlsx_url"]  # the export is not one page
    response = client.get(page.context["xlsx_url"])
    exported = sheet_rows(response)
    assert [label for label, _values in exported] == [*RANKED, "合计"]  # every row, in the page's order
    assert exported[3:6] == [(label, list(values)) for label, values in screen[:-1]]  # page 2 is rows 4-6
    assert exported[-1] == (screen[-1][0], list(screen[-1][1]))  # the same total on screen and in the sheet
    printed = client.get(page.context["pdf_url"])
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(b"".join(printed.streaming_content))).pages)
    assert all(code in text for code in RANKED)  # the printout too has every row
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(url, {**query, "p": "3"}).content.decode()
    assert "Rows 7–8 of 8, largest “cards issued to service points” first." in english


@pytest.mark.django_db
@pytest.mark.parametrize("grouping", [Grouping.INSTITUTION, Grouping.REGION])
def test_a_range_that_ends_before_it_starts_shows_nothing(institutions, make_user, grouping):
    user = make_user("prov", roles=["统计员"], scope="610000")
    today = timezone.localdate()
    backwards = FigureFilters(date_from=today, date_to=today - dt.timedelta(days=1), by=grouping, page=1)
    rows = figure_rows(user=user, name="issuance", filters=backwards)
    assert rows[:-1] == [] and rows[-1]["issued"] == 0
