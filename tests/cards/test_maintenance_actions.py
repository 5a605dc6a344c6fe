"""Card maintenance: loss and unloss, replacement, cancellation, the refusals that name the card's state, the
blacklist and whitelist entries each leaves, person entries, scope.

The fixtures here (an active card issued on site, a city clerk) are shared by the other maintenance tests,
which import them by name.
"""

from __future__ import annotations

import itertools

import pytest
from django.utils import translation

from cards import actions
from cards.actions.lists import card_list_subject, person_list_subject
from cards.choices import ApplicationChannel, ApplicationStatus, CardEventKind, CardStatus
from cards.models import Application, Card, CardEvent
from cards.selectors.cards import card_find, card_timeline, person_timeline
from registry.actors import Actor
from registry.choices import ListName, ListReason
from registry.errors import DomainError
from registry.lifecycle import IllegalTransition
from registry.lists import list_entry_current
from registry.models import AuditEntry, JournalEntry
from tests.cards.test_issuance_actions import baoji_clerk, hospital, make_cards  # noqa: F401
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401

_chips = itertools.count(1)


def chip() -> str:
    return f"MT{next(_chips):08d}"


@pytest.fixture
def make_active(make_holder, hospital, system_actor):  # noqa: F811
    """An ACTIVE card in a holder's hand, issued on site at Yanta's hospital (the quickest real path)."""

    def make(county: str = "610113", **holder_fields):
        holder = make_holder(county, **holder_fields)
        application = actions.application_submit(
            actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER
        )
        card = actions.card_issue_onsite_allocate(
            actor=system_actor, application=application, institution=hospital
        )
        return actions.card_issue_onsite_complete(actor=system_actor, card=card, chip_serial=chip())

    return make


@pytest.fixture
def active_card(make_active):
    return make_active()


@pytest.fixture
def xian_clerk(make_user):
    return Actor.for_user(make_user("xian_clerk", roles=["卡管理员"], scope="610100"))


def black(card):
    return list_entry_current(list_name=ListName.BLACKLIST, subject=card_list_subject(card))


def white(card):
    return list_entry_current(list_name=ListName.WHITELIST, subject=card_list_subject(card))


def loss(card, actor, number=None, **kwargs):
    return actions.card_report_loss(
        actor=actor,
        card=card,
        document_type=kwargs.pop("document_type", "01"),
        document_number=number or card.resident.document_number,
        **kwargs,
    )


def unloss(card, actor, number=None, **kwargs):
    return actions.card_unreport_loss(
        actor=actor,
        card=card,
        document_type=kwargs.pop("document_type", "01"),
        document_number=number or card.resident.document_number,
        **kwargs,
    )


# --- Whitelist on activation ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_card_issued_on_site_is_whitelisted(active_card):
    assert active_card.status == CardStatus.ACTIVE
    entry = white(active_card)
    assert entry is not None and entry.reason == ListReason.ACTIVE
    assert black(active_card) is None
    assert "**********" in entry.label and active_card.card_no not in entry.label


@pytest.mark.django_db
def test_a_collected_card_is_whitelisted(approved_application, make_cards, system_actor):  # noqa: F811
    (card,) = make_cards([approved_application()])
    assert white(card) is None  # waiting at the issuing point: not yet usable
    actions.card_collect(
        actor=system_actor,
        card=card,
        identity_document_type="01",
        identity_document_number_seen=card.resident.document_number,
    )
    assert white(card).reason == ListReason.ACTIVE


# --- Loss and unloss ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_loss_puts_a_hold_and_unloss_lifts_it(active_card, system_actor):
    card = loss(active_card, system_actor, note="丢失于公交车")
    assert card.status == CardStatus.LOST
    assert black(card).reason == ListReason.LOST and white(card) is None
    event = CardEvent.objects.get(card=card, kind=CardEventKind.LOSS_REPORTED)
    assert event.data["document_type_seen"] == "01"
    assert event.data["document_number_seen"] == "610113**********" + card.card_no[-4:]
    assert card.card_no not in str(event.data)
    assert AuditEntry.objects.filter(action="card.loss").exists()
    assert JournalEntry.objects.filter(kind="cards.event", key=str(event.pk)).exists()

    card = unloss(card, system_actor, note="找到了")
    assert card.status == CardStatus.ACTIVE
    assert black(card) is None and white(card).reason == ListReason.ACTIVE
    assert CardEvent.objects.filter(card=card, kind=CardEventKind.LOSS_REVOKED).exists()


@pytest.mark.django_db
def test_loss_with_someone_elses_document_is_refused_and_audited(active_card, make_holder, system_actor):
    stranger = make_holder(name="张三")
    with pytest.raises(DomainError) as caught:
        loss(active_card, system_actor, number=stranger.document_number)
    assert caught.value.code == "identity_mismatch"
    active_card.refresh_from_db()
    assert active_card.status == CardStatus.ACTIVE and black(active_card) is None
    assert AuditEntry.objects.filter(action="card.loss.refused").exists()


