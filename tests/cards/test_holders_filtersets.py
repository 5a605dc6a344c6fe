"""HolderFilterSet: one test per filter (the API list, its export and the holder_list selector use it)."""

from __future__ import annotations

import datetime as dt

import pytest

from cards.filtersets.holders import HolderFilterSet
from cards.models import Resident
from cards.selectors.holders import holder_list
from registry.models import Region


@pytest.fixture(autouse=True)
def province_node(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def people(make_holder, system_actor):
    from cards.actions import holder_register

    return {
        "man": make_holder("610113", born=dt.date(1980, 1, 1), male=True, name="甲"),
        "woman": make_holder("610116", born=dt.date(1995, 5, 5), male=False, name="乙", ethnicity="03"),
        "baoji": make_holder("610302", born=dt.date(2010, 10, 10), male=True, name="丙"),
        "passport": holder_register(
            actor=system_actor,
            document_type="03",
            document_number="E12345678",
            name="JOHN",
            sex="1",
            birth_date=dt.date(1970, 7, 7),
            region=Region.objects.get(code="610113"),
            ethnicity="98",
        ),
    }


def filtered(**params) -> set[int]:
    return set(HolderFilterSet(params, queryset=Resident.objects.all()).qs.values_list("pk", flat=True))


def pks(people, *names) -> set[int]:
    return {people[name].pk for name in names}


@pytest.mark.django_db
def test_region_is_a_code_prefix(people):
    assert filtered(region="610100") == pks(people, "man", "woman", "passport")
    assert filtered(region="610116") == pks(people, "woman")
    assert filtered(region="610000") == pks(people, "man", "woman", "baoji", "passport")


@pytest.mark.django_db
def test_sex(people):
    assert filtered(sex="2") == pks(people, "woman")


@pytest.mark.django_db
def test_ethnicity(people):
    assert filtered(ethnicity="03") == pks(people, "woman")


@pytest.mark.django_db
def test_document_type(people):
    assert filtered(document_type="03") == pks(people, "passport")


@pytest.mark.django_db
def test_birth_from(people):
    assert filtered(birth_from="1995-05-05") == pks(people, "woman", "baoji")


@pytest.mark.django_db
def test_birth_to(people):
    assert filtered(birth_to="1980-01-01") == pks(people, "man", "passport")


@pytest.mark.django_db
def test_document_number_is_exact_through_the_blind_index(people):
    man = people["man"]
    assert filtered(document_number=man.document_number.lower()) == pks(people, "man")
    assert filtered(document_number=man.document_number[:12]) == set()
    assert filtered(document_number=" e1234 5678 ") == pks(people, "passport")


@pytest.mark.django_db
def test_created_from_and_to(people):
    today = people["man"].created_at.date().isoformat()
    assert filtered(created_from=today) == pks(people, "man", "woman", "baoji", "passport")
    assert filtered(created_to="2000-01-01") == set()


@pytest.mark.django_db
def test_the_selector_is_scoped(people, make_user):
    xian = make_user("filter_xian", roles=["只读用户"], scope="610100")
    assert set(holder_list(user=xian).values_list("pk", flat=True)) == pks(people, "man", "woman", "passport")
    assert set(holder_list(user=xian, filters={"region": "610300"}).values_list("pk", flat=True)) == set()
