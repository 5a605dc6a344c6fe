"""Classified statistics (分类统计) of holders: by region (drilling down to counties), sex, age band and
ethnicity; equal to direct counts, bounded by the person's region, exported and printed."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from cards.actions.applications import age_on
from cards.models import Resident
from cards.selectors.holders import AGE_BANDS, holder_statistics

AS_OF = dt.date(2026, 6, 15)
PEOPLE = [
    # (county, born, male, ethnicity)
    ("610113", dt.date(2019, 6, 16), True, "01"),  # 6 on AS_OF
    ("610113", dt.date(2019, 6, 15), False, "01"),  # 7 that very day
    ("610113", dt.date(2008, 6, 16), True, "03"),  # 17
    ("610116", dt.date(2008, 6, 15), False, "01"),  # 18
    ("610116", dt.date(1981, 6, 16), True, "01"),  # 44
    ("610116", dt.date(1981, 6, 15), True, "04"),  # 45
    ("610102", dt.date(1966, 6, 15), False, "01"),  # 60
    ("610102", dt.date(1946, 6, 16), True, "01"),  # 79
    ("610102", dt.date(1946, 6, 15), False, "03"),  # 80
    ("610302", dt.date(1990, 1, 1), True, "01"),  # Baoji
    ("610302", dt.date(2020, 2, 29), False, "01"),  # Baoji
]


@pytest.fixture(autouse=True)
def province_node(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def people(make_holder):
    return [
        make_holder(county, born=born, male=male, ethnicity=ethnicity, name="某人")
        for county, born, male, ethnicity in PEOPLE
    ]


@pytest.fixture
def xian(make_user):
    return make_user("stats_xian", roles=["统计员"], scope="610100")


@pytest.fixture
def province(make_user):
    return make_user("stats_province", roles=["统计员"], scope="610000")


def band_of(born: dt.date) -> str:
    age = age_on(Resident(birth_date=born), AS_OF)
    return next(key for key, _label, low, high in AGE_BANDS if age >= low and (high is None or age <= high))


@pytest.mark.django_db
@pytest.mark.parametrize("by", ["region", "sex", "age", "ethnicity"])
def test_statistics_equal_direct_counts(xian, people, by):
    stats = holder_statistics(user=xian, by=by, as_of=AS_OF)
    mine = [h for h in people if h.region_id.startswith("6101")]
    assert stats.total.total == len(mine) == 9
    key_of = {
        "region": lambda h: h.region_id,
        "sex": lambda h: h.sex,
        "age": lambda h: band_of(h.birth_date),
        "ethnicity": lambda h: h.ethnicity,
    }[by]
    expected: dict[str, list] = {}
    for holder in mine:
        expected.setdefault(key_of(holder), []).append(holder)
    assert {row.key: row.total for row in stats.rows} == {key: len(group) for key, group in expected.items()}
    for row in stats.rows:
        group = expected[row.key]
        assert row.male == sum(h.sex == "1" for h in group)
        assert row.female == sum(h.sex == "2" for h in group)
        for band, *_rest in AGE_BANDS:
            assert row.band(band) == sum(band_of(h.birth_date) == band for h in group)


@pytest.mark.django_db
def test_age_bands_fall_on_birthdays(xian, people):
    stats = holder_statistics(user=xian, by="age", as_of=AS_OF)
    assert [(row.key, row.total) for row in stats.rows] == [
        ("0-6", 1),
        ("7-17", 2),
        ("18-44", 2),
        ("45-59", 1),
        ("60-79", 2),
        ("80+", 1),
    ]


@pytest.mark.django_db
def test_the_province_drills_down_from_cities_to_counties(province, xian, people):
    cities = holder_statistics(user=province, by="region", as_of=AS_OF)
    assert [(row.key, row.total, row.drill) for row in cities.rows] == [
        ("610100", 9, "610100"),
        ("610300", 2, "610300"),
    ]
    counties = holder_statistics(user=province, by="region", region="610100", as_of=AS_OF)
    assert [(row.key, row.total, row.drill) for row in counties.rows] == [
        ("610102", 3, None),
        ("610113", 3, None),
        ("610116", 3, None),
    ]
    # A city user asking for the province sees only their city.
    assert holder_statistics(user=xian, by="region", region="610000", as_of=AS_OF).total.total == 9


@pytest.mark.django_db
def test_the_admin_report_page_is_scoped_and_exports(client, xian, people):
    client.force_login(xian)
    page = client.get("/admin/cards/resident/statistics/", {"by": "region", "as_of": AS_OF.isoformat()})
    assert page.status_code == 200
    stats = page.context["statistics"]
    assert stats.total.total == 9 and {row.key for row in stats.rows} == {"610102", "610113", "610116"}
    other_city = client.get("/admin/cards/resident/statistics/", {"region": "610300"})
    assert other_city.context["statistics"].total.total == 9  # an out-of-scope region falls back to theirs
    export = client.get(
        "/admin/cards/resident/statistics/export/xlsx/", {"by": "sex", "as_of": AS_OF.isoformat()}
    )
    rows = list(
        load_workbook(io.BytesIO(b"".join(export.streaming_content))).active.iter_rows(values_only=True)
    )
    numbers = [r for r in rows if r and isinstance(r[2], int)]
    assert sum(r[2] for r in numbers[:-1]) == numbers[-1][2] == 9  # per-sex rows add up to the total row
    printed = client.get("/admin/cards/resident/statistics/export/pdf/", {"by": "ethnicity"})
    assert printed["Content-Type"] == "application/pdf"
