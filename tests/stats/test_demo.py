"""The stats demo seed folds what the other seeds wrote and sets this year's targets (re-runnable)."""

import pytest

from stats import demo
from stats.models import AssessmentTarget, DailyCount


@pytest.mark.django_db
def test_the_demo_seed_folds_and_sets_targets(world, system_actor, settings):
    settings.HC_REGION = "610100"
    world.apply("610113")
    first = demo.seed(actor=system_actor, stdout=None)
    again = demo.seed(actor=system_actor, stdout=None)
    assert DailyCount.objects.filter(measure="applied").get().count == 1
    assert AssessmentTarget.objects.filter(region__parent_id="610100").exists()
    assert "assessment targets" in first and again.startswith("0 journal rows")
