"""The demo seed: filings at the ministry, the same filings as a synced read-only copy at the city, where one
of the two card makers is flagged, and a few dozen actual-use rows."""

import pytest

from institutions import demo as institutions_demo
from institutions.models import CardMaker
from institutions.selectors import card_maker_has_valid_filing
from registry.models import AuditEntry, JournalEntry
from vendors import demo
from vendors.models import ActualUse, FiledProduct, Manufacturer


@pytest.mark.django_db
def test_ministry_seed_enters_the_filings_once(settings, system_actor):
    settings.HC_TIER, settings.HC_REGION = "ministry", "100000"
    demo.seed(actor=system_actor, stdout=None)
    assert Manufacturer.objects.count() == len(demo.MANUFACTURERS) >= 6
    assert FiledProduct.objects.count() == len(demo.PRODUCTS) >= 12
    statuses = dict(FiledProduct.objects.values_list("filing_number", "status"))
    assert statuses["JKKBA-CC-001"] == "revoked" and statuses["JKKBA-HK-002"] == "suspended"
    assert not FiledProduct.objects.get(filing_number="JKKBA-ZJ-002").is_valid_on()  # expired
    journal = JournalEntry.objects.count()
    demo.seed(actor=system_actor, stdout=None)
    assert JournalEntry.objects.count() == journal


@pytest.mark.django_db
def test_city_seed_shows_a_read_only_copy_a_flagged_card_maker_and_actual_use(
    settings, tmp_path, system_actor
):
    settings.HC_TIER, settings.HC_REGION, settings.HC_VAR_DIR = "city", "610100", tmp_path
    institutions_demo.seed(actor=system_actor, stdout=None)
    demo.seed(actor=system_actor, stdout=None)
    assert FiledProduct.objects.count() == len(demo.PRODUCTS)
    assert set(AuditEntry.objects.filter(action__endswith=".apply").values_list("channel", flat=True)) == {
        "sync"
    }
    flags = {maker.name: card_maker_has_valid_filing(maker) for maker in CardMaker.objects.all()}
    assert flags == {"西安长城智能卡科技有限公司": False, "陕西秦川金卡制造有限公司": True}
    uses = ActualUse.objects.count()
    assert 24 <= uses <= 80
    assert ActualUse.objects.values("medical_institution").distinct().count() >= 15
    assert ActualUse.objects.filter(financial_institution__isnull=False).exists()

    before = (JournalEntry.objects.count(), AuditEntry.objects.count())
    demo.seed(actor=system_actor, stdout=None)
    assert (JournalEntry.objects.count(), AuditEntry.objects.count()) == before
    assert ActualUse.objects.count() == uses


@pytest.mark.django_db
def test_the_lower_tiers_copy_matches_the_ministrys_filings():
    payloads = dict(((kind, p.get("code") or p["filing_number"]), p) for kind, p in demo.filing_payloads())
    assert len(payloads) == len(demo.MANUFACTURERS) + len(demo.PRODUCTS)
    revoked = payloads[("vendors.product", "JKKBA-CC-001")]
    assert revoked["status"] == "revoked" and revoked["status_reason"]
