"""The sync benchmark script runs (tiny size) and reports its figures; no timing is asserted."""

import pytest

from tests.bench import bench_sync_apply


@pytest.mark.django_db
def test_bench_sync_apply_runs(settings):
    figures = bench_sync_apply.run(20, quiet=True)
    assert figures["rows"] == 60 and figures["bundles"] == 1
    assert figures["apply_rows_per_s"] > 0 and 0 < figures["bytes_per_card_row"] < 1000


@pytest.mark.django_db
def test_the_runner_reports_the_sync_figures_against_their_targets(tmp_path):
    from tests.bench import run_all

    out = tmp_path / "performance.md"
    results = run_all.main(["--scale", "30", "--runs", "1", "--only", "sync_apply", "--out", str(out)])
    assert not results["errors"], results["errors"]
    targets = {row["figure"]: row["target"] for row in results["figures"]}
    assert targets["sync apply rows/s (city -> province, verify + apply + re-journal)"] == ">= 20,000"
    assert targets["sync catch-up of 1,000,000 rows, extrapolated from 3,000 rows"] == "< 120 s"
    assert targets["sync bytes on the wire per card-issuance row"] == "< 200"
    assert "extrapolated from 3,000 rows" in out.read_text()
