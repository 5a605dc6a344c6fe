"""Benchmark: import 10,000 medical institutions (issue 3: under 10 s on PostgreSQL). Not a test.

Writes real rows into the configured database, so point it at a scratch one:

    createdb -h 127.0.0.1 -U postgres hc_bench
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_institution_import.py [rows]

Times, for a new file in CSV and in XLSX: the dry run and the commit (what a person does in the admin);
then a re-import of the same file (nothing to write) and one with every phone changed (all updates). On PostgreSQL it also
times a plain COPY of the same rows into a temporary table, the physical limit the import is measured
against (DESIGN.md §8), and prints the ratio.
"""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the USCC alphabet (no I, O, S, V, Z)


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def make_rows(count: int, tag: str, phone: str = "029-88880000") -> list[list[str]]:
    from stdnum.cn import uscc

    counties = ["610102", "610103", "610104", "610111", "610112", "610113", "610116", "610122"]
    rows = []
    for index in range(count):
        county = counties[index % len(counties)]
        body = f"12{county}{tag}{index:07d}"
        rows.append(
            [
                f"基准测试医院{tag}{index:05d}",
                body + uscc.calc_check_digit(body),
                f"PDY{index:08d}",
                "公立",
                "社区卫生服务中心" if index % 3 else "综合医院",
                "未定级" if index % 3 else "二级甲等",
                county,
                f"西安市某区某路{index}号",
                "王某",
                phone,
                "李某",
            ]
        )
    return rows


def write_files(directory: Path, spec, rows: list[list[str]]) -> dict[str, Path]:
    from openpyxl import Workbook

    directory.mkdir(parents=True, exist_ok=True)
    headers = [str(column.header) for column in spec.columns]
    csv_path = directory / "institutions.csv"
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    xlsx_path = directory / "institutions.xlsx"
    workbook.save(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


def timed(label: str, count: int, function):
    start = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:7.2f} s  {count / seconds:9,.0f} rows/s")  # noqa: T201
    return result, seconds


def copy_seconds(rows: list[list[str]]) -> float | None:
    """A plain COPY of the same rows into a temporary table: the physical limit on this database."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        return None
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    data = buffer.getvalue()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_copy (name text, code text, licence text, nature text, category text, "
            "grade text, region text, address text, contact text, phone text, head text) ON COMMIT DROP"
        )
        start = time.perf_counter()
        with cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(data)
        return time.perf_counter() - start


def main(count: int) -> None:
    setup()
    from django.conf import settings
    from django.db import connection

    from institutions.importers import MEDICAL_IMPORT
    from institutions.models import MedicalInstitution
    from registry.actors import Actor
    from registry.choices import Channel
    from registry.imports import import_check, import_commit, import_spec

    spec = import_spec(MEDICAL_IMPORT)
    actor = Actor.system(channel=Channel.COMMAND, label="bench")
    settings.HC_REGION = "610100"
    print(f"database: {connection.vendor} {connection.settings_dict.get('NAME')}; {count:,} rows")  # noqa: T201

    existing = set(MedicalInstitution.objects.values_list("code", flat=True))
    tags = set()
    while len(tags) < 2:  # fresh code characters, so each first import creates every row
        tag = "".join(random.choice(ALPHABET) for _ in range(2))
        if not any(code[8:10] == tag for code in existing):
            tags.add(tag)
    csv_tag, xlsx_tag = sorted(tags)
    rows = make_rows(count, csv_tag)
    totals = {}
    with tempfile.TemporaryDirectory() as directory:
        for fmt, tag in (("csv", csv_tag), ("xlsx", xlsx_tag)):
            files = write_files(Path(directory) / fmt, spec, rows if fmt == "csv" else make_rows(count, tag))
            # What a person does: the dry run (which keeps a CSV copy of a workbook's rows), then the
            # commit, which re-validates every row and applies them in batches.
            copy = Path(directory) / fmt / "rows.csv"
            with open(copy, "w", encoding="utf-8", newline="") as rows_out:
                report, check = timed(
                    f"dry run ({fmt})",
                    count,
                    lambda f=files[fmt], out=rows_out: import_check(spec, f, rows_out=out),
                )
            assert report.valid == count, report.errors[:3]
            source = copy if report.rows_copied else files[fmt]
            result, commit = timed(
                f"commit, all new ({fmt})",
                count,
                lambda f=source: import_commit(spec, f, actor=actor, precheck=False),
            )
            assert result.created == count, result
            totals[fmt] = check + commit
            print(f"{'  = import of a new file (' + fmt + ')':<48} {totals[fmt]:7.2f} s")  # noqa: T201

        files = write_files(Path(directory) / "csv", spec, rows)
        result, _seconds = timed(
            "re-import, unchanged (csv, check + commit)",
            count,
            lambda: import_commit(spec, files["csv"], actor=actor),
        )
        assert (result.created, result.updated) == (0, 0), result
        changed = write_files(Path(directory) / "csv", spec, make_rows(count, csv_tag, phone="029-99990000"))
        result, _seconds = timed(
            "re-import, every phone changed (csv, check + commit)",
            count,
            lambda: import_commit(spec, changed["csv"], actor=actor),
        )
        assert result.updated == count, result

    limit = copy_seconds(rows)
    if limit is not None:
        print(f"{'PostgreSQL COPY of the same rows':<48} {limit:7.2f} s  {count / limit:9,.0f} rows/s")  # noqa: T201
        print(f"import (csv) / COPY: {totals['csv'] / limit:.0f}x the physical limit")  # noqa: T201
    for fmt, seconds in totals.items():
        verdict = "meets" if seconds < 10 else "MISSES"
        print(f"import of {count:,} new rows ({fmt}): {seconds:.2f} s, {verdict} the 10 s target")  # noqa: T201


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
