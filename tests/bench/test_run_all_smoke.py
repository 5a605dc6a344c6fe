"""The benchmark runner and the admin list bench run end to end at a tiny scale (figures not asserted)."""

import json

import pytest

from tests.bench import run_all


@pytest.mark.django_db
def test_the_runner_writes_the_table_and_the_raw_figures(tmp_path):
    out = tmp_path / "performance.md"
    results = run_all.main(
        ["--scale", "30", "--runs", "2", "--only", "generate,admin_list,export", "--out", str(out)]
    )
    assert not results["errors"], results["errors"]
    text = out.read_text()
    assert "| admin card list worst p95 (ms) |" in text and "30 cards" in text
    raw = json.loads(out.with_suffix(".json").read_text())
    assert "| XLSX export rows/s (rows/s) |" in text and raw["raw"]["export"][0]["rows"] == 30
    assert len(raw["raw"]["generate"]) == 1 and raw["raw"]["generate"][0]["cards"] == 30  # once
    assert len(raw["raw"]["admin_list"]) == 2 and raw["figures"][0]["value"]["median"] > 0
    # Another scale's figures beside these (docs/performance.json is the 1M run): how each cost grew.
    assert "## Growth: 1,000,000 → 30 cards" in text and "| admin card list worst p95 (ms) | " in text
