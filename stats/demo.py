"""Demo data of the stats app: the daily counts of what the other apps' demo seeded, and this year's targets."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from registry.actors import Actor
from registry.models import Region
from stats.actions import assessment_target_set, stats_fold
from stats.choices import TargetMeasure


def seed(*, actor: Actor, stdout) -> str:
    folded = stats_fold()
    year = timezone.localdate().year
    children = (
        Region.objects.filter(parent_id=settings.HC_REGION)
        .exclude(name__endswith="市辖区")
        .order_by("code")[:20]
    )
    targets = 0
    for index, region in enumerate(children):
        assessment_target_set(
            actor=actor,
            year=year,
            region_id=region.code,
            measure=TargetMeasure.CARDS_ISSUED,
            value=100 + 50 * index,
        )
        assessment_target_set(
            actor=actor, year=year, region_id=region.code, measure=TargetMeasure.COLLECTION_RATE, value=90
        )
        targets += 2
    return (
        f"{folded} journal rows (events, use counts) folded into the statistics, "
        f"{targets} assessment targets for {year}"
    )
