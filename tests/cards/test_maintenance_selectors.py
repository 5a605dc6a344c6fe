"""Maintenance reads: lifecycle counts per region and period, and why a site must refuse a card."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cards import actions
from cards.selectors.maintenance import card_lifecycle_counts, card_refusal
from tests.cards.test_issuance_actions import hospital, make_cards  # noqa: F401
from tests.cards.test_maintenance_actions import chip, loss, make_active  # noqa: F401
from tests.institutions.conftest import card_maker, make_institution  # noqa: F401


@pytest.mark.django_db
def test_lifecycle_counts_per_region_and_period(make_active, system_actor):  # noqa: F811
    cards = [make_active() for _ in range(4)]
    loss(cards[0], system_actor)
    loss(cards[1], system_actor)
    actions.card_replace(actor=system_actor, card=cards[1], reason="lost", new_chip_serial=chip())
    actions.card_cancel(actor=system_actor, card=cards[2], reason="request", note="本人申请")
    today = timezone.localdate()
    rows = card_lifecycle_counts(region_prefix="6101", date_from=today, date_to=today)
    region = cards[0].region_id
    assert rows == [
        {"region": region, "period": f"{today:%Y-%m}", "kind": "cancelled", "count": 1},
        {"region": region, "period": f"{today:%Y-%m}", "kind": "loss_reported", "count": 2},
        {"region": region, "period": f"{today:%Y-%m}", "kind": "replaced", "count": 1},
    ]
    assert card_lifecycle_counts(region_prefix="6103", date_from=today, date_to=today) == []
    yesterday = today - dt.timedelta(days=1)
    assert card_lifecycle_counts(region_prefix="61", date_from=yesterday, date_to=yesterday) == []
    daily = card_lifecycle_counts(region_prefix="61", date_from=today, date_to=today, period="day")
    assert {row["period"] for row in daily} == {today.isoformat()}


@pytest.mark.django_db
def test_card_refusal_names_state_card_entry_and_person_entry(make_active, system_actor):  # noqa: F811
    card = make_active()
    assert card_refusal(card=card) is None
    actions.person_blacklist_add(actor=system_actor, resident=card.resident, reason="骗保")
    card.refresh_from_db()
    assert card_refusal(card=card) == "person_blacklisted"
    other = make_active()
    actions.card_blacklist_add(actor=system_actor, card=other, note="疑似冒用")
    assert card_refusal(card=other) == "blacklisted"
    third = loss(make_active(), system_actor)
    assert card_refusal(card=third) == "lost"


@pytest.mark.django_db
def test_card_lists_sync_lists_cards_that_predate_the_lists(make_active, system_actor):  # noqa: F811
    from django.core.management import call_command

    from cards.models import Card
    from registry.choices import ListName
    from registry.models import ListEntry
    from tests.cards.test_maintenance_actions import black, white

    active, lost = make_active(), loss(make_active(), system_actor)
    ListEntry.objects.all().delete()  # as on a node upgraded from Cards I
    Card.objects.filter(pk=lost.pk).update(status="lost")
    call_command("card_lists", "sync")
    assert white(active).reason == "active" and black(lost).reason == "lost" and white(lost) is None
    count = ListEntry.objects.filter(list_name=ListName.WHITELIST).count()
    call_command("card_lists", "sync")  # again: nothing new
    assert ListEntry.objects.filter(list_name=ListName.WHITELIST).count() == count
