"""The GB/T 2260 tree loaded by migrate."""

import pytest

from registry.models import Region
from registry.selectors import region_search


@pytest.mark.django_db
def test_tree_has_current_codes_at_three_levels():
    assert Region.objects.filter(level="county").count() >= 3000
    assert Region.objects.filter(level="province").count() >= 31
    xian = Region.objects.get(code="610100")
    assert xian.name == "西安市" and xian.parent_id == "610000" and xian.level == "city"
    yanta = Region.objects.get(code="610113")
    assert yanta.full_name == "陕西省 西安市 雁塔区" and yanta.parent_id == "610100"
    # Retired codes are not current: 610125 户县 became 鄠邑区 (610118) in 2016.
    assert not Region.objects.filter(code="610125").exists()
    assert Region.objects.get(code="610118").name == "鄠邑区"


@pytest.mark.django_db
def test_region_search_by_code_prefix_and_name():
    assert [r.code for r in region_search(term="61011", limit=3)] == ["610111", "610112", "610113"]
    assert "610113" in {r.code for r in region_search(term="雁塔")}
    assert all(r.code.startswith("6101") for r in region_search(term="区", under="610100"))
