"""Collection (领卡) with the identity check, on-site instant issuance, the case history and the receipts.

The fixtures here (a delivered card, a city clerk) are shared by the other issuance / card / application
tests, which import them by name.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools

import pytest
from django.utils import timezone, translation
from pypdf import PdfReader

from cards import actions
from cards.choices import ApplicantKind, ApplicationChannel, ApplicationStatus, CardStatus
from cards.models import Application, Card, CardEvent
from cards.receipts import write_application_receipt, write_collection_receipt
from cards.selectors.cards import card_history, holder_history
from institutions.models import FinancialInstitution
from registry.actors import Actor
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.models import AuditEntry, JournalEntry, Region
from registry.protection import mask_id_number, unseal_payload
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401

from .conftest import make_id_number

_chips = itertools.count(1)


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def hospital(make_institution):  # noqa: F811
    return make_institution("610113", name="雁塔区人民医院")


@pytest.fixture
def make_cards(card_maker, hospital, system_actor):  # noqa: F811
    """Cards for the given approved applications, through the real production and stock actions, stopped at
    `stop` (in_stock, dispatched or awaiting_collection)."""

    def make(applications, *, stop: str = CardStatus.AWAITING_COLLECTION, point=None):
        actor = system_actor
        plan = actions.plan_generate(
            actor=actor, card_maker=card_maker, region=Region.objects.get(code="610100"), size_cap=100
        )
        actions.plan_submit(actor=actor, plan=plan)
        actions.plan_start(actor=actor, plan=plan)
        items = plan.items.select_related("application__resident").order_by("id")
        rows = [
            {
                "item_id": item.pk,
                "card_no": item.application.resident.document_number,
                "result": "produced",
                "chip_serial": f"AC{next(_chips):08d}",
            }
            for item in items
        ]
        actions.plan_return_apply(actor=actor, plan=plan, rows=rows)
        actions.stock_in_record(
            actor=actor, plan=plan, responsible_unit="西安市卡管中心", responsible_person="张库管"
        )
        cards = list(Card.objects.filter(plan_item__plan=plan).order_by("id"))
        if stop != CardStatus.IN_STOCK:
            stock_out = actions.stock_out_record(
                actor=actor,
                institution=point or hospital,
                cards=cards,
                responsible_unit="西安市卡管中心",
                responsible_person="李发货",
            )
            if stop != CardStatus.DISPATCHED:
                shipment = stock_out.shipment
                actions.shipment_update(
                    actor=actor, shipment=shipment, status="shipped", waybill="SF1234567890"
                )
                actions.shipment_update(actor=actor, shipment=shipment, status="delivered")
        return [Card.objects.get(pk=card.pk) for card in cards]

    return make


@pytest.fixture
def awaiting_card(approved_application, make_cards):
    """One card waiting at Yanta's hospital for its holder 王小明."""
    application = approved_application("610113", name="王小明")
    (card,) = make_cards([application])
    assert card.status == CardStatus.AWAITING_COLLECTION
    return card


@pytest.fixture
def baoji_clerk(make_user, settings):
    """A clerk of another city (宝鸡), on the province's node where both cities' rows live."""
    settings.HC_REGION = "610000"
    return Actor.for_user(make_user("baoji_clerk", roles=["卡管理员"], scope="610300"))


def collect(card, actor, number=None, **kwargs):
    return actions.card_collect(
        actor=actor,
        card=card,
        identity_document_type=kwargs.pop("document_type", "01"),
        identity_document_number_seen=number or card.resident.document_number,
        **kwargs,
    )


# --- Collection ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_collect_checks_the_document_activates_and_completes_the_application(awaiting_card, system_actor):
    card = collect(awaiting_card, system_actor, number=f" {awaiting_card.resident.document_number.lower()} ")
    assert card.status == CardStatus.ACTIVE and card.collected_at is not None
    assert card.application.status == ApplicationStatus.COMPLETED
    event = CardEvent.objects.get(card=card, kind="collected")
    assert event.data == {"document_type_seen": "01", "identity_matched": True, "by_guardian": False}
    assert event.institution_name == "雁塔区人民医院"
    audit = AuditEntry.objects.get(action="card.collect")
    number = card.resident.document_number
    assert number not in str(audit.changes) and number not in event.reason + str(event.data)
    journal = JournalEntry.objects.filter(kind="cards.card").order_by("-seq").first()
    assert unseal_payload(journal.payload)["status"] == "active"
    assert JournalEntry.objects.filter(kind="cards.application", key=card.application.number).exists()


