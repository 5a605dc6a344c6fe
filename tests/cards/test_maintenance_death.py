"""The death registry: import (file) and the action the API calls cancel the holder's cards with reason death
and the record on the event; a record is applied once; an authorised correction restores the card."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from cards import actions
from cards.choices import CardEventKind, CardStatus, DeathRecordStatus
from cards.importers import DEATH_IMPORT
from cards.models import Card, CardEvent, DeathRecord
from registry.actors import Actor
from registry.choices import ListReason
from registry.errors import DomainError
from registry.imports import import_check, import_commit, import_spec
from tests.cards.test_issuance_actions import baoji_clerk, hospital, make_cards  # noqa: F401
from tests.cards.test_maintenance_actions import (  # noqa: F401
    active_card,
    black,
    loss,
    make_active,
    white,
    xian_clerk,
)
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401

DIED = dt.date(2026, 11, 1)


def apply(card, actor, record_id="SW001", registry="公安人口死亡登记"):
    return actions.death_record_apply(
        actor=actor,
        id_number=card.resident.document_number,
        name=card.resident.name,
        registry=registry,
        record_id=record_id,
        died_on=DIED,
    )


@pytest.mark.django_db
def test_a_death_record_cancels_the_holders_cards_once(make_active, system_actor):  # noqa: F811
    card = make_active()
    loss(card, system_actor)  # a lost card is cancelled too
    (cancelled,) = apply(card, system_actor)
    assert cancelled.pk == card.pk and cancelled.status == CardStatus.CANCELLED
    assert cancelled.status_reason == "death"
    assert black(cancelled).reason == ListReason.DEATH and white(cancelled) is None
    event = CardEvent.objects.get(card=card, kind=CardEventKind.CANCELLED)
    assert event.data["source"] == {
        "registry": "公安人口死亡登记",
        "record_id": "SW001",
        "died_on": "2026-11-01",
    }
    record = DeathRecord.objects.get()
    assert record.status == DeathRecordStatus.APPLIED and record.cards_cancelled == 1
    assert record.resident_id == card.resident_id
    assert apply(card, system_actor) == []  # the same record again: nothing more
    assert DeathRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_record_without_a_holder_is_kept_as_no_match(system_actor):
    cards = actions.death_record_apply(
        actor=system_actor,
        id_number="610113198506150011",
        name="无名",
        registry="民政殡葬",
        record_id="X1",
        died_on=DIED,
    )
    assert cards == [] and DeathRecord.objects.get().status == DeathRecordStatus.NO_MATCH


@pytest.mark.django_db
def test_a_clerk_of_another_city_does_not_cancel_xian_cards(active_card, baoji_clerk):  # noqa: F811
    assert apply(active_card, baoji_clerk) == []
    active_card.refresh_from_db()
    assert active_card.status == CardStatus.ACTIVE
    assert DeathRecord.objects.get().status == DeathRecordStatus.NO_MATCH


@pytest.mark.django_db
def test_correction_restores_the_card_and_says_why(active_card, system_actor, make_user):  # noqa: F811
    apply(active_card, system_actor)
    reader = Actor.for_user(make_user("reader", roles=["发卡操作员"], scope="610100"))
    with pytest.raises(DomainError) as caught:
        actions.death_record_correct(actor=reader, card=active_card, note="误报")
    assert caught.value.code == "permission_denied"
    with pytest.raises(DomainError):
        actions.death_record_correct(actor=system_actor, card=active_card, note="")
    card = actions.death_record_correct(
        actor=system_actor, card=active_card, note="公安通报：同名误报，本人健在"
    )
    assert card.status == CardStatus.ACTIVE and card.status_reason == ""
    assert black(card) is None and white(card).reason == ListReason.ACTIVE
    restored = CardEvent.objects.get(card=card, kind=CardEventKind.RESTORED)
    assert restored.reason == "公安通报：同名误报，本人健在"
    assert restored.data["death_records"] == [{"registry": "公安人口死亡登记", "record_id": "SW001"}]
    record = DeathRecord.objects.get()
    assert record.status == DeathRecordStatus.CORRECTED and record.correction_note.startswith("公安通报")


@pytest.mark.django_db
def test_only_a_death_cancellation_is_corrected(active_card, system_actor):  # noqa: F811
    actions.card_cancel(actor=system_actor, card=active_card, reason="request", note="本人申请")
    with pytest.raises(DomainError) as caught:
        actions.death_record_correct(actor=system_actor, card=active_card, note="试图恢复")
    assert caught.value.code == "not_cancelled_for_death"
    assert Card.objects.get(pk=active_card.pk).status == CardStatus.CANCELLED


@pytest.mark.django_db
def test_the_death_file_import_cancels_and_reports(make_active, xian_clerk, make_holder):  # noqa: F811
    first, second = make_active(), make_active()
    rows = [
        "id_number,name,registry,record_id,died_on",  # the keys; the template has the Chinese headers
        f"{first.resident.document_number},{first.resident.name},公安人口死亡登记,R1,2026-10-30",
        f"{second.resident.document_number},{second.resident.name},公安人口死亡登记,R2,2026/10/31",
        "610113198506150011,某某,公安人口死亡登记,R3,not-a-date",
    ]
    data = ("\n".join(rows) + "\n").encode("utf-8")
    spec = import_spec(DEATH_IMPORT)
    report = import_check(spec, io.BytesIO(data), filename="deaths.csv", user=xian_clerk.user)
    assert report.total == 3 and report.valid == 2
    assert [(e.row, e.column) for e in report.errors] == [(4, "died_on")]
    assert first.resident.document_number not in str(report.sample)
    result = import_commit(
        spec,
        io.BytesIO(data),
        filename="deaths.csv",
        actor=xian_clerk,
        user=xian_clerk.user,
        skip_invalid=True,
    )
    assert result.created == 2
    assert set(Card.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        "cancelled"
    }
    again = import_commit(
        spec,
        io.BytesIO(data),
        filename="deaths.csv",
        actor=xian_clerk,
        user=xian_clerk.user,
        skip_invalid=True,
    )
    assert again.created == 0 and DeathRecord.objects.count() == 2
