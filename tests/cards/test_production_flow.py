"""The whole path of a card from an approved application to the issuing point, and the plan lifecycle."""

import datetime as dt

import pytest
from django.utils import timezone, translation

from cards import actions
from cards.choices import ApplicationChannel, ApplicationStatus, CardStatus, PlanStatus, ShipmentStatus
from cards.models import Application, Card, CardEvent, PlanItem, ProductionPlan
from cards.personalisation import verify_personalisation_file
from institutions.models import CardMaker
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import AuditEntry, JournalEntry, Region
from registry.protection import unseal_payload

from . import test_production_setup as shared
from .test_production_setup import results

# Shared fixtures, assigned rather than imported so that test parameters of the same name shadow nothing.
applications = shared.applications
bank = shared.bank
card_maker = shared.card_maker
make_institution = shared.make_institution
make_plan = shared.make_plan
node_key = shared.node_key


@pytest.mark.django_db
def test_approved_application_to_card_awaiting_collection(
    applications,
    card_maker,
    make_institution,
    node_key,
    system_actor,
):
    apps = applications(3)
    plan = actions.plan_generate(
        actor=system_actor, card_maker=card_maker, region=Region.objects.get(code="610100"), size_cap=10
    )
    assert plan.status == PlanStatus.DRAFT and plan.item_count == 3
    assert set(Application.objects.values_list("status", flat=True)) == {ApplicationStatus.IN_PLAN}
    assert CardEvent.objects.filter(kind="planned", application__in=apps).count() == 3

    plan = actions.plan_submit(actor=system_actor, plan=plan)
    made = actions.plan_personalisation_file(actor=system_actor, plan=plan)
    manifest = verify_personalisation_file(made.content, public_key_pem_text=node_key)
    assert manifest["plan_number"] == plan.number and manifest["count"] == 3
    plan = actions.plan_start(actor=system_actor, plan=plan)
    assert plan.status == PlanStatus.IN_PRODUCTION

    outcome = actions.plan_return_apply(actor=system_actor, plan=plan, rows=results(plan, failed=1))
    assert (outcome.produced, outcome.failed, outcome.completed) == (2, 1, True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert (plan.produced_count, plan.failed_count, plan.success_rate) == (2, 1, 66.7)
    assert sorted(Application.objects.values_list("status", flat=True)) == ["failed", "produced", "produced"]
    assert not Card.objects.exists()  # cards come into existence at stock-in

    stock_in = actions.stock_in_record(
        actor=system_actor,
        plan=plan,
        responsible_unit="西安市卡管中心",
        responsible_person="张库管",
        quantity=2,
    )
    cards = list(Card.objects.order_by("id"))
    assert stock_in.quantity == 2 and len(cards) == 2
    for card in cards:
        item = card.plan_item
        assert card.status == CardStatus.IN_STOCK and card.region_id == "610100"
        assert card.card_no == card.resident.document_number and card.chip_serial == item.chip_serial
        assert card.application_id == item.application_id and card.stock_in == stock_in
        assert card.expires_on == timezone.localdate(plan.created_at).replace(
            year=timezone.localdate(plan.created_at).year + 10
        )
    assert CardEvent.objects.filter(kind="stocked_in").count() == 2
    journal = JournalEntry.objects.filter(kind="cards.card")
    assert journal.count() == 2 and all("sealed" in row.payload["card_no"] for row in journal)
    assert unseal_payload(journal.first().payload)["card_no"] == cards[0].card_no

    hospital = make_institution("610113", name="雁塔区人民医院")
    stock_out = actions.stock_out_record(
        actor=system_actor,
        institution=hospital,
        count=2,
        responsible_unit="西安市卡管中心",
        responsible_person="李发货",
    )
    shipment = stock_out.shipment
    assert shipment.status == ShipmentStatus.PREPARING and stock_out.quantity == 2
    for card in Card.objects.all():
        assert card.status == CardStatus.DISPATCHED and card.stock_out == stock_out
        assert card.medical_institution == hospital and card.region_id == "610113"

    shipment = actions.shipment_update(
        actor=system_actor, shipment=shipment, status="shipped", waybill="SF1234567890", courier="顺丰"
    )
    assert shipment.shipped_at is not None
    shipment = actions.shipment_update(actor=system_actor, shipment=shipment, status="delivered")
    assert set(Card.objects.values_list("status", flat=True)) == {CardStatus.AWAITING_COLLECTION}
    delivered = CardEvent.objects.filter(kind="delivered")
    assert delivered.count() == 2 and delivered.first().institution_name == "雁塔区人民医院"
    shipment = actions.shipment_update(
        actor=system_actor, shipment=shipment, status="signed", signed_by="王护士"
    )
    assert shipment.status == ShipmentStatus.SIGNED and shipment.signed_by == "王护士"

    card = cards[0]
    history = list(CardEvent.objects.filter(resident=card.resident).values_list("kind", flat=True))
    assert history[-5:] == ["planned", "produced", "stocked_in", "dispatched", "delivered"]
    audited = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "production_plan.generate",
        "production_plan.submit",
        "production_plan.personalisation_file",
        "production_plan.start",
        "production_plan.return",
        "stock_in.record",
        "stock_out.record",
        "shipment.update",
    } <= audited
    assert JournalEntry.objects.filter(kind="cards.plan", key=plan.number).count() == 4