@pytest.mark.django_db
def test_a_document_that_does_not_match_is_refused_and_audited(awaiting_card, system_actor):
    other = make_id_number("610113")
    with pytest.raises(DomainError) as caught:
        collect(awaiting_card, system_actor, number=other)
    assert caught.value.code == "identity_mismatch"
    assert Card.objects.get(pk=awaiting_card.pk).status == CardStatus.AWAITING_COLLECTION
    refused = AuditEntry.objects.get(action="card.collect.refused")
    assert refused.changes == {"document_type_seen": "01", "identity_matched": False, "by_guardian": False}
    assert other not in str(refused.changes) + refused.reason
    # The right number on the wrong kind of document is refused too; a household register carries it.
    with pytest.raises(DomainError) as caught:
        collect(awaiting_card, system_actor, document_type="03")
    assert caught.value.code == "identity_mismatch"
    assert collect(awaiting_card, system_actor, document_type="02").status == CardStatus.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize("stop", [CardStatus.IN_STOCK, CardStatus.DISPATCHED])
def test_a_card_not_yet_at_the_issuing_point_cannot_be_collected(
    approved_application, make_cards, system_actor, stop
):
    (card,) = make_cards([approved_application()], stop=stop)
    with pytest.raises(IllegalTransition) as caught:
        collect(card, system_actor)
    assert caught.value.current == stop and caught.value.target == CardStatus.ACTIVE
    with translation.override("en"):  # the message names the card's state, in each language
        assert str(CardStatus(stop).label) in caught.value.message_en
    with translation.override("zh-hans"):
        assert str(CardStatus(stop).label) in caught.value.message_zh
    assert caught.value.allowed == Card.TRANSITIONS.allowed_from(stop)
    assert not AuditEntry.objects.filter(action__startswith="card.collect").exists()


@pytest.mark.django_db
def test_a_collected_card_cannot_be_collected_again(awaiting_card, system_actor):
    collect(awaiting_card, system_actor)
    with pytest.raises(IllegalTransition) as caught:
        collect(awaiting_card, system_actor)
    assert caught.value.current == "active" and "active" not in caught.value.allowed


@pytest.mark.django_db
def test_a_guardian_collects_a_childs_card_with_the_guardians_document(make_holder, make_cards, system_actor):
    today = dt.date.today()
    child = make_holder(born=today.replace(year=today.year - 6) - dt.timedelta(days=3), name="王小宝")
    guardian_number = make_id_number("610113", born=dt.date(1988, 2, 2))
    application = actions.application_submit(
        actor=system_actor,
        resident=child,
        channel=ApplicationChannel.COUNTER,
        applicant_kind=ApplicantKind.GUARDIAN,
        guardian_name="王大明",
        guardian_document_type="01",
        guardian_document_number=guardian_number,
        guardian_relation="3",
    )
    (card,) = make_cards([application])
    with pytest.raises(DomainError) as caught:  # the child's own number is not the guardian's document
        collect(card, system_actor, collected_by_guardian=True)
    assert caught.value.code == "identity_mismatch"
    card = collect(card, system_actor, number=guardian_number, collected_by_guardian=True)
    assert card.status == CardStatus.ACTIVE
    assert CardEvent.objects.get(card=card, kind="collected").data["by_guardian"] is True


@pytest.mark.django_db
def test_a_guardian_not_on_the_application_cannot_collect(awaiting_card, system_actor):
    with pytest.raises(DomainError) as caught:
        collect(awaiting_card, system_actor, number=make_id_number(), collected_by_guardian=True)
    assert caught.value.code == "identity_mismatch"


@pytest.mark.django_db
def test_a_clerk_of_another_city_cannot_collect_or_issue(
    awaiting_card, approved_application, hospital, baoji_clerk
):
    with pytest.raises(DomainError) as caught:
        collect(awaiting_card, baoji_clerk)
    assert caught.value.code == "out_of_scope"
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_allocate(
            actor=baoji_clerk, application=approved_application(), institution=hospital
        )
    assert caught.value.code == "out_of_scope"
    assert not AuditEntry.objects.filter(action__startswith="card.collect").exists()


