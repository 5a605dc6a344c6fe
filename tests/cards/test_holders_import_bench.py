"""Smoke test of tests/bench/bench_holder_import.py: the benchmark runs end to end on a few rows (no timing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_holder_import.py"


@pytest.mark.django_db(transaction=True)
def test_the_holder_import_benchmark_runs_on_a_few_rows(settings, capsys):
    settings.HC_REGION = "610100"  # the bench sets it too; through the fixture it is restored afterwards
    loaded = importlib.util.spec_from_file_location("bench_holder_import", BENCH)
    bench = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(bench)
    bench.main(40, keep=False, peak_rows=40)
    printed = capsys.readouterr().out
    assert "commit, all new" in printed and "rows/s" in printed and "max RSS" in printed
    from cards.models import Resident

    assert not Resident.objects.exists()  # the bench removes what it wrote
