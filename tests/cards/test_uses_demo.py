"""The demo's card use records: a quarter of weekly batches at the city's hospitals, and a second run adds none."""

import random

import pytest

from cards import actions, demo
from cards.models import CardUse, CardUseBatch, CardUseDaily
from registry.models import Region
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401

from .test_issuance_actions import hospital, make_cards  # noqa: F401


@pytest.mark.django_db
def test_demo_card_uses_cover_a_quarter_and_are_idempotent(approved_application, make_cards, system_actor):  # noqa: F811
    for card in make_cards([approved_application("610113") for _ in range(3)]):
        actions.card_collect(
            actor=system_actor,
            card=card,
            identity_document_type="01",
            identity_document_number_seen=card.resident.document_number,
        )
    city = Region.objects.get(code="610100")
    accepted = demo.card_uses(actor=system_actor, rng=random.Random(1), city=city)
    assert accepted == CardUse.objects.filter(status="accepted").count() > 0
    assert CardUseBatch.objects.count() == demo.USE_WEEKS
    days = CardUseDaily.objects.values_list("day", flat=True)
    assert (max(days) - min(days)).days > 70  # a few months
    assert sum(CardUseDaily.objects.values_list("count", flat=True)) == accepted
    demo.card_uses(actor=system_actor, rng=random.Random(1), city=city)
    assert CardUse.objects.filter(status="accepted").count() == accepted