@pytest.mark.django_db
def test_generate_takes_the_oldest_approved_applications_of_the_region_up_to_the_cap(
    approved_application,
    card_maker,
    system_actor,
):
    first, second, third = (approved_application("610113") for _ in range(3))
    Application.objects.filter(pk=first.pk).update(submitted_at=timezone.now() - dt.timedelta(days=2))
    other_city = approved_application("610302")  # Baoji: not in a Xi'an plan
    holder = actions.holder_register(actor=system_actor, document_number=_id("610113"), name="赵现场")
    onsite = actions.application_submit(
        actor=system_actor, resident=holder, channel=ApplicationChannel.ONSITE
    )
    plan = actions.plan_generate(
        actor=system_actor, card_maker=card_maker, region=Region.objects.get(code="610100"), size_cap=2
    )
    planned = list(plan.items.order_by("id").values_list("application_id", flat=True))
    assert planned == [first.pk, second.pk]
    for untouched in (third, other_city, onsite):
        untouched.refresh_from_db()
        assert untouched.status == ApplicationStatus.APPROVED


def _id(county):
    from .conftest import make_id_number

    return make_id_number(county)


@pytest.mark.django_db
def test_generate_filters_by_channel(approved_application, make_holder, card_maker, system_actor, bank):
    approved_application("610113")
    by_bank = actions.application_submit(
        actor=system_actor, resident=make_holder("610113"), channel=ApplicationChannel.BANK, institution=bank
    )
    plan = actions.plan_generate(
        actor=system_actor,
        card_maker=card_maker,
        region=Region.objects.get(code="610100"),
        channel=ApplicationChannel.BANK,
    )
    assert list(plan.items.values_list("application_id", flat=True)) == [by_bank.pk]


@pytest.mark.django_db
def test_a_failed_application_goes_into_the_next_plan(make_plan, card_maker, system_actor):
    plan = make_plan("completed", n=2, failed=1)
    failed = PlanItem.objects.get(plan=plan, status="failed").application
    assert failed.status == ApplicationStatus.FAILED
    again = actions.plan_generate(
        actor=system_actor, card_maker=card_maker, region=Region.objects.get(code="610100")
    )
    assert list(again.items.values_list("application_id", flat=True)) == [failed.pk]
    failed.refresh_from_db()
    assert failed.status == ApplicationStatus.IN_PLAN


