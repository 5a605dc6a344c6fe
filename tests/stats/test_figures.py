"""Figures on screen, in the exported sheet and on the dashboard: right numbers, and only the user's area."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from stats.actions import stats_fold
from stats.choices import Grouping
from stats.filtersets import FigureFilters
from stats.selectors import figure_rows


@pytest.fixture
def province(settings, world):
    """A province node holding two cities: Xi'an (two counties) and Baoji (one), cards issued in each."""
    settings.HC_REGION = "610000"
    for county, count in (("610113", 3), ("610102", 2), ("610302", 4)):
        for _ in range(count):
            world.apply(county)
    world.produce("610100", 0, fail_every=5)  # 5 Xi'an applications: item 0 fails, 4 produced
    world.produce("610300", 1)  # 4 Baoji applications, all produced
    from cards.models import ProductionPlan

    for plan in ProductionPlan.objects.all():
        world.stock_in(plan)
    for county in ("610113", "610302"):
        world.deliver(county)
    world.collect(3)
    stats_fold()
    return world


def period() -> FigureFilters:
    today = timezone.localdate()
    return FigureFilters(date_from=today - dt.timedelta(days=1), date_to=today)


def by(filters: FigureFilters, grouping: str, **more) -> FigureFilters:
    return FigureFilters(**{**filters.__dict__, "by": grouping, **more})


def rows_by_key(rows):
    return {row["key"]: row for row in rows}


@pytest.mark.django_db
def test_production_and_issuance_figures_count_what_happened(province, make_user):
    user = make_user("prov", roles=["统计员"], scope="610000")
    production = rows_by_key(figure_rows(user=user, name="production", filters=by(period(), Grouping.REGION)))
    assert production["610100"]["applications"] == 5 and production["610300"]["applications"] == 4
    assert production["610100"]["planned"] == 5 and production["610100"]["produced"] == 4
    assert production["610100"]["failed"] == 1 and production["610100"]["success_rate"] == 80.0
    assert production["610100"]["plans"] == 1 and production["610100"]["progress"] == 100.0
    total = production[""]
    assert total["label"] and total["applications"] == 9 and total["produced"] == 8
    makers = figure_rows(user=user, name="production", filters=by(period(), Grouping.CARD_MAKER))
    # Applications belong to no card maker yet: they are their own row.
    assert sorted(r["label"] for r in makers if r["key"]) == ["乙制卡公司", "甲制卡公司"]
    assert sum(r["produced"] for r in makers if r["key"]) == 8
    issuance = figure_rows(user=user, name="issuance", filters=by(period(), Grouping.REGION))[-1]
    assert issuance["received"] == 9 and issuance["collected"] == 3
    assert issuance["issued"] == issuance["collected"] + issuance["not_collected"]


@pytest.mark.django_db
def test_a_city_statistician_sees_only_the_city(province, make_user):
    city = make_user("xian", roles=["统计员"], scope="610100")
    rows = figure_rows(user=city, name="issuance", filters=by(period(), Grouping.REGION))
    assert {r["key"] for r in rows if not r.get("total")} == {"610113", "610102"}  # counties, Xi'an only
    assert rows[-1]["received"] == 5
    # Asking for another city's region shows nothing rather than the other city's figures.
    other = figure_rows(user=city, name="issuance", filters=by(period(), Grouping.REGION, region="610300"))
    assert other[-1]["received"] == 0
    nobody = make_user("noscope", roles=["统计员"])
    assert figure_rows(user=nobody, name="production", filters=period())[-1]["applications"] == 0


@pytest.mark.django_db
def test_the_report_page_and_its_excel_export_show_the_same_figures(province, make_user, client):
    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    today = timezone.localdate()
    query = {
        "date_from": (today - dt.timedelta(days=1)).isoformat(),
        "date_to": today.isoformat(),
        "by": "region",
    }
    page = client.get("/admin/stats/dailycount/report/issuance/", query)
    assert page.status_code == 200
    screen = [(row["label"], values) for row, values in page.context["rows"]]
    response = client.get("/admin/stats/dailycount/report/issuance/export/xlsx/", query)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    # The sheet: title, filters, generated-by lines, a blank, the header row (row 5, frozen below), then rows.
    assert [str(h) for h in page.context["headers"]] == cells[4][1:]
    exported = [(row[0], [None if v in ("", None) else v for v in row[1:]]) for row in cells[5:-1] if row[0]]
    assert exported == [(label, list(values)) for label, values in screen]
    assert len(exported) == 3 and exported[-1][1][0] == 9  # two cities and the total: 9 applications
    printed = client.get("/admin/stats/dailycount/report/issuance/export/pdf/", query)
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(b"".join(printed.streaming_content))).pages
    )
    assert "西安市" in text and "宝鸡市" in text


