"""The whole way of a SAM: application, plans up three tiers, production, stock down the tiers, binding."""

import pytest

from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import AuditEntry, JournalEntry, Region
from sam import actions
from sam.models import Sam, SamApplication, SamPlan

from .conftest import city_region, province_region, serials

UNIT = {"responsible_unit": "注册管理中心", "responsible_person": "王经办"}


@pytest.mark.django_db
def test_full_path_application_to_bound_terminal(city, province, ministry, hospital, maker, make_institution):
    second = make_institution("610104", name="莲湖区医院")
    first = actions.sam_application_submit(
        actor=city, institution=hospital, quantity=5, terminal_type="counter", scenario="outpatient"
    )
    other = actions.sam_application_submit(
        actor=city, institution=second, quantity=4, terminal_type="kiosk", scenario="registration"
    )
    actions.sam_application_review(actor=city, application=first, decision="approve")
    actions.sam_application_review(
        actor=city, application=other, decision="cut", approved_quantity=2, reason="自助机数量不足"
    )
    city_plan = actions.sam_plan_aggregate(actor=city)
    assert (city_plan.level, city_plan.region_id, city_plan.quantity) == ("city", "610100", 7)
    assert set(city_plan.applications.values_list("status", flat=True)) == {"planned"}
    actions.sam_plan_report(actor=city, plan=city_plan)

    reviewed = actions.sam_plan_review(
        actor=province, plan=city_plan, decision="cut", approved_quantity=6, reason="全省配额"
    )
    assert (reviewed.status, reviewed.approved_quantity) == ("cut", 6)
    province_plan = actions.sam_plan_aggregate(actor=province)
    assert (province_plan.level, province_plan.quantity) == ("province", 6)
    actions.sam_plan_report(actor=province, plan=province_plan)
    actions.sam_plan_review(actor=ministry, plan=province_plan, decision="approve")
    production = actions.sam_plan_aggregate(actor=ministry, card_maker=maker)
    assert (production.level, production.region_id, production.quantity) == ("ministry", "100000", 6)
    actions.sam_plan_start(actor=ministry, plan=production)

    # Each tier sees the status of what it reported.
    city_plan.refresh_from_db()
    assert (city_plan.status, city_plan.status_reason, city_plan.parent) == ("cut", "全省配额", province_plan)

    numbers = serials(6)
    stock_in = actions.sam_stock_in(actor=ministry, plan=production, serials=numbers, quantity=6, **UNIT)
    production.refresh_from_db()
    assert stock_in.quantity == 6 and production.produced_count == 6
    assert Sam.objects.filter(status="in_stock", region_id="100000").count() == 6
    actions.sam_plan_complete(actor=ministry, plan=production, failed=1)
    production.refresh_from_db()
    assert (production.status, production.success_rate) == ("completed", 85.7)

    actions.sam_stock_out(actor=ministry, serials=numbers, region=province_region(), **UNIT)
    actions.sam_stock_out(actor=province, serials=numbers, region=city_region(), **UNIT)
    out = actions.sam_stock_out(
        actor=city, serials=numbers[:3], institution=hospital, waybill="SF100", courier="顺丰", **UNIT
    )
    assert out.shipment.waybill == "SF100"
    sam = Sam.objects.get(serial=numbers[0])
    assert (sam.status, sam.institution, sam.region_id) == ("issued", hospital, "610113")

    for status in ("shipped", "delivered"):
        actions.sam_shipment_update(actor=city, shipment=out.shipment, status=status)
    signed = actions.sam_shipment_update(actor=city, shipment=out.shipment, status="signed", signed_by="李收")
    assert signed.signed_at is not None

    bound = actions.sam_bind(
        actor=city, sam=sam, terminal_type="counter", terminal_number="T-0001", scenario="outpatient"
    )
    assert (bound.terminal_type, bound.terminal_number) == ("counter", "T-0001")
    assert [e.kind for e in bound.events.order_by("at", "id")] == [
        "stocked_in",
        *["stocked_out"] * 3,
        "bound",
    ]
    kinds = set(JournalEntry.objects.values_list("kind", flat=True))
    assert {
        "sam.application",
        "sam.plan",
        "sam.stock_in",
        "sam.stock_out",
        "sam.shipment",
        "sam.card",
    } <= kinds
    payload = JournalEntry.objects.filter(kind="sam.card", key=sam.serial).last().payload
    assert payload["institution_code"] == hospital.code and payload["terminal_number"] == "T-0001"
    assert AuditEntry.objects.filter(action="sam.bind", object_key=str(sam.pk)).exists()


