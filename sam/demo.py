"""Demo data of the sam app (called by `manage.py seed_demo`; demo only, idempotent).

City node: SAMs received from the province in use at the demo city's landmark hospitals, most bound to their
terminals and reporting use, some frozen, one cancelled (each a real action, so the frozen and cancelled ones
are on the blacklist); deliveries signed for and one still on the way; applications in every state, and the
city's plan reported to the province (awaiting its review). Province node: SAMs received from the ministry and
a batch on its way to the city. The tiers' plans meet only once exchange carries them between the nodes.
"""

from __future__ import annotations

import random

from django.conf import settings

from institutions.demo import LANDMARK_HOSPITALS
from institutions.models import MedicalInstitution
from registry.models import Region
from sam import actions
from sam.choices import TerminalType, UseScenario
from sam.models import Sam, SamApplication

SEED = "hc-demo-sam"
PER_HOSPITAL = 8
HOSPITALS = 6
SCENARIOS = [UseScenario.REGISTRATION, UseScenario.OUTPATIENT, UseScenario.PHARMACY, UseScenario.INPATIENT]
TERMINALS = [TerminalType.COUNTER, TerminalType.KIOSK, TerminalType.POS]


def seed(*, actor, stdout) -> str:
    if Sam.objects.exists() or SamApplication.objects.exists():
        return "SAM cards already seeded"
    if settings.HC_TIER == "city":
        return _seed_city(actor=actor, rng=random.Random(SEED))
    if settings.HC_TIER == "province":
        return _seed_province(actor=actor)
    return "no SAM cards (the ministry's come with its provinces' plans)"


def _serials(prefix: str, start: int, count: int) -> list[str]:
    return [f"{prefix}{start + n:08d}" for n in range(count)]


def _seed_province(*, actor) -> str:
    province = Region.objects.get(code=settings.HC_REGION)
    numbers = _serials(f"PSAM{province.code[:2]}", 1, 40)
    unit = {"responsible_unit": "国家居民健康卡注册管理中心", "responsible_person": "周建国"}
    actions.sam_stock_in(actor=actor, serials=numbers, **unit)
    city = Region.objects.filter(parent=province, level="city").order_by("code").first()
    actions.sam_stock_out(
        actor=actor,
        serials=numbers[:20],
        region=city,
        responsible_unit=province.name + "居民健康卡注册管理中心",
        responsible_person="孙立",
        waybill="SF1302200001",
        courier="顺丰速运",
    )
    return "40 SAM cards, 20 on their way to the city"


def _seed_city(*, actor, rng: random.Random) -> str:
    city = Region.objects.get(code=settings.HC_REGION)
    names = [name for name, *_rest in LANDMARK_HOSPITALS[:HOSPITALS]]
    hospitals = list(MedicalInstitution.objects.filter(name__in=names).order_by("code"))
    if not hospitals:
        return "no SAM cards (no demo hospitals on this node)"
    numbers = _serials(f"PSAM{city.code[:4]}", 1, PER_HOSPITAL * len(hospitals) + 10)
    centre = city.name + "居民健康卡注册管理中心"
    actions.sam_stock_in(
        actor=actor,
        serials=numbers,
        responsible_unit="陕西省居民健康卡注册管理中心",
        responsible_person="孙立",
        batch_number=f"SSI{city.code}-DEMO-1",
    )
    sams_by_hospital = {}
    for index, hospital in enumerate(hospitals):
        chunk = numbers[index * PER_HOSPITAL : (index + 1) * PER_HOSPITAL]
        out = actions.sam_stock_out(
            actor=actor,
            serials=chunk,
            institution=hospital,
            responsible_unit=centre,
            responsible_person="刘敏",
            waybill=f"SF61010{index:05d}",
            courier="顺丰速运",
        )
        shipment = out.shipment
        actions.sam_shipment_update(actor=actor, shipment=shipment, status="shipped")
        if index < len(hospitals) - 1:  # the last delivery is still on its way
            actions.sam_shipment_update(actor=actor, shipment=shipment, status="delivered")
            actions.sam_shipment_update(
                actor=actor,
                shipment=shipment,
                status="signed",
                signed_by=rng.choice(["王芳", "李强", "张伟"]),
            )
        sams_by_hospital[hospital] = list(Sam.objects.filter(serial__in=chunk).order_by("serial"))

    bound = 0
    for hospital, sams in sams_by_hospital.items():
        for number, sam in enumerate(sams[:-2], start=1):  # two spares per hospital stay unbound
            actions.sam_bind(
                actor=actor,
                sam=sam,
                terminal_type=rng.choice(TERMINALS),
                terminal_number=f"{hospital.code[-6:]}-T{number:03d}",
                scenario=rng.choice(SCENARIOS),
            )
            actions.sam_use_report(actor=actor, sam=sam, count=rng.randint(200, 4000))
            bound += 1
    first, second, third = list(sams_by_hospital.values())[:3]
    for sam, reason in (
        (first[0], "终端送修，暂停使用"),
        (second[1], "科室搬迁，终端停用"),
        (third[2], "疑似被盗，待核查"),
    ):
        actions.sam_freeze(actor=actor, sam=sam, reason=reason)
    actions.sam_unfreeze(actor=actor, sam=first[0], reason="终端修复，恢复使用")
    actions.sam_freeze(actor=actor, sam=first[1], reason="终端送修，暂停使用")
    actions.sam_cancel(actor=actor, sam=third[2], reason="核实被盗，注销")

    # Applications in every state, and the city's plan reported to the province.
    requests = [
        (hospitals[0], 4, TerminalType.KIOSK, UseScenario.REGISTRATION, "approve"),
        (hospitals[1], 6, TerminalType.COUNTER, UseScenario.OUTPATIENT, "approve"),
        (hospitals[2], 10, TerminalType.POS, UseScenario.PHARMACY, "cut"),
        (hospitals[3], 3, TerminalType.COUNTER, UseScenario.INPATIENT, "reject"),
        (hospitals[4], 5, TerminalType.KIOSK, UseScenario.REGISTRATION, None),
        (hospitals[5], 2, TerminalType.ISSUING, UseScenario.ISSUANCE, None),
    ]
    for hospital, quantity, terminal_type, scenario, decision in requests:
        application = actions.sam_application_submit(
            actor=actor,
            institution=hospital,
            quantity=quantity,
            terminal_type=terminal_type,
            scenario=scenario,
            purpose="新增自助机及收费窗口" if terminal_type != TerminalType.COUNTER else "新增收费窗口",
        )
        if decision == "approve":
            actions.sam_application_review(actor=actor, application=application, decision="approve")
        elif decision == "cut":
            actions.sam_application_review(
                actor=actor,
                application=application,
                decision="cut",
                approved_quantity=6,
                reason="本年度配额有限",
            )
        elif decision == "reject":
            actions.sam_application_review(
                actor=actor, application=application, decision="reject", reason="现有SAM卡尚有备用，暂不新增"
            )
    plan = actions.sam_plan_aggregate(actor=actor, note="2026年第四季度SAM卡计划")
    actions.sam_plan_report(actor=actor, plan=plan)
    frozen = Sam.objects.filter(status="frozen").count()
    return (
        f"{len(numbers)} SAM cards, {bound} bound, {frozen} frozen, 1 cancelled; "
        f"{len(requests)} applications, plan {plan.number} reported"
    )