@pytest.mark.django_db
def test_nothing_to_plan_and_an_inactive_card_maker_are_refused(applications, card_maker, system_actor):
    region = Region.objects.get(code="610100")
    with pytest.raises(DomainError) as caught:
        actions.plan_generate(actor=system_actor, card_maker=card_maker, region=region)
    assert caught.value.code == "nothing_to_plan"
    applications(1)
    from institutions.actions import organisation_deregister

    organisation_deregister(actor=system_actor, obj=card_maker, reason="停业")
    with pytest.raises(DomainError) as caught:
        actions.plan_generate(
            actor=system_actor, card_maker=CardMaker.objects.get(pk=card_maker.pk), region=region
        )
    assert caught.value.code == "card_maker_inactive"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stage", "act", "current"),
    [
        ("closed", "submit", "closed"),
        ("submitted", "submit", "submitted"),
        ("draft", "start", "draft"),
        ("in_production", "close", "in_production"),
        ("completed", "start", "completed"),
        ("closed", "close", "closed"),
    ],
)
def test_refused_plan_transitions_name_the_state(make_plan, system_actor, stage, act, current):
    plan = make_plan("draft" if stage == "closed" else stage)
    if stage == "closed":
        plan = actions.plan_close(actor=system_actor, plan=plan, reason="重复计划")
    call = {
        "submit": lambda: actions.plan_submit(actor=system_actor, plan=plan),
        "start": lambda: actions.plan_start(actor=system_actor, plan=plan),
        "close": lambda: actions.plan_close(actor=system_actor, plan=plan, reason="x"),
    }[act]
    with pytest.raises(IllegalTransition) as caught:
        call()
    assert caught.value.detail["current"] == current
    with translation.override("en"):
        assert str(PlanStatus(current).label) in caught.value.message_en
    with translation.override("zh-hans"):
        assert str(PlanStatus(current).label) in caught.value.message_zh
    assert ProductionPlan.objects.get(pk=plan.pk).status == current


@pytest.mark.django_db
def test_the_file_and_the_return_are_refused_outside_their_states(make_plan, system_actor):
    draft = make_plan("draft")
    with pytest.raises(DomainError) as caught:
        actions.plan_personalisation_file(actor=system_actor, plan=draft)
    assert caught.value.code == "plan_file_unavailable" and caught.value.detail["current"] == "draft"
    submitted = make_plan("submitted")
    with pytest.raises(DomainError) as caught:
        actions.plan_return_apply(actor=system_actor, plan=submitted, rows=results(submitted))
    assert caught.value.code == "plan_not_in_production" and caught.value.detail["current"] == "submitted"
    assert "Submitted" in caught.value.message_en


@pytest.mark.django_db
def test_closing_a_plan_before_production_releases_its_applications(make_plan, card_maker, system_actor):
    plan = make_plan("submitted", n=2)
    with pytest.raises(DomainError) as caught:
        actions.plan_close(actor=system_actor, plan=plan, reason=" ")
    assert caught.value.code == "reason_required"
    plan = actions.plan_close(actor=system_actor, plan=plan, reason="制卡机构更换")
    assert plan.status == PlanStatus.CLOSED
    apps = Application.objects.filter(plan_items__plan=plan)
    assert set(apps.values_list("status", flat=True)) == {ApplicationStatus.FAILED}
    event = CardEvent.objects.filter(kind="production_failed").first()
    assert "制卡机构更换" in event.reason and event.data["plan_closed"] is True
    assert plan.success_rate is None  # nothing reached the maker: no failure counted against it
    again = actions.plan_generate(actor=system_actor, card_maker=card_maker, region=plan.region)
    assert again.item_count == 2
    entry = AuditEntry.objects.get(action="production_plan.close")
    assert entry.reason == "制卡机构更换" and entry.changes == {"from": "submitted", "released": 2}


@pytest.mark.django_db
def test_a_completed_plan_closes_only_once_its_cards_are_in_stock(make_plan, system_actor):
    plan = make_plan("completed", n=2, failed=1)
    with pytest.raises(DomainError) as caught:
        actions.plan_close(actor=system_actor, plan=plan, reason="归档")
    assert caught.value.code == "plan_has_cards_to_stock_in"
    actions.stock_in_record(
        actor=system_actor, plan=plan, responsible_unit="市卡管中心", responsible_person="张库管"
    )
    plan = actions.plan_close(actor=system_actor, plan=plan, reason="归档")
    assert plan.status == PlanStatus.CLOSED and plan.success_rate == 50.0
