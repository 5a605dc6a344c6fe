"""Run the benchmarks several times, collect their figures, write docs/performance.md and a JSON of the raw figures.

Each bench_*.py's main (or run) is called with the scale's arguments and returns its figures; each figure is the
median of --runs runs, with min and max. The table puts our value beside the limit measured in the same run (a
plain COPY of the same rows, a bare Django JSON view) and the target the issues name.

    make bench                       # PostgreSQL + Redis, 1,000,000 cards (BENCH_SCALE, BENCH_RUNS to change)
    .venv/bin/python tests/bench/run_all.py --scale 1000000 --runs 3 [--only holder_import,card_status]
    .venv/bin/python tests/bench/run_all.py --scale 10000000 --runs 1   # the 10M option: docs/performance-10m.md,
                                                                        # with the growth from docs/performance.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _scaled(scale: int, share: float, floor: int, ceiling: int | None = None) -> int:
    """A bench's size at the scale: a share of the cards, at least floor, at most ceiling. Where the issue defines
    a figure at a fixed size (the blacklist snapshot at 1,000,000 entries, the export of 1,000,000 rows, the
    catch-up of 1,000,000 journal rows), the 10M run measures that size against ten times the data."""
    size = max(floor, int(scale * share))
    return size if ceiling is None else min(size, ceiling)


FIXED = 1_000_000  # the size the issue names for the snapshot, the export and the catch-up
CATCH_UP_ISSUANCES = 340_000  # three journal rows each (holder, card, event): just over 1,000,000 rows


def benches(scale: int, seconds: float) -> list[tuple[str, callable, callable]]:
    """(name, call returning the bench's dict, figures: dict -> [(figure, value, limit, unit, target, passed)])."""

    def generate():
        from stats.generate import generate as write

        began = time.perf_counter()
        counts = write(
            cards=scale, institutions=20, uses=scale // 10, blacklist=scale // 50, workers=os.cpu_count() or 1
        )
        return {**counts, "seconds": time.perf_counter() - began}

    def generate_figures(f):
        rate = f["cards"] / f["seconds"]
        projected = 10_000_000 / rate / 60
        return [
            ("generate cards/s (holders, events, uses, blacklist)", rate, None, "cards/s", ">= 16,667 (10M in 10 min)", rate >= 16_667),
            ("generate 10M cards, projected", projected, None, "min", "< 10 min", projected < 10),
        ]  # fmt: skip

    def holder_import():
        from tests.bench import bench_holder_import as bench

        return bench.main(_scaled(scale, 0.2, 1000), False, peak_rows=min(20_000, _scaled(scale, 0.02, 500)))

    def holder_figures(f):
        limit = f.get("copy_rows_per_second")
        value = f["rows_per_second"]
        return [("holder import rows/s", value, limit, "rows/s", ">= 20,000", value >= 20_000)]

    def list_snapshot():
        from tests.bench import bench_list_snapshot as bench

        return bench.main(["--entries", str(min(scale, FIXED)), "--changes", "1000", "--runs", "1"])

    def list_figures(f):
        return [
            ("blacklist snapshot bytes/entry", f["snapshot_bytes_per_entry"], None, "B", "<= 10", f["snapshot_bytes_per_entry"] <= 10),
            ("blacklist snapshot build", f["snapshot_build_seconds"], None, "s", "< 5 s", f["snapshot_build_seconds"] < 5),
            ("blacklist delta, 1,000 changes", f["delta_bytes"], None, "B", "< 20,480", f["delta_bytes"] < 20480),
        ]  # fmt: skip

    def card_use():
        from cards.actions.uses import MAX_RECORDS  # the largest batch a hospital may send
        from tests.bench import bench_card_use_ingest as bench

        return bench.run(_scaled(scale, 0.1, 1000, MAX_RECORDS), report=lambda *_a: None)

    def use_figures(f):
        value = f["rows_per_second"]
        return [("use-record ingestion rows/s", value, None, "rows/s", ">= 10,000", value >= 10_000)]

    def card_status():
        from tests.bench import bench_card_status as bench

        cards = _scaled(scale, 0.02, 500)
        return bench.main(["--cards", str(cards), "--blacklist", str(cards // 10), "--seconds", str(seconds)])

    def status_figures(f):
        status, bare = f["status"], f["bare"]
        return [
            ("card status req/s (32 conn.)", status["rps"], bare["rps"], "req/s", ">= 60% of bare", f["ratio"] >= 0.6),
            ("card status p50", status["p50_ms"], bare["p50_ms"], "ms", "", True),
            ("card status p99", status["p99_ms"], bare["p99_ms"], "ms", "< 50 ms", status["p99_ms"] < 50),
            ("verify-batch cards/s (HTTP)", f["batch_http_cards_s"], f["batch_inprocess_cards_s"], "cards/s", ">= 50,000", f["batch_http_cards_s"] >= 50000),
        ]  # fmt: skip

    def dashboard():
        from tests.bench import bench_dashboard as bench

        return {"rounds": bench.run(scale, growth=False, repeat=10)}

    def dashboard_figures(f):
        worst = f["rounds"][0]["worst_p95"]
        return [("dashboard + reports worst p95", worst, None, "ms", "< 300 ms", worst < 300)]

    def admin_list():
        from tests.bench import bench_admin_list as bench

        return bench.main(scale, repeat=5)

    def admin_figures(f):
        worst = f["worst_p95_ms"]
        return [("admin card list worst p95", worst, None, "ms", "< 1,000 ms", worst < 1000)]

    def export():
        from tests.bench import bench_export as bench

        return bench.main(min(scale, FIXED))

    def export_figures(f):
        return [
            ("XLSX export rows/s", f["rows_per_second"], None, "rows/s", "", True),
            ("XLSX export peak RSS growth", f["peak_growth_mb"], None, "MB", "< 500 MB", f["peak_growth_mb"] < 500),
        ]  # fmt: skip

    found = [
        (
            "generate",
            generate,
            generate_figures,
        ),  # once (ONCE): it also leaves the scale's cards for the others
        ("holder_import", holder_import, holder_figures),
        ("list_snapshot", list_snapshot, list_figures),
        ("card_use_ingest", card_use, use_figures),
        ("card_status", card_status, status_figures),
        ("dashboard", dashboard, dashboard_figures),
        ("admin_list", admin_list, admin_figures),
        ("export", export, export_figures),
    ]
    if (ROOT / "tests" / "bench" / "bench_sync_apply.py").exists():  # the exchange bench, once merged

        def sync_apply():
            from tests.bench import bench_sync_apply as bench

            return bench.main(_scaled(scale, 0.1, 1000, CATCH_UP_ISSUANCES))

        def sync_figures(f):
            apply, catch_up, card_bytes = (
                f["apply_rows_per_s"],
                f["catch_up_seconds"],
                f["bytes_per_card_row"],
            )
            how = "" if f["catch_up_measured"] else f", extrapolated from {f['rows']:,} rows"
            return [
                ("sync apply rows/s (city -> province, verify + apply + re-journal)", apply, None, "rows/s", ">= 20,000", apply >= 20_000),
                (f"sync catch-up of 1,000,000 rows{how}", catch_up, None, "s", "< 120 s", catch_up < 120),
                ("sync bytes on the wire per card-issuance row", card_bytes, None, "B", "< 200", card_bytes < 200),
                ("sync build rows/s (city)", f["build_rows_per_s"], None, "rows/s", "", True),
                ("sync duplicate-only re-receive rows/s", f["duplicate_rows_per_s"], None, "rows/s", "", True),
                ("sync bytes on the wire per row (holder, card, event)", f["bytes_per_row"], None, "B", "", True),
            ]  # fmt: skip

        found.append(("sync_apply", sync_apply, sync_figures))
    return found


ONCE = {"generate", "export"}  # benches that run once whatever --runs says


NOTES = """\
Notes. Limits: holder import against a plain COPY of the same rows; card status against a bare Django JSON view
served by the same gunicorn; verify-batch over HTTP against the same selector called in-process. `generate` runs
once per `make bench` (it also leaves the scale's cards for the admin list and export benches). The 10M option:
`BENCH_SCALE=10000000 BENCH_RUNS=1 make bench` writes docs/performance-10m.md with a growth table against the 1M
run's docs/performance.json (about an hour on 2 cores with one run per figure; the snapshot, the export and the
catch-up keep the 1,000,000 the issue names). "pass" means every run met the target (a median above it can still fail). docs/scale.md takes these figures to the national node.
Card status is driven by wrk when it is installed (requests signed beforehand, a unique nonce each), else by
the bench's own Python client (which then shares the 2 cores with the server it measures); verify-batch by two
callers at once, bodies built and signed beforehand. On a shared 2-core machine compare status with the bare view
of the same run: an I/O-bound call (two round trips) loses more to other jobs than the bare view does.
"""


def summarise(values: list[float]) -> dict:
    clean = [value for value in values if value is not None]
    if not clean:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean)}


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def write(results: dict, path_md: Path, path_json: Path) -> str:
    meta = results["meta"]
    lines = [
        "# Performance",
        "",
        f"Measured {meta['when']} by `make bench` (tests/bench/run_all.py) at **{meta['scale']:,} cards**, "
        f"{meta['runs']} runs per figure (median, with min–max), on {meta['machine']}; database {meta['database']}; "
        f"shared cache {meta.get('cache', '?')}; "
        f"load average before/after {meta['load_before']} / {meta['load_after']} (the machine is shared). "
        f"Raw figures: `{path_json.name}`. Wall time {meta['seconds']:.0f} s"
        + (
            " ("
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in meta["bench_seconds"].items())
            + ")."
            if meta.get("bench_seconds")
            else "."
        ),
        "",
        "| figure | ours (median) | min – max | limit, same run | ours / limit | target | pass |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["figures"]:
        ours, limit = row["value"], row["limit"]
        ratio = f"{ours['median'] / limit['median']:.2f}" if ours["median"] and limit["median"] else "—"
        lines.append(
            f"| {row['figure']} ({row['unit']}) | {_fmt(ours['median'])} | {_fmt(ours['min'])} – {_fmt(ours['max'])} "
            f"| {_fmt(limit['median'])} | {ratio} | {row['target'] or '—'} | {'pass' if row['passed'] else 'FAIL'} |"
        )
    for name, error in results["errors"].items():
        lines.append(f"| {name} | error: {error[:160]} | | | | | FAIL |")
    text = "\n".join(lines) + "\n"
    if results.get("growth"):
        text += "\n" + growth_table(results["growth"], results) + "\n"
    path_md.write_text(text + "\n" + results.get("notes", ""), encoding="utf-8")
    path_json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return text


def growth_table(base: dict, results: dict) -> str:
    """How each figure moved from the base run (another scale's JSON) to this one: the issue's growth figures."""
    before = {row["figure"]: row for row in base["figures"]}
    small, large = base["meta"]["scale"], results["meta"]["scale"]
    lines = [
        f"## Growth: {small:,} → {large:,} cards",
        "",
        f"The base run: {base['meta']['when']}, {base['meta']['runs']} runs per figure (`{base.get('path', '')}`). "
        "Sizes fixed by the issue (snapshot entries, export rows, catch-up rows) stay fixed; the data around them "
        "grows. Cost: ours(large) / ours(small) for times, the inverse for rates, so above 1 means dearer.",
        "",
        f"| figure | at {small:,} | at {large:,} | cost × |",
        "|---|---|---|---|",
    ]
    for row in results["figures"]:
        old = before.get(row["figure"])
        if old is None:
            continue
        a, b = old["value"]["median"], row["value"]["median"]
        rate = row["unit"].endswith("/s")
        cost = (a / b if rate else b / a) if a and b else None
        lines.append(f"| {row['figure']} ({row['unit']}) | {_fmt(a)} | {_fmt(b)} | {_fmt(cost)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=int(os.environ.get("BENCH_SCALE", 1_000_000)))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument(
        "--out", default="", help="default docs/performance.md (1M), docs/performance-10m.md …"
    )
    parser.add_argument(
        "--compare", default="", help="another scale's JSON: a growth table (default: docs/performance.json)"
    )
    parser.add_argument(
        "--append", action="store_true", help="keep the figures of --out's JSON this run lacks"
    )
    args = parser.parse_args(argv)
    if not args.out:
        millions, rest = divmod(args.scale, FIXED)
        name = (
            "performance"
            if args.scale == FIXED
            else f"performance-{millions}m"
            if not rest
            else f"performance-{args.scale}"
        )
        args.out = str(ROOT / "docs" / f"{name}.md")
    compare = Path(args.compare) if args.compare else ROOT / "docs" / "performance.json"
    from tests.bench.bench_dashboard import setup

    setup()
    from django.conf import settings
    from django.db import connection

    began = time.perf_counter()
    only = {name for name in args.only.split(",") if name}
    collected: dict[str, list] = {}
    raw: dict[str, list] = {}
    errors: dict[str, str] = {}
    bench_seconds: dict[str, float] = {}
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    for name, call, figures in benches(args.scale, args.seconds):
        if only and name not in only:
            continue
        for run in range(1 if name in ONCE else args.runs):
            print(f"== {name} run {run + 1}", flush=True)  # noqa: T201
            started = time.perf_counter()
            try:
                result = call()
            except Exception as error:  # noqa: BLE001  (one failing bench must not lose the others' figures)
                errors[name] = f"{type(error).__name__}: {error}"
                break
            finally:
                # Each bench's wall time, so the 30-minute budget of `make bench` can be read stage by stage.
                bench_seconds[name] = bench_seconds.get(name, 0) + time.perf_counter() - started
            raw.setdefault(name, []).append(result)
            for row in figures(result):
                collected.setdefault(row[0], []).append(row)
    rows = []
    for figure, runs in collected.items():
        rows.append(
            {
                "figure": figure,
                "value": summarise([r[1] for r in runs]),
                "limit": summarise([r[2] for r in runs]),
                "unit": runs[0][3],
                "target": runs[0][4],
                "passed": all(r[5] for r in runs) if runs[0][4] else True,
            }
        )
    results = {
        "meta": {
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "scale": args.scale,
            "runs": args.runs,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "database": f"{connection.vendor} {connection.settings_dict.get('NAME')}",
            "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
            "load_before": load_before,
            "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "seconds": time.perf_counter() - began,
            "bench_seconds": {name: round(seconds, 1) for name, seconds in bench_seconds.items()},
        },
        "figures": rows,
        "errors": errors,
        "raw": raw,
    }
    out = Path(args.out)
    if args.append and out.with_suffix(".json").exists():
        before = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        names = {row["figure"] for row in rows}
        rows[:0] = [row for row in before["figures"] if row["figure"] not in names]
        results["raw"] = {**before["raw"], **results["raw"]}
        results["errors"] = {**before["errors"], **errors}
        results["meta"]["seconds"] += before["meta"]["seconds"]
        results["meta"]["bench_seconds"] = {**before["meta"].get("bench_seconds", {}), **bench_seconds}
        results["meta"]["load_before"] = before["meta"]["load_before"]
        results["meta"]["runs"] = before["meta"]["runs"]
        results["errors"] = {name: text for name, text in results["errors"].items() if name not in raw}
    if compare.exists() and compare.resolve() != out.with_suffix(".json").resolve():
        base = json.loads(compare.read_text(encoding="utf-8"))
        if base["meta"]["scale"] != args.scale:
            results["growth"] = {
                "meta": base["meta"],
                "figures": base["figures"],
                "path": str(compare.relative_to(ROOT) if compare.is_relative_to(ROOT) else compare),
            }
    results["notes"] = NOTES
    print(write(results, out, out.with_suffix(".json")))  # noqa: T201
    return results


if __name__ == "__main__":
    main()
