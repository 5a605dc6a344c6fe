"""The benchmark runner and the admin list bench run end to end at a tiny scale (figures not asserted)."""

import json

import pytest

from tests.bench import run_all


@pytest.mark.django_db
def test_the_runner_writes_the_table_and_the_raw_figures(tmp_path):
    out = tmp_path / "performance.md"
    # Another scale's run to compare with (as docs/performance.json is for the 10M run): one figure, 400 ms.
    base = tmp_path / "base.json"
    admin = "admin card list worst p95"
    figure = {"figure": admin, "unit": "ms", "value": {"median": 400.0}, "limit": {"median": None}}
    base.write_text(
        json.dumps({"meta": {"scale": 1_000_000, "when": "then", "runs": 3}, "figures": [figure]})
    )
    results = run_all.main(
        ["--scale", "30", "--runs", "2", "--only", "generate,admin_list,export", "--out", str(out)]
        + ["--compare", str(base)]
    )
    assert not results["errors"], results["errors"]
    text = out.read_text()
    assert "| admin card list worst p95 (ms) |" in text and "30 cards" in text
    raw = json.loads(out.with_suffix(".json").read_text())
    assert "| XLSX export rows/s (rows/s) |" in text and raw["raw"]["export"][0]["rows"] == 30
    assert len(raw["raw"]["generate"]) == 1 and raw["raw"]["generate"][0]["cards"] == 30  # once
    assert len(raw["raw"]["admin_list"]) == 2 and raw["figures"][0]["value"]["median"] > 0
    # The base run's figure beside this run's, and how its cost moved (this run's p95 over the base's 400 ms).
    growth = text.split("## Growth: 1,000,000 → 30 cards", 1)[1]
    row = next(line for line in growth.splitlines() if line.startswith(f"| {admin} (ms) |"))
    ours = results["figures"][[f["figure"] for f in results["figures"]].index(admin)]["value"]["median"]
    assert row.split("|")[2].strip() == "400" and float(row.split("|")[4]) == pytest.approx(
        ours / 400, abs=0.01
    )
