"""manage.py generate writes holders and cards a user could not tell from registered ones (tiny N, no timing)."""

from io import StringIO

import pytest
from django.core.management import call_command
from stdnum.cn import ric


@pytest.mark.django_db
def test_generate_writes_valid_sealed_holders_cards_uses_and_blacklist():
    from cards.models import Card, CardEvent, CardUse, Resident
    from registry import lists
    from registry.models import ListEntry

    out = StringIO()
    call_command(
        "generate", cards=60, holders=50, institutions=2, uses=30, blacklist=5, region="61", stdout=out
    )
    assert "60 cards" in out.getvalue()
    holders = list(Resident.objects.all())
    assert len(holders) == 50
    for holder in holders:  # valid for stdnum, birth place included, and matching the stored identity
        assert ric.is_valid(holder.document_number), holder.document_number
        assert ric.get_birth_date(holder.document_number) == holder.birth_date
        assert holder.document_number.startswith(holder.region_id)
        assert holder.name  # sealed, read back through the field
    cards = list(Card.objects.select_related("resident"))
    assert len(cards) == 60 and all(card.card_no == card.resident.document_number for card in cards)
    assert len({card.chip_serial for card in cards}) == 60
    assert sum(card.status == "replaced" for card in cards) == 10  # the cards beyond the holders
    assert sum(card.status == "lost" for card in cards) == 5
    assert Card.objects.filter(card_index=cards[0].resident.document_index).exists()  # blind index as real
    assert CardEvent.objects.count() >= 60 and CardUse.objects.count() == 30
    entries = list(ListEntry.objects.all())
    lost = {lists.card_subject(card.card_no, card.chip_serial) for card in cards if card.status == "lost"}
    assert {entry.subject for entry in entries} == lost

    call_command("generate", cards=40, institutions=0, region="61", stdout=StringIO())  # again: no collision
    assert Resident.objects.count() == 90
