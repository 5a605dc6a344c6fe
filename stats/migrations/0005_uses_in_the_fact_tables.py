"""Card uses become fact measures ("use:<scenario>"): the fold reads `cards.use_daily` journal rows from now on,
and this adds what the daily use aggregates hold already (the checkpoint is past their journal rows). The counts
are absolute per day, institution and scenario, so a use row the fold has not reached yet adds nothing twice:
the fold adds the difference from what is stored. The rolling windows are summed afresh by the next fold."""

import datetime as dt
from collections import Counter

from django.db import migrations


def add_uses(apps, schema_editor):
    CardUseDaily = apps.get_model("cards", "CardUseDaily")
    daily: Counter = Counter()
    rows = CardUseDaily.objects.values_list("day", "region_id", "institution__code", "scenario", "count")
    for day, region, institution, scenario, count in rows.iterator(chunk_size=20_000):
        daily[(day, region, institution, f"use:{scenario}")] += count
    if not daily:
        return
    week = Counter()
    month = Counter()
    for (day, *rest), count in daily.items():
        week[(day - dt.timedelta(days=day.weekday()), *rest)] += count
        month[(day.replace(day=1), *rest)] += count
    for name, counts in (("DailyCount", daily), ("WeeklyCount", week), ("MonthlyCount", month)):
        model = apps.get_model("stats", name)
        model.objects.bulk_create(
            [
                model(day=d, region=r, institution_code=i, card_maker_code="", measure=m, count=n)
                for (d, r, i, m), n in counts.items()
            ],
            batch_size=5000,
        )
    for name, counts in (("RegionDailyCount", daily), ("RegionMonthlyCount", month)):
        model = apps.get_model("stats", name)
        by_region: Counter = Counter()
        for (d, r, _i, m), n in counts.items():
            by_region[(d, r, m)] += n
        model.objects.bulk_create(
            [
                model(day=d, region=r, card_maker_code="", measure=m, count=n)
                for (d, r, m), n in by_region.items()
            ],
            batch_size=5000,
        )
    apps.get_model("stats", "StatsWindow").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0007_pattern_indexes_dropped"),
        ("stats", "0004_rolling_windows_and_card_maker_by_region"),
    ]

    operations = [migrations.RunPython(add_uses, migrations.RunPython.noop)]
