"""Region scope: a city clerk cannot see or touch another city's plans, stock or deliveries."""

import io

import pytest
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cards import actions
from cards.models import ProductionPlan
from cards.selectors.production import plan_list
from cards.selectors.stock import shipment_list, stock_in_list
from registry.actors import Actor
from registry.errors import DomainError
from registry.models import Region

from . import test_production_setup as shared

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan
node_key = shared.node_key


@pytest.fixture
def province(settings):
    settings.HC_REGION = "610000"


@pytest.fixture
def two_cities(province, make_plan, make_institution, system_actor):
    xian = make_plan("stocked", n=2, region="610100", county="610113")
    baoji = make_plan("stocked", n=1, region="610300", county="610302")
    hospital = make_institution("610113", name="雁塔区人民医院")
    shipment = actions.stock_out_record(
        actor=system_actor, institution=hospital, count=2, responsible_unit="西安", responsible_person="李"
    ).shipment
    return {"xian": xian, "baoji": baoji, "hospital": hospital, "shipment": shipment}


@pytest.fixture
def baoji_clerk(make_user):
    return make_user("baoji", roles=["卡管理员"], scope="610300")


@pytest.mark.django_db
def test_a_city_clerk_cannot_act_on_another_citys_plans_and_stock(two_cities, baoji_clerk, card_maker):
    actor = Actor.for_user(baoji_clerk)
    xian = two_cities["xian"]
    attempts = [
        lambda: actions.plan_generate(
            actor=actor, card_maker=card_maker, region=Region.objects.get(code="610100")
        ),
        lambda: actions.plan_close(actor=actor, plan=xian, reason="x"),
        lambda: actions.plan_personalisation_file(actor=actor, plan=xian),
        lambda: actions.plan_return_apply(actor=actor, plan=xian, rows=[]),
        lambda: actions.stock_in_record(actor=actor, plan=xian, responsible_unit="x", responsible_person="y"),
        lambda: actions.stock_out_record(
            actor=actor,
            institution=two_cities["hospital"],
            count=1,
            responsible_unit="x",
            responsible_person="y",
        ),
        lambda: actions.shipment_update(
            actor=actor, shipment=two_cities["shipment"], status="shipped", waybill="1"
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as caught:
            attempt()
        assert caught.value.code == "out_of_scope"
    assert ProductionPlan.objects.get(pk=xian.pk).status == xian.status
    assert two_cities["shipment"].__class__.objects.get(pk=two_cities["shipment"].pk).status == "preparing"


@pytest.mark.django_db
def test_lists_exports_and_the_api_show_only_the_clerks_city(two_cities, baoji_clerk, client):
    assert [p.number for p in plan_list(user=baoji_clerk)] == [two_cities["baoji"].number]
    assert [s.plan_id for s in stock_in_list(user=baoji_clerk)] == [two_cities["baoji"].pk]
    assert not shipment_list(user=baoji_clerk).exists()
    client.force_login(baoji_clerk)
    listing = client.get("/admin/cards/productionplan/")
    assert [p.number for p in listing.context["cl"].result_list] == [two_cities["baoji"].number]
    xian = two_cities["xian"]
    assert client.get(f"/admin/cards/productionplan/{xian.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/cards/productionplan/{xian.pk}/personalisation-file/").status_code == 404
    content = b"".join(client.get("/admin/cards/productionplan/export/xlsx/").streaming_content)
    cells = {c for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True) for c in row}
    assert two_cities["baoji"].number in cells and xian.number not in cells
    api = APIClient()
    api.force_authenticate(baoji_clerk)
    assert [p["number"] for p in api.get("/api/v1/production-plans/").json()["results"]] == [
        two_cities["baoji"].number
    ]
    assert api.get(f"/api/v1/production-plans/{xian.pk}/").status_code == 404
    assert api.post(f"/api/v1/production-plans/{xian.pk}/close/", {"reason": "x"}).status_code == 404
    assert api.get("/api/v1/shipments/").json()["results"] == []
    shipment = two_cities["shipment"]
    answer = api.post(
        f"/api/v1/shipments/{shipment.pk}/update-status/", {"status": "shipped", "waybill": "1"}
    )
    assert answer.status_code == 404