@pytest.mark.django_db
def test_refused_application_and_plan_transitions(city, province, ministry, hospital, maker):
    application = actions.sam_application_submit(
        actor=city, institution=hospital, quantity=3, terminal_type="pos", scenario="pharmacy"
    )
    with pytest.raises(DomainError) as error:
        actions.sam_application_review(actor=city, application=application, decision="reject", reason=" ")
    assert error.value.code == "reason_required"
    with pytest.raises(DomainError) as error:
        actions.sam_application_review(
            actor=city, application=application, decision="cut", approved_quantity=3, reason="x"
        )
    assert error.value.code == "bad_cut"
    with pytest.raises(DomainError) as error:
        actions.sam_application_review(actor=province, application=application, decision="approve")
    assert error.value.code == "wrong_tier"
    actions.sam_application_review(actor=city, application=application, decision="reject", reason="重复申请")
    with pytest.raises(IllegalTransition) as error:
        actions.sam_application_review(actor=city, application=application, decision="approve")
    assert error.value.detail == {"current": "rejected", "target": "approved", "allowed": []}
    with pytest.raises(DomainError) as error:
        actions.sam_plan_aggregate(actor=city)
    assert error.value.code == "nothing_to_aggregate"

    application = actions.sam_application_submit(
        actor=city, institution=hospital, quantity=3, terminal_type="pos", scenario="pharmacy"
    )
    actions.sam_application_review(actor=city, application=application, decision="approve")
    plan = actions.sam_plan_aggregate(actor=city)
    with pytest.raises(IllegalTransition):
        actions.sam_application_review(actor=city, application=application, decision="approve")
    with pytest.raises(IllegalTransition):  # a draft is not reviewed before it is reported
        actions.sam_plan_review(actor=province, plan=plan, decision="approve")
    actions.sam_plan_report(actor=city, plan=plan)
    with pytest.raises(IllegalTransition):
        actions.sam_plan_report(actor=city, plan=plan)
    for reviewer in (city, ministry):  # only the tier directly above reviews
        with pytest.raises(DomainError) as error:
            actions.sam_plan_review(actor=reviewer, plan=plan, decision="approve")
        assert error.value.code == "wrong_tier"
    with pytest.raises(DomainError) as error:
        actions.sam_plan_aggregate(actor=province)  # the city plan is reported, not yet approved
    assert error.value.code == "nothing_to_aggregate"
    actions.sam_plan_review(actor=province, plan=plan, decision="reject", reason="预算不足")
    plan.refresh_from_db()
    assert (plan.status, plan.status_reason) == ("rejected", "预算不足")
    with pytest.raises(IllegalTransition):
        actions.sam_plan_review(actor=province, plan=plan, decision="approve")
    with pytest.raises(DomainError) as error:
        actions.sam_plan_aggregate(actor=ministry)
    assert error.value.code == "card_maker_required"
    with pytest.raises(DomainError) as error:
        actions.sam_plan_start(actor=city, plan=plan)
    assert error.value.code == "not_production_plan"


@pytest.mark.django_db
def test_refused_stock_and_sam_transitions(issued_sams, city, other_city, province, ministry, hospital):
    sams = issued_sams(3)
    with pytest.raises(DomainError) as error:  # serials are unique nationally
        actions.sam_stock_in(actor=ministry, serials=[sams[0].serial], **UNIT)
    assert error.value.code == "duplicate_serial"
    with pytest.raises(DomainError) as error:
        actions.sam_stock_in(actor=ministry, serials=serials(2), quantity=3, **UNIT)
    assert error.value.code == "quantity_mismatch"
    with pytest.raises(DomainError) as error:  # already at the institution, no longer in the city's stock
        actions.sam_stock_out(actor=city, serials=[sams[0].serial], institution=hospital, **UNIT)
    assert error.value.code == "not_in_stock"
    loose = serials(1)
    actions.sam_stock_in(actor=ministry, serials=loose, **UNIT)
    with pytest.raises(DomainError) as error:  # the province cannot send what the ministry holds
        actions.sam_stock_out(actor=province, serials=loose, region=city_region(), **UNIT)
    assert error.value.code == "not_in_stock"
    with pytest.raises(DomainError) as error:
        actions.sam_stock_out(actor=province, serials=loose, region=Region.objects.get(code="110000"), **UNIT)
    assert error.value.code == "bad_destination"
    with pytest.raises(DomainError) as error:  # in stock, not in use: no terminal yet
        actions.sam_bind(
            actor=ministry, sam=Sam.objects.get(serial=loose[0]), terminal_type="pos", terminal_number="1"
        )
    assert error.value.code == "not_issued"

    first, second = sams[0], sams[1]
    actions.sam_bind(actor=city, sam=first, terminal_type="counter", terminal_number="T1")
    with pytest.raises(DomainError) as error:
        actions.sam_bind(actor=city, sam=second, terminal_type="counter", terminal_number="T1")
    assert error.value.code == "terminal_taken"
    with pytest.raises(DomainError) as error:
        actions.sam_bind(actor=other_city, sam=second, terminal_type="counter", terminal_number="T2")
    assert error.value.code == "out_of_scope"
    with pytest.raises(IllegalTransition):
        actions.sam_unfreeze(actor=city, sam=first, reason="误操作")
    with pytest.raises(DomainError) as error:
        actions.sam_freeze(actor=city, sam=first, reason="")
    assert error.value.code == "reason_required"
    actions.sam_freeze(actor=city, sam=first, reason="终端送修")
    with pytest.raises(IllegalTransition):
        actions.sam_freeze(actor=city, sam=first, reason="again")
    with pytest.raises(DomainError) as error:
        actions.sam_use_report(actor=city, sam=first, count=3)
    assert error.value.code == "not_issued"
    actions.sam_cancel(actor=city, sam=first, reason="SAM损坏")
    for act in (actions.sam_unfreeze, actions.sam_freeze, actions.sam_cancel):
        with pytest.raises(IllegalTransition) as error:
            act(actor=city, sam=first, reason="x")
        assert error.value.detail["current"] == "cancelled" and error.value.detail["allowed"] == []
    # A cancelled SAM frees its terminal.
    actions.sam_bind(actor=city, sam=second, terminal_type="counter", terminal_number="T1")
    shipment = first.stock_out.shipment
    with pytest.raises(IllegalTransition):
        actions.sam_shipment_update(actor=city, shipment=shipment, status="signed", signed_by="x")
    assert SamApplication.objects.count() == 1 and SamPlan.objects.count() == 3
