"""The SAM demo seed: SAMs in every state at the demo city's hospitals, applications at each step, idempotent."""

import pytest

from institutions import demo as institutions_demo
from registry.models import JournalEntry, ListEntry
from sam import demo
from sam.models import Sam, SamApplication, SamPlan, SamShipment


@pytest.mark.django_db
def test_city_seed_covers_every_state_and_runs_once(settings, tmp_path, system_actor):
    settings.HC_TIER, settings.HC_REGION, settings.HC_VAR_DIR = "city", "610100", tmp_path
    institutions_demo.seed(actor=system_actor, stdout=None)
    summary = demo.seed(actor=system_actor, stdout=None)
    assert "2 frozen, 1 cancelled" in summary
    assert set(Sam.objects.values_list("status", flat=True)) == {"in_stock", "issued", "frozen", "cancelled"}
    assert Sam.objects.exclude(terminal_number="").count() == 36
    assert set(SamApplication.objects.values_list("status", flat=True)) == {
        "submitted",
        "rejected",
        "planned",
    }
    plan = SamPlan.objects.get()
    assert (plan.status, plan.quantity) == ("reported", 16)
    assert set(SamShipment.objects.values_list("status", flat=True)) == {"signed", "shipped"}
    listed = ListEntry.objects.filter(entry_type="sam", removed_number__isnull=True)
    assert sorted(listed.values_list("reason", flat=True)) == ["sam_cancelled", "sam_frozen", "sam_frozen"]
    before = (Sam.objects.count(), JournalEntry.objects.count())
    assert demo.seed(actor=system_actor, stdout=None) == "SAM cards already seeded"
    assert (Sam.objects.count(), JournalEntry.objects.count()) == before


@pytest.mark.django_db
def test_province_seed(settings, tmp_path, system_actor):
    settings.HC_TIER, settings.HC_REGION, settings.HC_VAR_DIR = "province", "610000", tmp_path
    demo.seed(actor=system_actor, stdout=None)
    assert Sam.objects.filter(region_id="610100").count() == 20
    assert Sam.objects.filter(region_id="610000").count() == 20
