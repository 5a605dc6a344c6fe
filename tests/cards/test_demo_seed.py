"""The cards demo seed: thousands of believable holders and cards in every Cards I state, through the real
actions, and a second run that adds nothing."""

from __future__ import annotations

import collections

import pytest
from django.utils import timezone

from cards import demo
from cards.actions.holders import clean_id_number
from cards.actions.lists import card_blacklist_entry, card_whitelist_entry
from cards.choices import ApplicationStatus, CardStatus
from cards.models import Application, ApplicationBatch, Card, DeathRecord, ProductionPlan, Resident
from cards.selectors.cards import card_history
from institutions import demo as institutions_demo
from registry.models import AuditEntry, JournalEntry

CARDS_I_STATES = {
    CardStatus.ISSUING,
    CardStatus.IN_STOCK,
    CardStatus.DISPATCHED,
    CardStatus.AWAITING_COLLECTION,
    CardStatus.ACTIVE,
    CardStatus.CANCELLED,
}


def counts() -> tuple:
    return tuple(
        model.objects.count()
        for model in (Resident, Application, Card, ProductionPlan, AuditEntry, JournalEntry)
    )


@pytest.mark.django_db
def test_city_seed_is_realistic_covers_every_state_and_is_idempotent(settings, tmp_path, system_actor):
    settings.HC_TIER, settings.HC_REGION, settings.HC_VAR_DIR = "city", "610100", tmp_path
    institutions_demo.seed(actor=system_actor, stdout=None)
    summary = demo.seed(actor=system_actor, stdout=None)
    assert "3000 holders" in summary
    first = counts()

    # Holders: valid ID numbers of the city's counties, both sexes, children to the very old.
    holders = list(Resident.objects.only("document_number", "region_id", "sex", "birth_date", "name"))
    assert len(holders) == demo.HOLDERS
    counties = collections.Counter(h.region_id for h in holders)
    assert len(counties) >= 12 and all(code.startswith("6101") for code in counties)
    for holder in holders[:200]:
        assert clean_id_number(holder.document_number) == holder.document_number
        assert holder.document_number[:6] == holder.region_id and 2 <= len(holder.name) <= 4
    sexes = collections.Counter(h.sex for h in holders)
    assert 0.45 < sexes["1"] / len(holders) < 0.57
    today = timezone.localdate()
    ages = [(today - h.birth_date).days // 365 for h in holders]
    assert sum(age < 16 for age in ages) > 300 and sum(age >= 65 for age in ages) > 200

    # Cards in every state of Cards I, a realistic production success rate, cards waiting to be collected.
    states = set(Card.objects.values_list("status", flat=True))
    assert states == CARDS_I_STATES | {CardStatus.LOST, CardStatus.REPLACED}
    assert Card.objects.filter(status=CardStatus.AWAITING_COLLECTION).count() >= 30
    assert not Card.objects.filter(status=CardStatus.ACTIVE, collected_at__isnull=True).exists()
    for plan in ProductionPlan.objects.filter(produced_count__gt=0):
        assert 97 <= plan.success_rate <= 99, (plan.number, plan.success_rate)
    assert set(ProductionPlan.objects.values_list("status", flat=True)) >= {
        "completed",
        "in_production",
        "submitted",
    }

    # Applications waiting for each review, some rejected, some withdrawn, some still waiting for a plan.
    statuses = set(Application.objects.values_list("status", flat=True))
    assert {
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.CITY_APPROVED,
        ApplicationStatus.APPROVED,
        ApplicationStatus.REJECTED,
        ApplicationStatus.WITHDRAWN,
        ApplicationStatus.IN_PLAN,
        ApplicationStatus.PRODUCED,
        ApplicationStatus.COMPLETED,
    } <= statuses
    assert ApplicationBatch.objects.filter(applications__status=ApplicationStatus.SUBMITTED).exists()
    assert set(Application.objects.values_list("channel", flat=True)) == {
        "counter",
        "kiosk",
        "bank",
        "online",
        "batch",
        "onsite",
    }
    assert Application.objects.filter(applicant_kind="guardian").exists()

    # A collected card's case history runs from the application to the desk.
    collected = (
        Card.objects.filter(status=CardStatus.ACTIVE, plan_item__isnull=False)
        .exclude(events__kind__in=["blacklisted", "restored", "loss_revoked"])
        .first()
    )
    kinds = [event.kind for event in card_history(card=collected)]
    assert kinds[0] == "applied" and kinds[-1] == "collected" and "stocked_in" in kinds

    # Cards II: lost, replaced (linked, the old one blacklisted, the new one whitelisted), cancelled incl. death.
    replaced = Card.objects.filter(status=CardStatus.REPLACED, replacements__isnull=False).first()
    new = replaced.replacements.get()
    assert card_blacklist_entry(replaced).reason == "replaced" and card_whitelist_entry(new) is not None
    assert card_blacklist_entry(Card.objects.filter(status=CardStatus.LOST).first()).reason == "lost"
    assert Card.objects.filter(status=CardStatus.CANCELLED, status_reason="death").count() == 2
    assert Card.objects.filter(status=CardStatus.CANCELLED, status_reason="request").exists()
    assert set(DeathRecord.objects.values_list("status", flat=True)) == {"applied", "corrected"}
    assert Application.objects.filter(replaces__isnull=False).exists()

    assert demo.seed(actor=system_actor, stdout=None) == "cards already seeded"
    assert counts() == first, "a second run must add nothing"


@pytest.mark.django_db
def test_only_the_city_node_gets_holders(settings, system_actor):
    settings.HC_TIER, settings.HC_REGION = "province", "610000"
    demo.seed(actor=system_actor, stdout=None)
    assert not Resident.objects.exists() and not Card.objects.exists()