@pytest.mark.django_db
def test_unloss_of_a_cancelled_card_names_its_state(active_card, system_actor):
    card = actions.card_cancel(actor=system_actor, card=active_card, reason="request", note="本人申请注销")
    with pytest.raises(IllegalTransition) as caught:
        unloss(card, system_actor)
    assert caught.value.current == CardStatus.CANCELLED
    with translation.override("en"):
        assert str(CardStatus.CANCELLED.label) in caught.value.message_en
    assert str(CardStatus.LOST.label) not in caught.value.message_en.split("allowed")[0]
    with translation.override("zh-hans"):
        assert str(CardStatus.CANCELLED.label) in caught.value.message_zh


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["lost", "replaced", "cancelled"])
def test_loss_is_refused_unless_active(first, active_card, system_actor):
    if first == "lost":
        loss(active_card, system_actor)
    elif first == "replaced":
        actions.card_replace(actor=system_actor, card=active_card, reason="damaged", new_chip_serial=chip())
    else:
        actions.card_cancel(actor=system_actor, card=active_card, reason="error", note="错发")
    with pytest.raises(IllegalTransition) as caught:
        loss(active_card, system_actor)
    assert caught.value.current == first


# --- Replacement ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_loss_then_replacement_on_site_blacklists_the_old_card_and_whitelists_the_new(
    active_card,
    system_actor,
    hospital,  # noqa: F811
):
    loss(active_card, system_actor)
    serial = chip()
    new = actions.card_replace(
        actor=system_actor,
        card=active_card,
        reason="lost",
        note="补卡",
        new_chip_serial=serial,
        institution=hospital,
    )
    old = Card.objects.get(pk=active_card.pk)
    assert old.status == CardStatus.REPLACED and old.status_reason == "lost"
    assert black(old).reason == ListReason.REPLACED and white(old) is None
    assert new.status == CardStatus.ACTIVE and new.chip_serial == serial and new.replaces_id == old.pk
    assert new.card_no == old.card_no and new.resident_id == old.resident_id
    assert black(new) is None and white(new).reason == ListReason.ACTIVE
    # The permanent entry cannot be lifted by an unloss, and the old card cannot be replaced twice.
    with pytest.raises(IllegalTransition):
        unloss(old, system_actor)
    with pytest.raises(IllegalTransition):
        actions.card_replace(actor=system_actor, card=old, reason="lost", new_chip_serial=chip())
    # Both timelines show the link; a reader's lookup by number finds the new card.
    kinds = [e.kind for e in card_timeline(card=new)]
    assert kinds.index(CardEventKind.LOSS_REPORTED) < kinds.index(CardEventKind.REPLACED)
    assert CardEventKind.REPLACEMENT in kinds
    assert list(card_timeline(card=old)) == list(card_timeline(card=new))
    assert card_find(card_no=old.card_no) == new
    assert card_find(card_no=old.card_no, chip_serial=old.chip_serial) == old


@pytest.mark.django_db
def test_replacement_without_a_chip_goes_to_production_and_links_the_produced_card(
    active_card,
    system_actor,
    make_cards,  # noqa: F811
):
    result = actions.card_replace(actor=system_actor, card=active_card, reason="damaged", note="卡面破损")
    assert result.pk == active_card.pk and result.status == CardStatus.REPLACED
    application = Application.objects.get(replaces=active_card)
    assert application.status == ApplicationStatus.APPROVED
    (new,) = make_cards([application])
    assert new.replaces_id == active_card.pk and new.status == CardStatus.AWAITING_COLLECTION
    actions.card_collect(
        actor=system_actor,
        card=new,
        identity_document_type="01",
        identity_document_number_seen=new.resident.document_number,
    )
    assert white(new).reason == ListReason.ACTIVE and black(Card.objects.get(pk=active_card.pk)) is not None
    assert CardEvent.objects.filter(card=new, kind=CardEventKind.REPLACEMENT).exists()


@pytest.mark.django_db
def test_replacement_refuses_a_chip_serial_already_used(make_active, system_actor):
    first, second = make_active(), make_active()
    with pytest.raises(DomainError) as caught:
        actions.card_replace(
            actor=system_actor, card=first, reason="lost", new_chip_serial=second.chip_serial
        )
    assert caught.value.code == "chip_serial_in_use"
    first.refresh_from_db()
    assert first.status == CardStatus.ACTIVE and white(first) is not None  # nothing happened


# --- Cancellation ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancellation_is_permanent_and_needs_a_reason(active_card, system_actor):
    with pytest.raises(DomainError) as caught:
        actions.card_cancel(actor=system_actor, card=active_card, reason="request", note="")
    assert caught.value.code == "reason_required"
    with pytest.raises(DomainError):
        actions.card_cancel(actor=system_actor, card=active_card, reason="whatever", note="x")
    card = actions.card_cancel(actor=system_actor, card=active_card, reason="emigration", note="移居国外")
    assert card.status == CardStatus.CANCELLED and card.status_reason == "emigration"
    assert black(card).reason == ListReason.CANCELLED and white(card) is None
    for attempt in (
        lambda: loss(card, system_actor),
        lambda: actions.card_replace(actor=system_actor, card=card, reason="lost"),
        lambda: actions.card_cancel(actor=system_actor, card=card, reason="error", note="again"),
    ):
        with pytest.raises(IllegalTransition) as refused:
            attempt()
        assert refused.value.current == CardStatus.CANCELLED


