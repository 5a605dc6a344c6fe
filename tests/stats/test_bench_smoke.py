"""The dashboard benchmark runs end to end on a tiny data set (its figures are not asserted: not a timing test)."""

import pytest

from tests.bench import bench_dashboard


@pytest.mark.django_db
def test_the_dashboard_benchmark_runs(capsys):
    rounds = bench_dashboard.run(200, repeat=1)
    assert [r["cards"] for r in rounds] == [200, 2_000]
    assert rounds[1]["rows"] > rounds[0]["rows"] > 0
    assert "p95" in capsys.readouterr().out
    from stats.models import DailyCount, MonthlyCount, RegionDailyCount, WeeklyCount

    assert not DailyCount.objects.exists() and not MonthlyCount.objects.exists()  # cleaned up
    assert not WeeklyCount.objects.exists()
    assert not RegionDailyCount.objects.exists()
