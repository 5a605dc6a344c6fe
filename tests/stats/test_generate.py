"""manage.py generate writes holders and cards a user could not tell from registered ones (tiny N, no timing)."""

from io import StringIO

import pytest
from django.core.management import call_command
from stdnum.cn import ric

from tests.integration.conftest import service_missing


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


@pytest.mark.django_db(transaction=True)
def test_generate_into_empty_tables_rebuilds_every_index_and_constraint_as_it_was():
    """The deferred load (empty tables: indexes and constraints dropped, built again two at a time, foreign keys
    added NOT VALID then validated, unique constraints attached to their indexes) leaves the schema as it found it."""
    from django.db import connection

    from stats.generate import LOADED_TABLES

    if connection.vendor != "postgresql":
        service_missing("the deferred load is PostgreSQL's: set DATABASE_URL to a PostgreSQL database")

    def schema():
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid), indisvalid FROM pg_index
                   WHERE indrelid = ANY(%s::regclass[])
                   UNION ALL SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
                   WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1, 2""",
                [list(LOADED_TABLES), list(LOADED_TABLES)],
            )
            return cursor.fetchall()

    before = schema()
    timings = {}
    from stats.generate import generate

    counts = generate(
        cards=300, holders=250, institutions=2, uses=50, blacklist=5, region="61", timings=timings
    )
    assert counts["cards"] == 300
    assert "index build" in timings and "constraints" in timings  # it did defer
    assert schema() == before  # every index and constraint back, every foreign key validated
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'cards_card'::regclass")
        assert cursor.fetchone()[0] >= 300  # analysed
