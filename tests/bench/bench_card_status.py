"""Benchmark: the hospital API's card check (issue 9: `cards/{card_no}/status` at >= 60% of a bare Django JSON
view's throughput in the same run, p99 < 50 ms at 32 connections; `verify-batch` >= 50,000 cards/s; on
PostgreSQL under gunicorn with 1,000,000 cards and 100,000 blacklist entries). Not a test: it prints figures.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=... HC_VAR_DIR=var/bench .venv/bin/python tests/bench/bench_card_status.py \\
        [--cards 1000000] [--blacklist 100000] [--seconds 10] [--connections 32] [--workers 4] [--keep]

Seeds the cards (bulk, sealed, blind-indexed like real ones) and, when registry's list is installed, blacklist
entries; starts gunicorn with the node's settings plus a bare JSON view (tests/bench/bench_urls.py); drives both
URLs with the same load tool (client processes x keep-alive connections, each status call signed like an
integrator's); prints requests/s, p50 and p99, and the ratio. Then verify-batch: cards/s through HTTP (1,000
pairs a call) and in-process (the selector alone). Seeded rows are deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
BENCH_TAG = "bench-card-status"


def setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HC_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


# --- Data ---------------------------------------------------------------------------------------------------


def seed(*, cards: int, blacklist: int = 0, batch: int = 5000) -> tuple[list[tuple[str, str]], dict]:
    """`cards` holders with an active card each (bulk, sealed), `blacklist` of them on the blacklist; an API key.
    Returns the (card number, chip) pairs and the credential."""
    from django.db import transaction
    from django.utils import timezone

    from cards.choices import CardStatus, Sex
    from cards.models import Card, Resident
    from institutions import actions as institution_actions
    from institutions.models import MedicalInstitution
    from registry.actors import Actor
    from registry.models import Region
    from registry.protection import blind_indexes
    from tests.bench.bench_holder_import import id_number

    actor = Actor.system(label=BENCH_TAG)
    region = Region.objects.get(code="610113")
    hospital = MedicalInstitution.objects.filter(name=BENCH_TAG).first()
    if hospital is None:
        from stdnum.cn import uscc

        body = "12610113BENCH0001"[:17]
        hospital = institution_actions.organisation_register(
            actor=actor,
            model=MedicalInstitution,
            code=body + uscc.calc_check_digit(body),
            region=region,
            name=BENCH_TAG,
            nature="public",
            category="general_hospital",
            grade="3a",
        )
    credential, secret = institution_actions.credential_issue(actor=actor, institution=hospital)
    now = timezone.now()
    pairs: list[tuple[str, str]] = []
    start = Resident.objects.count()
    base = dt.date(1930, 1, 1)
    for offset in range(0, cards, batch):
        residents, numbers = [], []
        candidates = []
        for serial in range(start + offset, start + min(offset + batch, cards)):
            born = base + dt.timedelta(days=(serial // 1000) % 30000)
            candidates.append((serial, born, id_number("610113", born, serial, serial % 2 == 1)))
        # `generate` draws valid numbers of the same county: at 10 M holders some are taken already.
        indexes = blind_indexes([number for _s, _b, number in candidates], family="id_number")
        held = set(
            Resident.objects.filter(document_index__in=list(indexes.values())).values_list(
                "document_index", flat=True
            )
        )
        for serial, born, number in candidates:
            if indexes[number] in held:
                continue
            numbers.append(number)
            residents.append(
                Resident(
                    name=BENCH_TAG,
                    document_number=number,
                    sex=Sex.MALE if serial % 2 else Sex.FEMALE,
                    birth_date=born,
                    region=region,
                    created_at=now,
                    changed_at=now,
                )
            )
        with transaction.atomic():
            # The blind indexes fill themselves in pre_save, which bulk_create calls.
            Resident.objects.bulk_create(residents, batch_size=batch)
            made = []
            for resident, number in zip(residents, numbers, strict=True):
                chip = f"B{resident.pk:015d}"
                pairs.append((number, chip))
                made.append(
                    Card(
                        card_no=number,
                        chip_serial=chip,
                        resident=resident,
                        status=CardStatus.ACTIVE,
                        status_changed_at=now,
                        region=region,
                        medical_institution=hospital,
                        collected_at=now,
                        expires_on=dt.date(2036, 1, 1),
                        created_at=now,
                    )
                )
            Card.objects.bulk_create(made, batch_size=batch)
    if blacklist:
        _blacklist(pairs[:blacklist], actor)
    _analyze()
    return pairs, {"key_id": credential.key_id, "secret": secret}


def _blacklist(pairs, actor) -> None:
    """An older card of each holder on the blacklist (replaced), in bulk: entries numbered like list_add's,
    without its per-entry journal rows (benchmark data; list_add one by one takes minutes per 10,000)."""
    from django.db import transaction
    from django.utils import timezone

    try:
        from registry import lists
        from registry.choices import EntryType, ListName, ListReason
        from registry.journal import counter_take
        from registry.models import ListEntry
    except ImportError:
        print("registry's list is not installed here: no blacklist entries seeded")  # noqa: T201
        return
    from django.conf import settings

    now = timezone.now()
    for offset in range(0, len(pairs), 10_000):
        chunk = pairs[offset : offset + 10_000]
        with transaction.atomic():
            first = counter_take(lists._counter(ListName.BLACKLIST), len(chunk))
            ListEntry.objects.bulk_create(
                [
                    ListEntry(
                        list_name=ListName.BLACKLIST,
                        entry_type=EntryType.CARD,
                        subject=lists.card_subject(card_no, chip + "X"),  # an older card of the holder
                        reason=ListReason.REPLACED,
                        permanent=ListReason.REPLACED in lists.PERMANENT_LIST_REASONS,
                        region_id="610113",
                        label=BENCH_TAG,
                        object_ref=BENCH_TAG,
                        origin_node=settings.HC_REGION,
                        added_number=first + number,
                        added_at=now,
                        added_by=actor.display[:150],
                    )
                    for number, (card_no, chip) in enumerate(chunk)
                ],
                batch_size=2000,
                ignore_conflicts=True,  # already listed by an earlier run
            )


def _analyze() -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give a live node."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE cards_card; ANALYZE cards_resident; ANALYZE registry_listentry")


def seeded(limit: int = 50_000) -> tuple[list[tuple[str, str]], dict]:
    """The pairs of cards a previous run kept (--keep), and a new key: `--cards 0` benchmarks them again."""
    from cards.models import Card
    from institutions import actions as institution_actions
    from institutions.models import MedicalInstitution
    from registry.actors import Actor

    cards = Card.objects.filter(medical_institution__name=BENCH_TAG).only("card_no", "chip_serial")[:limit]
    pairs = [(card.card_no, card.chip_serial) for card in cards]
    hospital = MedicalInstitution.objects.get(name=BENCH_TAG)
    credential, secret = institution_actions.credential_issue(
        actor=Actor.system(label=BENCH_TAG), institution=hospital
    )
    return pairs, {"key_id": credential.key_id, "secret": secret}


def cleanup() -> None:
    from cards.models import Card, CardEvent, Resident

    residents = Resident.objects.filter(cards__medical_institution__name=BENCH_TAG).values("pk")
    CardEvent.objects.filter(resident__in=residents).delete()
    Card.objects.filter(medical_institution__name=BENCH_TAG).delete()
    Resident.objects.filter(pk__in=residents).delete()


# --- Load -----------------------------------------------------------------------------------------------------


def _signed(credential: dict, method: str, path: str, body: bytes = b"") -> dict:
    from institutions.signing import signed_headers

    return signed_headers(
        key_id=credential["key_id"],
        secret=credential["secret"],
        method=method,
        path_with_query=path,
        body=body,
    )


def _worker(args) -> list[float]:
    """One client process: `threads` keep-alive connections hammering `kind` until the deadline."""
    base_url, kind, pairs, credential, threads, deadline = args
    target = urlparse(base_url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        mine = []
        rng = random.Random()
        while time.time() < deadline:
            if errors:
                break
            if kind == "bare":
                path, headers = "/bench/bare", {}
            else:
                card_no, chip = rng.choice(pairs)
                path = f"/api/v1/hospital/cards/{card_no}/status?chip={chip}"
                headers = _signed(credential, "GET", path)
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
            except OSError as failure:
                with lock:
                    errors.append(f"{kind}: {failure!r}")
                break
            if response.status != 200:
                with lock:
                    errors.append(f"{kind}: HTTP {response.status}")
                break
            mine.append(time.perf_counter() - began)
        connection.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return latencies


def load(
    base_url: str, kind: str, *, pairs, credential, seconds: float, connections: int, processes: int
) -> dict:
    processes = max(1, min(processes, connections))
    per_process = [
        connections // processes + (1 if i < connections % processes else 0) for i in range(processes)
    ]
    deadline = time.time() + seconds
    jobs = [(base_url, kind, pairs, credential, threads, deadline) for threads in per_process]
    began = time.time()
    if processes == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            results = pool.map(_worker, jobs)
    elapsed = time.time() - began
    latencies = sorted(latency for result in results for latency in result)
    if not latencies:
        raise RuntimeError(f"{kind}: no request completed")
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


# wrk (C, event-driven) drives the server when installed: on a 2-core machine the load tool must not eat the CPU
# it measures. Each status request is signed beforehand (a unique nonce each: a nonce is accepted once), written
# to a file that every wrk thread reads its share of; the signing is the integrator's, not the load tool's work.
WRK_SCRIPT = r"""
local counter = 0
function setup(thread)
  thread:set("part", counter)
  counter = counter + 1
