"""Benchmark: XLSX export of N card rows (the card admin's export columns, registry.exports.write_xlsx). Not a test.

Tops the database up to N cards with `manage.py generate` (stats.generate), then writes the export as the admin's
export action does (rows streamed from the queryset, openpyxl write-only); prints rows/s, the file size and the
peak memory (the growth of the process's max RSS over the export, and the max RSS). Target: 1,000,000 rows in
constant memory (peak well under 500 MB).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_export.py [rows=1000000]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_dashboard import out, setup  # noqa: E402


def main(rows: int = 1_000_000) -> dict:
    setup()
    from django.contrib import admin

    from cards.models import Card
    from registry.exports import Sheet, write_xlsx
    from stats.generate import generate

    have = Card.objects.count()
    if have < rows:
        generate(cards=rows - have, institutions=0, workers=2)
    model_admin = admin.site._registry[Card]
    queryset = Card.objects.select_related("resident", "region", "medical_institution").order_by("id")[:rows]
    sheet = Sheet(title="cards", columns=model_admin.export_columns, rows=queryset, generated_by="bench")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "cards.xlsx"
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        began = time.perf_counter()
        with path.open("wb") as handle:
            written = write_xlsx(sheet, handle)
        seconds = time.perf_counter() - began
        # tracemalloc would slow the export threefold: the process's peak RSS growth over the export instead.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
        size = path.stat().st_size
    figures = {
        "rows": written,
        "seconds": seconds,
        "rows_per_second": written / seconds if seconds else 0.0,
        "peak_growth_mb": peak,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "file_mb": size / 1024 / 1024,
    }
    out(
        f"XLSX export of {written:,} cards: {seconds:.1f} s = {figures['rows_per_second']:,.0f} rows/s, "
        f"{figures['file_mb']:.1f} MB; peak RSS growth {peak:.1f} MB, max RSS {figures['max_rss_mb']:.0f} MB"
    )
    return figures


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:] if not a.startswith("--")]
    main(*arguments)
