"""The sync benchmark script runs (tiny size) and reports its figures; no timing is asserted."""

import pytest

from tests.bench import bench_sync_apply


@pytest.mark.django_db
def test_bench_sync_apply_runs(settings):
    figures = bench_sync_apply.run(20, quiet=True)
    assert figures["rows"] == 60 and figures["bundles"] == 1
    assert figures["apply_rows_per_s"] > 0 and 0 < figures["bytes_per_card_row"] < 1000