end

local requests, i = {}, 0
function init(args)
  local file, parts = args[1], tonumber(args[2])
  if not file then return end
  local n = 0
  for line in io.lines(file) do
    if n % parts == part then
      local path, key, stamp, nonce, signature = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
      requests[#requests + 1] = wrk.format("GET", path, {
        ["X-HC-Key"] = key, ["X-HC-Timestamp"] = stamp, ["X-HC-Nonce"] = nonce, ["X-HC-Signature"] = signature,
      })
    end
    n = n + 1
  end
end

function request()
  if #requests == 0 then return wrk.format("GET", wrk.path) end
  i = i + 1
  if i > #requests then i = 1 end  -- a replay: refused (401), counted as an error below
  return requests[i]
end

function done(summary, latency, requests)
  io.write(string.format(
    '\nWRK-JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "other_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _presign(path_of, credential: dict, count: int, target: Path) -> None:
    """`count` status requests, each signed with its own nonce: path, key, timestamp, nonce, signature a line."""
    from institutions.signing import signature

    stamp = str(int(time.time()))
    rng = random.Random()
    with target.open("w") as out:
        for number in range(count):
            path = path_of(rng)
            nonce = f"bench{number:011d}{rng.getrandbits(64):016x}"
            sign = signature(
                credential["secret"],
                method="GET",
                path_with_query=path,
                timestamp=stamp,
                nonce=nonce,
                body=b"",
            )
            out.write(f"{path}\t{credential['key_id']}\t{stamp}\t{nonce}\t{sign}\n")


def load_wrk(
    base_url: str,
    kind: str,
    *,
    pairs,
    credential,
    seconds: float,
    connections: int,
    threads: int,
    strict=True,
) -> dict:
    """The same figures as load(), measured by wrk."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    try:
        script = workdir / "signed.lua"
        script.write_text(WRK_SCRIPT)
        args = []
        if kind == "status":
            # More than wrk can send in the time (a request reused would be a replay, refused).
            count = int(max(20_000, 6_000 * seconds))
            _presign(
                lambda rng: "/api/v1/hospital/cards/{}/status?chip={}".format(*rng.choice(pairs)),
                credential,
                count,
                workdir / "requests.tsv",
            )
            args = ["--", str(workdir / "requests.tsv"), str(threads)]
        url = base_url + "/bench/bare"
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "--latency", "-s", str(script), url, *args]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
        output = done.stdout
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    line = next(line for line in output.splitlines() if line.startswith("WRK-JSON "))
    figures = json.loads(line.removeprefix("WRK-JSON "))
    if strict and (figures["status_errors"] or not figures["requests"]):
        raise RuntimeError(f"{kind}: wrk saw errors: {figures}\n{output}")
    return {
        "requests": figures["requests"],
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "status_errors": figures["status_errors"],
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "socket_errors": figures["other_errors"],
    }


def verify_batch_http(base_url: str, *, pairs, credential, calls: int, connections: int = 2) -> float:
    """Cards checked per second by `connections` front-end servers each sending its 1,000-card calls in turn.
    The bodies are built and signed beforehand and the answers parsed afterwards: the client's JSON work is not
    the server's speed (on a 2-core machine it would share the CPU being measured)."""
    target = urlparse(base_url)
    path = "/api/v1/hospital/cards/verify-batch"
    prepared = []
    for _call in range(calls):
        chunk = [
            {"card_no": card_no, "chip": chip}
            for card_no, chip in random.sample(pairs, min(1000, len(pairs)))
        ]
        body = json.dumps({"cards": chunk}).encode()
        prepared.append(
            (body, {**_signed(credential, "POST", path, body), "Content-Type": "application/json"})
        )
    answers: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def front_end(share) -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        for body, headers in share:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = (response.status, response.read())
            with lock:
                answers.append(answer)
        connection.close()

    connections = max(1, min(connections, calls))
    threads = [
        threading.Thread(target=front_end, args=(prepared[i::connections],)) for i in range(connections)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    checked = 0
    for status, raw in answers:
        answer = json.loads(raw)
        if status != 200:
            raise RuntimeError(f"verify-batch: HTTP {status} {answer}")
        checked += len(answer["results"])
    return checked / elapsed


def verify_batch_in_process(*, pairs, calls: int) -> float:
    """The selector verify-batch calls, alone: no HTTP, no JSON. The first call (connecting, preparing the
    statement) is not timed, nor is drawing the samples."""
    from exchange.hospital.cardstatus import card_status_codes

    samples = [random.sample(pairs, min(1000, len(pairs))) for _call in range(calls + 1)]
    card_status_codes(samples.pop())
    checked, began = 0, time.perf_counter()
    for sample in samples:
        checked += len(card_status_codes(sample)[0])
    return checked / (time.perf_counter() - began)


# --- Server ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn(workers: int, *, worker_class: str = "gthread", threads: int = 4, root: Path = ROOT):
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.bench.bench_settings", "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
    )
    # Ready when a worker answers (workers load Django after the master listens; slow on a busy machine).
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/bench/bare")
            if connection.getresponse().status == 200:
                connection.close()
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (gunicorn's master and workers)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def report(
    *,
    base_url: str,
    pairs,
    credential,
    seconds: float,
    connections: int,
    processes: int,
    server_pid: int = 0,
    tool: str = "python",
    batch_connections: int = 2,
) -> dict:
    from tests.bench.bench_holder_import import ServerCPU

    def run(kind: str, duration: float, *, warm_up: bool = False) -> dict:
        if tool == "wrk":
            return load_wrk(
                base_url,
                kind,
                pairs=pairs,
                credential=credential,
                seconds=duration,
                connections=connections,
                threads=processes,
                strict=not warm_up,  # the workers' first calls (imports, connections) may take it all
            )
        return load(
            base_url,
            kind,
            pairs=pairs,
            credential=credential,
            seconds=duration,
            connections=connections,
            processes=processes,
        )

    figures = {"load_tool": tool, "batch_connections": batch_connections}
    for kind in ("bare", "status"):
        run(kind, min(3.0, seconds), warm_up=True)  # warm-up: connections, caches, the workers' first queries
        app_before = process_tree_cpu(server_pid) if server_pid else 0.0
        with ServerCPU() as database_cpu:
            figures[kind] = run(kind, seconds)
        requests = figures[kind]["requests"]
        app_cpu = process_tree_cpu(server_pid) - app_before if server_pid else 0.0
        figures[kind]["app_cpu_ms"] = 1000 * app_cpu / requests
        figures[kind]["db_cpu_ms"] = 1000 * (database_cpu.seconds or 0.0) / requests  # None on SQLite
    figures["ratio"] = figures["status"]["rps"] / figures["bare"]["rps"]
    calls = max(10, int(4 * seconds))
    # Warm-up, as for the status: each server thread's first batch connects and prepares its statement.
    warm_until = time.time() + min(3.0, seconds)
    while time.time() < warm_until:
        verify_batch_http(base_url, pairs=pairs, credential=credential, calls=batch_connections)
    app_before = process_tree_cpu(server_pid) if server_pid else 0.0
    with ServerCPU() as database_cpu:
        figures["batch_http_cards_s"] = verify_batch_http(
            base_url, pairs=pairs, credential=credential, calls=calls, connections=batch_connections
        )
    if server_pid:
        figures["batch_app_cpu_ms"] = 1000 * (process_tree_cpu(server_pid) - app_before) / calls
    figures["batch_db_cpu_ms"] = 1000 * (database_cpu.seconds or 0.0) / calls  # per 1,000-card call
    figures["batch_inprocess_cards_s"] = verify_batch_in_process(pairs=pairs, calls=calls)
    return figures


def print_figures(figures: dict, *, connections: int) -> None:
    for kind in ("bare", "status"):
        row = figures[kind]
        print(  # noqa: T201
            f"{kind:>7}: {row['rps']:9.0f} req/s  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms  "
            f"({row['requests']} requests, {connections} connections)"
        )
        print(  # noqa: T201
            f"{'':>7}  CPU per request: gunicorn {row.get('app_cpu_ms', 0):.2f} ms, "
            f"PostgreSQL {row.get('db_cpu_ms', 0):.2f} ms"
        )
    print(f"  ratio: status / bare = {figures['ratio']:.0%} (target >= 60%; p99 target < 50 ms)")  # noqa: T201
    print(  # noqa: T201
        f"  verify-batch over HTTP: {figures['batch_http_cards_s']:,.0f} cards/s "
        f"({figures.get('batch_connections', 1)} callers at once; target >= 50,000)"
    )
    print(  # noqa: T201
        f"{'':>7}  CPU per 1,000-card call: gunicorn {figures.get('batch_app_cpu_ms', 0):.1f} ms, "
        f"PostgreSQL {figures.get('batch_db_cpu_ms', 0):.1f} ms"
    )
    print(f"  verify-batch selector in-process: {figures['batch_inprocess_cards_s']:,.0f} cards/s")  # noqa: T201


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cards", type=int, default=20_000, help="cards to seed; 0: reuse those a --keep run left"
    )
    parser.add_argument("--blacklist", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) * 2)
    parser.add_argument(
        "--clients",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="client processes sharing the connections",
    )
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--batch-connections", type=int, default=2, help="verify-batch callers at once")
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load tool: wrk when installed (auto), else this script's own client processes",
    )
    parser.add_argument("--worker-class", default="gthread", help="gunicorn's, for both views")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread)")
    parser.add_argument(
        "--server-root",
        type=Path,
        default=ROOT,
        help="the checkout gunicorn serves (before/after comparisons)",
    )
    args = parser.parse_args(argv)
    tool = ("wrk" if wrk_available() else "python") if args.tool == "auto" else args.tool
    setup()
    from django.db import connection

    began = time.time()
    if args.cards:
        pairs, credential = seed(cards=args.cards, blacklist=min(args.blacklist, args.cards))
        print(f"seeded {args.cards:,} cards on {connection.vendor} in {time.time() - began:.1f} s")  # noqa: T201
    else:
        pairs, credential = seeded()
        print(f"using {len(pairs):,} cards kept by an earlier run, on {connection.vendor}")  # noqa: T201
    from cards.models import Card

    print(f"{Card.objects.count():,} cards in the database")  # noqa: T201
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")  # noqa: T201
    connection.close()
    server, base_url = gunicorn(
        args.workers, worker_class=args.worker_class, threads=args.threads, root=args.server_root
    )
    print(  # noqa: T201
        f"gunicorn: {args.workers} workers, {args.worker_class}, {args.threads} threads; load tool {tool}, "
        f"{args.connections} connections"
    )
    try:
        figures = report(
            tool=tool,
            batch_connections=args.batch_connections,
            base_url=base_url,
            pairs=pairs,
            credential=credential,
            seconds=args.seconds,
            connections=args.connections,
            processes=args.clients,
            server_pid=server.pid,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures["load_average"] = os.getloadavg()
    print_figures(figures, connections=args.connections)
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")  # noqa: T201
    if not args.keep:
        cleanup()
    return figures


if __name__ == "__main__":
    main()