# --- On-site instant issuance ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_onsite_issuance_end_to_end(approved_application, hospital, system_actor):
    application = approved_application(name="李小红")
    card = actions.card_issue_onsite_allocate(
        actor=system_actor, application=application, institution=hospital
    )
    assert card.status == CardStatus.ISSUING and card.chip_serial == "" and card.region_id == "610113"
    assert card.card_no == application.resident.document_number and card.medical_institution == hospital
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.APPROVED
    with pytest.raises(DomainError) as caught:  # the chip is being written: not collectable at the desk
        collect(card, system_actor)
    assert caught.value.code == "onsite_in_progress"

    card = actions.card_issue_onsite_complete(actor=system_actor, card=card, chip_serial="04:a1:b2:c3:d4")
    assert card.status == CardStatus.ACTIVE and card.chip_serial == "04A1B2C3D4"
    assert card.issued_at == card.collected_at is not None
    today = timezone.localdate()
    assert card.expires_on == today.replace(year=today.year + 10)
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.COMPLETED
    kinds = list(CardEvent.objects.filter(card=card).values_list("kind", flat=True))
    assert kinds == ["allocated", "activated", "collected"]
    assert {e.institution_name for e in CardEvent.objects.filter(card=card)} == {"雁塔区人民医院"}
    payload = unseal_payload(JournalEntry.objects.filter(kind="cards.card").order_by("-seq").first().payload)
    assert payload["chip_serial"] == "04A1B2C3D4" and payload["status"] == "active"
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_complete(actor=system_actor, card=card, chip_serial="FF00")
    assert caught.value.code == "not_onsite"


@pytest.mark.django_db
def test_an_aborted_onsite_issuance_cancels_the_card_and_keeps_the_application(
    approved_application,
    make_institution,  # noqa: F811
    system_actor,
):
    bank = make_institution("610100", model=FinancialInstitution, name="长安银行小寨支行", kind="bank")
    application = approved_application()
    first = actions.card_issue_onsite_allocate(actor=system_actor, application=application, institution=bank)
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_abort(actor=system_actor, card=first, reason=" ")
    assert caught.value.code == "reason_required"
    first = actions.card_issue_onsite_abort(actor=system_actor, card=first, reason="写卡失败：芯片无响应")
    assert first.status == CardStatus.CANCELLED and first.financial_institution == bank
    assert Application.objects.get(pk=application.pk).status == ApplicationStatus.APPROVED
    failed = CardEvent.objects.get(card=first, kind="production_failed")
    assert failed.reason == "写卡失败：芯片无响应" and failed.data == {"onsite": True, "aborted": True}
    for attempt in (
        lambda: actions.card_issue_onsite_complete(actor=system_actor, card=first, chip_serial="AB12"),
        lambda: actions.card_issue_onsite_abort(actor=system_actor, card=first, reason="again"),
    ):
        with pytest.raises(DomainError) as caught:
            attempt()
        assert caught.value.code == "not_onsite"

    second = actions.card_issue_onsite_allocate(actor=system_actor, application=application, institution=bank)
    second = actions.card_issue_onsite_complete(actor=system_actor, card=second, chip_serial="AB12CD34")
    assert second.status == CardStatus.ACTIVE
    # The case history behind the new card shows the failed attempt, in order.
    history = [(e.kind, e.card_id) for e in card_history(card=second)]
    assert history == [
        ("applied", None),
        ("reviewed", None),
        ("allocated", first.pk),
        ("production_failed", first.pk),
        ("allocated", second.pk),
        ("activated", second.pk),
        ("collected", second.pk),
    ]


