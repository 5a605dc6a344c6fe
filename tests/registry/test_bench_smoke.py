"""The benchmarks run here at a tiny size, without timing, so they cannot rot (make bench runs them at scale)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_list_snapshot_benchmark_runs(settings):
    from tests.bench import bench_list_snapshot

    figures = bench_list_snapshot.main(["--entries", "300", "--changes", "40", "--runs", "1"])
    assert figures["entries"] == 300 and figures["delta_bytes"] > 0
