"""SAM fixtures: the three tiers' users in one database (the node serves the nation), institutions, a maker."""

import itertools

import pytest

from institutions.models import CardMaker
from registry.actors import Actor
from sam import actions
from tests.institutions import conftest as institutions

make_institution = institutions.make_institution
_serials = itertools.count(1)


def serials(n: int) -> list[str]:
    return [f"PSAM{next(_serials):010d}" for _ in range(n)]


@pytest.fixture(autouse=True)
def nation_node(settings):
    """All tiers' data live in one database: the node serves the nation, users are scoped per tier."""
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"


@pytest.fixture
def city(make_user):
    return Actor.for_user(make_user("xian", roles=["SAM卡管理员", "审核员"], scope="610100"))


@pytest.fixture
def other_city(make_user):
    return Actor.for_user(make_user("baoji", roles=["SAM卡管理员", "审核员"], scope="610300"))


@pytest.fixture
def province(make_user):
    return Actor.for_user(make_user("shaanxi", roles=["SAM卡管理员", "审核员"], scope="610000"))


@pytest.fixture
def ministry(make_user):
    return Actor.for_user(make_user("ministry", roles=["SAM卡管理员", "审核员"], scope="100000"))


@pytest.fixture
def hospital(make_institution):
    return make_institution("610113", name="雁塔区人民医院")


@pytest.fixture
def baoji_hospital(make_institution):
    return make_institution("610302", name="渭滨区人民医院")


@pytest.fixture
def maker(make_institution):
    return make_institution("110000", model=CardMaker, name="北京某某智能卡有限公司", code=None)


@pytest.fixture
def issued_sams(city, province, ministry, hospital, maker):
    """SAMs taken the full way to the Yanta hospital (in use there, not yet bound)."""

    def make(n: int = 3):
        application = actions.sam_application_submit(
            actor=city, institution=hospital, quantity=n, terminal_type="counter", scenario="outpatient"
        )
        actions.sam_application_review(actor=city, application=application, decision="approve")
        city_plan = actions.sam_plan_aggregate(actor=city)
        actions.sam_plan_report(actor=city, plan=city_plan)
        actions.sam_plan_review(actor=province, plan=city_plan, decision="approve")
        province_plan = actions.sam_plan_aggregate(actor=province)
        actions.sam_plan_report(actor=province, plan=province_plan)
        actions.sam_plan_review(actor=ministry, plan=province_plan, decision="approve")
        plan = actions.sam_plan_aggregate(actor=ministry, card_maker=maker)
        actions.sam_plan_start(actor=ministry, plan=plan)
        numbers = serials(n)
        unit = {"responsible_unit": "卫生部注册管理中心", "responsible_person": "张入库"}
        actions.sam_stock_in(actor=ministry, plan=plan, serials=numbers, **unit)
        actions.sam_stock_out(actor=ministry, serials=numbers, region=province_region(), **unit)
        actions.sam_stock_out(actor=province, serials=numbers, region=city_region(), **unit)
        actions.sam_stock_out(actor=city, serials=numbers, institution=hospital, **unit)
        from sam.models import Sam

        return list(Sam.objects.filter(serial__in=numbers).order_by("serial"))

    return make


def province_region():
    from registry.models import Region

    return Region.objects.get(code="610000")


def city_region():
    from registry.models import Region

    return Region.objects.get(code="610100")