@pytest.mark.django_db
def test_a_lost_card_can_be_cancelled(active_card, system_actor):
    loss(active_card, system_actor)
    card = actions.card_cancel(actor=system_actor, card=active_card, reason="request", note="不再使用")
    assert card.status == CardStatus.CANCELLED and black(card).reason == ListReason.CANCELLED


# --- Manual entries and person entries ----------------------------------------------------------------------


@pytest.mark.django_db
def test_manual_card_entry_needs_a_note_and_can_be_removed(active_card, system_actor):
    with pytest.raises(DomainError):
        actions.card_blacklist_add(actor=system_actor, card=active_card, note=" ")
    actions.card_blacklist_add(actor=system_actor, card=active_card, note="疑似冒用")
    assert black(active_card).reason == ListReason.MANUAL and white(active_card) is None
    with pytest.raises(DomainError) as caught:
        actions.card_blacklist_add(actor=system_actor, card=active_card, note="again")
    assert caught.value.code == "already_blacklisted"
    actions.card_blacklist_remove(actor=system_actor, card=active_card, note="核实为本人使用")
    assert black(active_card) is None and white(active_card) is not None


@pytest.mark.django_db
def test_a_permanent_entry_is_not_removed_by_hand(active_card, system_actor):
    actions.card_cancel(actor=system_actor, card=active_card, reason="duplicate", note="重复发卡")
    with pytest.raises(DomainError) as caught:
        actions.card_blacklist_remove(actor=system_actor, card=active_card, note="试图移除")
    assert caught.value.code == "no_manual_entry"
    assert black(active_card).reason == ListReason.CANCELLED


@pytest.mark.django_db
def test_a_person_entry_blocks_an_application_until_removed(make_holder, system_actor):
    holder = make_holder(name="赵六")
    entry = actions.person_blacklist_add(actor=system_actor, resident=holder, reason="骗保，医保局认定")
    assert entry.reason == ListReason.INELIGIBLE
    current = list_entry_current(list_name=ListName.BLACKLIST, subject=person_list_subject(holder))
    assert current is not None and holder.document_number not in current.label
    with pytest.raises(DomainError) as caught:
        actions.application_submit(actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER)
    assert caught.value.code == "person_blacklisted"
    actions.person_blacklist_remove(actor=system_actor, resident=holder, reason="处罚期满")
    application = actions.application_submit(
        actor=system_actor, resident=holder, channel=ApplicationChannel.COUNTER
    )
    assert application.status == ApplicationStatus.APPROVED
    kinds = [e.kind for e in person_timeline(resident=holder)]
    assert kinds[1:3] == [CardEventKind.PERSON_BLACKLISTED, CardEventKind.PERSON_UNBLACKLISTED]


# --- Scope ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_clerk_of_another_city_cannot_act_on_a_xian_card(active_card, baoji_clerk, xian_clerk):  # noqa: F811
    attempts = [
        lambda actor: loss(active_card, actor),
        lambda actor: actions.card_replace(
            actor=actor, card=active_card, reason="lost", new_chip_serial=chip()
        ),
        lambda actor: actions.card_cancel(actor=actor, card=active_card, reason="request", note="x"),
        lambda actor: actions.card_blacklist_add(actor=actor, card=active_card, note="x"),
        lambda actor: actions.person_blacklist_add(actor=actor, resident=active_card.resident, reason="x"),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError) as caught:
            attempt(baoji_clerk)
        assert caught.value.code == "out_of_scope"
    active_card.refresh_from_db()
    assert active_card.status == CardStatus.ACTIVE and black(active_card) is None
    assert loss(active_card, xian_clerk).status == CardStatus.LOST  # the card's own city may


# --- What a hospital may change -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_holder_contacts_and_card_info_updates_refuse_identity(active_card, system_actor):
    holder = actions.holder_contacts_update(
        actor=system_actor, resident=active_card.resident, changes={"phone1": "13900001111"}
    )
    assert holder.phone1 == "13900001111"
    with pytest.raises(DomainError) as caught:
        actions.holder_contacts_update(actor=system_actor, resident=holder, changes={"name": "李四"})
    assert caught.value.code == "field_not_editable"
    card = actions.card_info_update(
        actor=system_actor, card=active_card, changes={"expires_on": "2040-01-01"}
    )
    assert str(card.expires_on) == "2040-01-01"
    assert CardEvent.objects.filter(card=card, kind=CardEventKind.CARD_CHANGED).exists()
    with pytest.raises(DomainError):
        actions.card_info_update(actor=system_actor, card=active_card, changes={"chip_serial": "X"})