@pytest.mark.django_db
def test_the_dashboard_drills_down_from_the_province_to_a_city(province, make_user, client):
    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    home = client.get("/admin/")
    assert b"stats/echarts.min.js" in home.content and b"stats-dashboard" in home.content
    top = client.get("/admin/stats/dailycount/dashboard-data/").json()
    assert [c["key"] for c in top["drill"]["children"]] == ["610100", "610300"]
    assert top["fresh"] and {h["key"] for h in top["headline"]} >= {"received", "collected"}
    xian = client.get("/admin/stats/dailycount/dashboard-data/", {"region": "610100"}).json()
    assert [c["name"] for c in xian["drill"]["breadcrumb"]] == ["陕西省", "西安市"]
    assert {c["key"]: c["received"] for c in xian["drill"]["children"]} == {"610102": 2, "610113": 3}
    assert sum(xian["trend"]["series"][0]["data"]) == 5


@pytest.mark.django_db
def test_assessment_scorecard_compares_with_the_centres_targets(province, make_user, client):
    from registry.actors import Actor
    from registry.errors import DomainError
    from stats.actions import assessment_target_set

    user = make_user("prov", roles=["统计员"], scope="610000")
    actor = Actor.for_user(user)
    year = timezone.localdate().year
    assessment_target_set(actor=actor, year=year, region_id="610100", measure="cards_issued", value=10)
    rows = rows_by_key(figure_rows(user=user, name="assessment", filters=by(period(), Grouping.REGION)))
    assert rows["610100"]["target_issued"] == 10.0
    assert rows["610100"]["of_target"] == rows["610100"]["issued"] * 10.0
    city = Actor.for_user(make_user("xian", roles=["统计员"], scope="610100"))
    with pytest.raises(DomainError):
        assessment_target_set(actor=city, year=year, region_id="610300", measure="cards_issued", value=1)


@pytest.mark.django_db
def test_a_range_of_whole_months_reads_monthly_rows_and_the_edges_daily_rows(province, make_user):
    from stats.models import RegionDailyCount, RegionMonthlyCount
    from stats.selectors import periods

    user = make_user("prov", roles=["统计员"], scope="610000")
    today = timezone.localdate()
    span = FigureFilters(date_from=today.replace(day=1) - dt.timedelta(days=40), date_to=today)
    parts = periods(span)
    assert [p[0] for p in parts] == [RegionMonthlyCount, RegionDailyCount, RegionDailyCount]
    assert min(start for _model, start, _end in parts) == span.date_from
    assert max(end for _model, _start, end in parts) == span.date_to
    # The same figures whichever tables they come from.
    daily_only = figure_rows(user=user, name="issuance", filters=by(span, Grouping.DAY))[-1]
    mixed = figure_rows(user=user, name="issuance", filters=by(span, Grouping.REGION))[-1]
    assert {k: v for k, v in daily_only.items() if k != "key"} == {
        k: v for k, v in mixed.items() if k != "key"
    }
    assert mixed["received"] == 9


@pytest.mark.django_db
def test_institutions_by_region_and_by_category(world, make_user, settings):
    settings.HC_REGION = "610000"
    user = make_user("prov", roles=["统计员"], scope="610000")
    rows = rows_by_key(figure_rows(user=user, name="institutions", filters=by(period(), Grouping.REGION)))
    assert (rows["610100"]["medical"], rows["610100"]["card_makers"], rows["610300"]["medical"]) == (2, 2, 1)
    categories = figure_rows(user=user, name="institutions", filters=by(period(), Grouping.CATEGORY))
    assert [(r["label"], r["medical"]) for r in categories if not r.get("total")] == [("综合医院", 3)]
    city = make_user("xian", roles=["统计员"], scope="610100")
    assert figure_rows(user=city, name="institutions", filters=period())[-1]["medical"] == 2


@pytest.mark.django_db
def test_the_range_presets_are_the_rolling_windows_and_keep_the_other_filters(province, make_user, client):
    """Beside the form: the last 30 and the last 365 days, each ending today, with the grouping kept; a report by
    institution over one of them reads the window's rows and shows what the days add up to."""
    from urllib.parse import parse_qs, urlsplit

    from cards.choices import CardEventKind as K
    from stats.models import DailyCount, WindowCount
    from stats.selectors import periods

    client.force_login(make_user("prov", roles=["统计员"], scope="610000"))
    page = client.get("/admin/stats/dailycount/report/issuance/", {"by": "institution", "region": "610100"})
    assert [label for label, _url in page.context["presets"]] == ["近 30 天", "近 365 天"]
    assert "近 365 天</a>" in page.content.decode()
    today = timezone.localdate()
    for (_label, url), days in zip(page.context["presets"], (30, 365), strict=True):
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["by"] == "institution" and query["region"] == "610100"
        assert (query["date_from"], query["date_to"]) == (
            str(today - dt.timedelta(days=days - 1)),
            str(today),
        )
        chosen = client.get(f"/admin/stats/dailycount/report/issuance/{url}")
        filters = chosen.context["filters"]
        assert periods(filters) == [(WindowCount, filters.date_from, filters.date_from)]
        days = DailyCount.objects.filter(
            day__gte=filters.date_from,
            day__lte=filters.date_to,
            region__startswith="6101",
            measure__in=(K.DELIVERED, K.ALLOCATED),
        )
        assert chosen.context["rows"][-1][0]["issued"] == sum(days.values_list("count", flat=True)) > 0
