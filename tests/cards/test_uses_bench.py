"""Smoke test of tests/bench/bench_card_use_ingest.py: the benchmark runs end to end with 200 records."""

import pytest

from cards.models import CardUse
from tests.bench import bench_card_use_ingest as bench


@pytest.mark.django_db
def test_card_use_benchmark_runs_with_200_records():
    lines = []
    figures = bench.run(200, report=lines.append)
    assert figures["accepted"] == 198 and figures["rejected"] == 2 and figures["duplicates"] == 0
    assert figures["resent"] is True
    assert any("rows/s" in line for line in lines)
    assert not CardUse.objects.exists()  # cleaned up