@pytest.mark.django_db
def test_onsite_refusals(approved_application, make_holder, hospital, system_actor, make_institution):  # noqa: F811
    online = actions.application_submit(
        actor=system_actor, resident=make_holder(), channel=ApplicationChannel.ONLINE
    )
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_allocate(actor=system_actor, application=online, institution=hospital)
    assert caught.value.code == "not_onsite_channel"

    withdrawn = approved_application()
    actions.application_withdraw(actor=system_actor, application=withdrawn, reason="本人放弃")
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_allocate(actor=system_actor, application=withdrawn, institution=hospital)
    assert caught.value.code == "not_approved"

    application = approved_application()
    card = actions.card_issue_onsite_allocate(
        actor=system_actor, application=application, institution=hospital
    )
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_allocate(actor=system_actor, application=application, institution=hospital)
    assert caught.value.code == "already_holds_card"
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_complete(actor=system_actor, card=card, chip_serial="不是序列号")
    assert caught.value.code == "invalid_chip_serial"

    other = actions.card_issue_onsite_allocate(
        actor=system_actor, application=approved_application(), institution=hospital
    )
    actions.card_issue_onsite_complete(actor=system_actor, card=other, chip_serial="CAFE0001")
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_complete(actor=system_actor, card=card, chip_serial="cafe0001")
    assert caught.value.code == "chip_serial_in_use"
    assert Card.objects.get(pk=card.pk).status == CardStatus.ISSUING

    closed = make_institution("610113", name="已注销诊所")
    from institutions import actions as institution_actions

    institution_actions.organisation_deregister(actor=system_actor, obj=closed, reason="停业")
    closed.refresh_from_db()
    with pytest.raises(DomainError) as caught:
        actions.card_issue_onsite_allocate(
            actor=system_actor, application=approved_application(), institution=closed
        )
    assert caught.value.code == "issuing_point_inactive"


@pytest.mark.django_db
def test_a_batch_application_is_never_issued_on_site(make_holder, hospital, system_actor):
    batch = actions.batch_create(actor=system_actor, title="某小学", region=Region.objects.get(code="610113"))
    application = actions.application_submit(
        actor=system_actor, resident=make_holder(), channel=ApplicationChannel.BATCH, batch=batch
    )
    with pytest.raises(DomainError) as caught:  # not approved yet, and a batch channel anyway
        actions.card_issue_onsite_allocate(actor=system_actor, application=application, institution=hospital)
    assert caught.value.code == "not_onsite_channel"


@pytest.mark.django_db
def test_a_completed_application_has_no_next_state(awaiting_card, system_actor):
    card = collect(awaiting_card, system_actor)
    with pytest.raises(IllegalTransition) as caught:
        actions.application_withdraw(actor=system_actor, application=card.application, reason="x")
    assert caught.value.current == "completed" and caught.value.allowed == []


# --- Case history ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_case_history_is_complete_and_ordered(awaiting_card, system_actor):
    card = collect(awaiting_card, system_actor)
    kinds = [event.kind for event in card_history(card=card)]
    assert kinds == [
        "applied",
        "reviewed",
        "planned",
        "produced",
        "stocked_in",
        "dispatched",
        "delivered",
        "collected",
    ]
    events = list(card_history(card=card))
    assert [(e.at, e.pk) for e in events] == sorted((e.at, e.pk) for e in events)
    assert all(e.actor_label and e.channel for e in events)
    holder = [event.kind for event in holder_history(resident=card.resident)]
    assert holder == ["holder_registered", *kinds]


# --- Receipts --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_collection_receipt_shows_masked_data_only(awaiting_card, system_actor):
    card = collect(awaiting_card, system_actor)
    out = io.BytesIO()
    write_collection_receipt(card, out)
    text = pdf_text(out.getvalue())
    number = card.resident.document_number
    assert "王**" in text and mask_id_number(number) in text
    assert card.chip_serial in text and "雁塔区人民医院" in text
    assert number not in text and "王小明" not in text
    assert text.count("_____") >= 2  # the holder's and the clerk's signature lines


@pytest.mark.django_db
def test_no_collection_receipt_for_a_card_still_in_stock(approved_application, make_cards):
    (card,) = make_cards([approved_application()], stop=CardStatus.IN_STOCK)
    with pytest.raises(DomainError) as caught:
        write_collection_receipt(card, io.BytesIO())
    assert caught.value.code == "no_collection_receipt"


@pytest.mark.django_db
def test_the_application_receipt_shows_masked_data_only(approved_application):
    application = approved_application(name="欧阳娜娜")
    out = io.BytesIO()
    write_application_receipt(application, out)
    text = pdf_text(out.getvalue())
    number = application.resident.document_number
    assert application.number in text and "欧***" in text and mask_id_number(number) in text
    assert number not in text and "欧阳娜娜" not in text
