"""Realistic bulk data for benchmarks and scale tests (`manage.py generate`): holders, their cards, the cards'
events, card use records, blacklist entries and the institutions they refer to.

Rows are written as an import writes them (cards.actions.holders: COPY on PostgreSQL, executemany elsewhere;
personal fields sealed by BulkSealer, blind indexes by BlindIndexer), so what reads them cannot tell them from
real ones. Not journaled and not folded into the statistics: this is a benchmark's data set, not a registration.

Identity numbers are valid for python-stdnum's cn.ric, birth place included: only counties whose code stdnum
knows for every birth year generated are used (Faker's zh_CN ssn() is not). Each holder's number is unique by
construction: the k-th holder of a county gets a birth day and sequence number that no other k has (a
permutation of the days times the sequence), and k continues from the county's existing holders, so running
the command again adds holders rather than colliding with the last run's.

Distributions: provinces by population (2020 census, millions), counties uniformly within a province; birth
dates uniform 1935-2022; card states as a mature registry has them (mostly active; some awaiting collection,
in stock, dispatched, cancelled; the blacklisted ones lost). Cards beyond the number of holders are older,
replaced cards of the first holders.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, connections, transaction
from django.utils import timezone

# Population in millions by province code (7th census, 2020).
PROVINCE_WEIGHTS = {
    "11": 21.9, "12": 13.9, "13": 74.6, "14": 34.9, "15": 24.0, "21": 42.6, "22": 24.1, "23": 31.9,
    "31": 24.9, "32": 84.7, "33": 64.6, "34": 61.0, "35": 41.5, "36": 45.2, "37": 101.5, "41": 99.4,
    "42": 57.8, "43": 66.4, "44": 126.0, "45": 50.1, "46": 10.1, "50": 32.1, "51": 83.7, "52": 38.6,
    "53": 47.2, "54": 3.6, "61": 39.5, "62": 25.0, "63": 5.9, "64": 7.2, "65": 25.9,
}  # fmt: skip
# Card states of the non-blacklisted current cards (a mature registry: most cards collected and in use).
STATE_WEIGHTS = {
    "active": 0.90,
    "awaiting_collection": 0.03,
    "in_stock": 0.02,
    "dispatched": 0.01,
    "issuing": 0.005,
    "cancelled": 0.035,
}
COLLECTED = frozenset({"active", "lost", "cancelled", "replaced"})
FIRST_BORN, LAST_BORN = dt.date(1935, 1, 1), dt.date(2022, 12, 31)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏辉建国文斌宇浩凯健俊帆欣怡佳琪子涵雨轩晨"
SCENARIOS = ("registration", "consultation", "pharmacy", "lab", "settlement")
LABEL = "generate"
MIX = (
    0x9E3779B97F4A7C15  # odd: multiplying by it modulo 2**64 is a bijection (chip serials unique per card id)
)


def valid_years(code: str) -> tuple[int, int] | None:
    """The longest run of birth years (within FIRST_BORN..LAST_BORN) stdnum's cn.ric accepts county `code` for,
    from its county table (stdnum.cn loc.dat: "[1983-]雁塔区" exists from 1983); None: never, or under 10 years."""
    from stdnum import numdb

    info = {key: text for _part, props in numdb.get("cn/loc").info(code) for key, text in props.items()}
    if "county" not in info:
        return None
    years = set()
    for name in info["county"].split(","):
        if not name.startswith("["):
            return FIRST_BORN.year, LAST_BORN.year
        start, end = name[1:].split("]")[0].split("-")
        years.update(range(int(start or FIRST_BORN.year), int(end or LAST_BORN.year) + 1))
    best, run = None, None
    for year in range(FIRST_BORN.year, LAST_BORN.year + 2):
        if year in years:
            run = (run[0], year) if run else (year, year)
        elif run:
            if best is None or run[1] - run[0] > best[1] - best[0]:
                best = run
            run = None
    return best if best and best[1] - best[0] >= 9 else None


def valid_counties(prefix: str = "") -> dict[str, tuple[int, int]]:
    """County codes under `prefix` that stdnum's cn.ric knows, with the birth years it accepts them for."""
    from registry.models import Region

    codes = Region.objects.filter(level="county", code__startswith=prefix).values_list("code", flat=True)
    found = {code: valid_years(code) for code in codes}
    return {code: years for code, years in found.items() if years}


def county_weights(counties: list[str]) -> list[float]:
    """Each county's share: its province's population spread evenly over the province's counties."""
    per_province: dict[str, int] = {}
    for code in counties:
        per_province[code[:2]] = per_province.get(code[:2], 0) + 1
    return [PROVINCE_WEIGHTS.get(code[:2], 1.0) / per_province[code[:2]] for code in counties]


@dataclass
class Plan:
    """What one worker writes: a range of holder and card ids, and its share of the uses and blacklist entries."""

    worker: int
    workers: int
    holder_ids: range
    card_ids: range
    holders_total: int
    first_holder: int
    uses: int
    blacklist: int
    blacklist_first: int  # its first blacklist number (the counter was taken before the workers started)
    counties: dict[str, tuple[int, int]]  # county: its valid birth years
    weights: list[float]
    known: dict[str, int]  # holders per county before this run
    institutions: list[tuple[int, str, str, int]]  # (id, code, region, use batch id)
    seed: int
    now: dt.datetime
    node: str
    counts: dict[str, int] = field(default_factory=dict)


def _copy_value(value) -> str:
    """A column value in COPY text format (\\N for NULL). A plain function: the per-row path must not look up
    `connection` (Django's connection proxy costs more than building the row)."""
    return "\\N" if value is None else str(value)


def _same(value):
    return value


class _DayStamps:
    """Timestamps and dates `days` days before `now`, formatted once per day rather than once per row."""

    def __init__(self, now: dt.datetime, stamp, earliest: int, latest: int):
        self.first = earliest
        self.moments = [stamp(now - dt.timedelta(days=days)) for days in range(earliest, latest + 1)]
        self.dates = [
            (now - dt.timedelta(days=days)).date().isoformat() for days in range(earliest, latest + 1)
        ]


def run_plan(plan: Plan) -> dict[str, int]:
    """Write one worker's rows in one transaction; returns the rows written per table."""
    from bisect import bisect
    from itertools import accumulate

    from stdnum.cn import ric

    from cards.actions.holders import BlindIndexer, BulkSealer, _Writer
    from cards.models import Card, CardEvent, CardUse, Resident
    from registry.lists import card_subject
    from registry.models import ListEntry

    rng = random.Random(plan.seed * 1000 + plan.worker)
    # int(random_() * n) rather than randrange(n) in the per-row paths: uniform enough here, a fifth of the cost.
    random_ = rng.random
    sealer, indexer = BulkSealer(), BlindIndexer("id_number")
    seal, index_of, check_digit = sealer.seal, indexer.index, ric.calc_check_digit
    context = {
        name: Resident._meta.get_field(name).seal_context.encode() for name in ("name", "document_number")
    }
    name_context, number_context = context["name"], context["document_number"]
    card_context = Card._meta.get_field("card_no").seal_context.encode()
    postgres = connection.vendor == "postgresql"
    value = _copy_value if postgres else _same
    null = value(None)
    stamp = (lambda moment: moment.isoformat()) if postgres else connection.ops.adapt_datetimefield_value
    # Day offsets before now (negative: after): holders 0..3649, cards 30..3649, collected 7..29 days after,
    # changed up to 400 days after that, expiring 3652 days after collection.
    days_ago = _DayStamps(plan.now, stamp, -3700, 3650)
    moments, day_dates, first_day = days_ago.moments, days_ago.dates, days_ago.first
    # Birth days as ID-number text and as dates, formatted once.
    born_days = (LAST_BORN - FIRST_BORN).days + 1
    born_compact = [f"{FIRST_BORN + dt.timedelta(days=d):%Y%m%d}" for d in range(born_days)]
    born_iso = [(FIRST_BORN + dt.timedelta(days=d)).isoformat() for d in range(born_days)]
    spans = {}  # county: (its first birth day's offset from FIRST_BORN, number of days, a step permuting the days)
    for county, (first, last) in plan.counties.items():
        start = dt.date(first, 1, 1)
        days = (dt.date(last, 12, 31) - start).days + 1
        step = next(p for p in range(7919, 10**6) if math.gcd(p, days) == 1)
        spans[county] = ((start - FIRST_BORN).days, days, step, int(county))
    per_county: dict[str, int] = {}
    cum = list(_cumulative(plan.weights))
    counts = {"holders": 0, "cards": 0, "events": 0, "uses": 0, "blacklist": 0}
    holders: list[tuple[int, str, str, str]] = []  # (id, number, index, county) of this worker's holders
    resident_columns = (
        "id", "name", "document_type", "document_number", "document_index", "sex", "ethnicity", "birth_date",
        "region_id", "address1_type", "address1", "address2_type", "address2", "phone1", "phone2", "contacts",
        "education", "marital_status", "occupation", "health_record_no", "rural_coop_no", "created_at",
        "changed_at",
    )  # fmt: skip
    card_columns = (
        "id", "card_no", "card_index", "chip_serial", "status", "status_changed_at", "status_reason",
        "collected_at", "expires_on", "created_at", "region_id", "resident_id", "medical_institution_id",
    )  # fmt: skip
    event_columns = (
        "kind", "at", "actor_label", "channel", "institution_code", "institution_name", "reason", "data",
        "card_id", "region_id", "resident_id",
    )  # fmt: skip
    use_columns = (
        "line", "used_at", "card_index", "chip_serial", "scenario", "status", "reason", "card_id", "institution_id",
        "region_id", "batch_id",
    )  # fmt: skip
    entry_columns = (
        "list_name", "entry_type", "subject", "reason", "permanent", "label", "object_ref", "note", "origin_node",
        "added_number", "added_at", "added_by", "removed_by", "removed_note", "region_id",
    )  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            # This transaction's own commit need not wait for the disk: a lost data set is generated again.
            cursor.execute("SET LOCAL synchronous_commit = off")
        opened = [None]  # the writer whose COPY is open: an error must end it before the rollback
        try:
            writer = opened[0] = _Writer(cursor, Resident._meta.db_table, resident_columns)
            add = writer.add
            counties = list(plan.counties)
            picks = rng.choices(range(len(counties)), cum_weights=cum, k=len(plan.holder_ids))
            known, workers, worker = plan.known, plan.workers, plan.worker
            surnames, given = len(SURNAMES), len(GIVEN)
            for holder_id, pick in zip(plan.holder_ids, picks, strict=True):
                county = counties[pick]
                seen = per_county.get(county, 0)
                k = known.get(county, 0) + seen * workers + worker
                per_county[county] = seen + 1
                first_born, days, step, county_number = spans[county]
                born = first_born + (k * step + county_number) % days
                male = random_() < 0.51
                sequence = (k // days) * 2 + (1 if male else 0)
                body = f"{county}{born_compact[born]}{sequence:03d}"
                number = body + check_digit(body + "0")
                index = index_of(number, normalised=True)
                name = SURNAMES[int(random_() * surnames)] + GIVEN[int(random_() * given)]
                if random_() >= 0.3:
                    name += GIVEN[int(random_() * given)]
                created = moments[int(random_() * 3650) - first_day]
                add(
                    (
                        value(holder_id), seal(name, name_context), "01", seal(number, number_context),
                        index, "1" if male else "2", "01", born_iso[born], county, "", "", "", "", "", "", "", "",
                        "", "", "", "", created, created,
                    )
                )  # fmt: skip
                holders.append((holder_id, number, index, county))
            writer.finish()
            writer = opened[0] = None
            counts["holders"] = len(holders)

            # Cards: the first len(holders) are the holders' current cards; any beyond, older (replaced) ones.
            cards: list[
                tuple[int, str, str, str, str, int]
            ] = []  # (id, number, index, chip, county, holder id)
            writer = opened[0] = _Writer(cursor, Card._meta.db_table, card_columns)
            add = writer.add
            events = []
            blacklisted = 0
            states = list(STATE_WEIGHTS)
            state_cum = list(accumulate(STATE_WEIGHTS.values()))
            state_cum[-1] = 1.0  # rounding must not leave random() above the last bound
            institutions = plan.institutions
            issuers = [value(institution[0]) for institution in institutions]
            reasons = {"cancelled": "death", "replaced": "lost"}
            closing = {"lost": "loss_reported", "cancelled": "cancelled", "replaced": "replaced"}
            held = len(holders)
            for position, card_id in enumerate(plan.card_ids):
                if not holders:
                    break
                holder_id, number, index, county = holders[position % held]
                if position >= held:
                    state = "replaced"
                elif blacklisted < plan.blacklist:
                    state, blacklisted = "lost", blacklisted + 1
                else:
                    state = states[bisect(state_cum, random_())]
                chip = f"{(card_id * MIX) & 0xFFFFFFFFFFFFFFFF:016X}"
                created = 30 + int(random_() * 3620)  # days ago
                collected = created - 7 - int(random_() * 23) if state in COLLECTED else None
                changed = (
                    collected - 1 - int(random_() * 399)
                    if state in closing
                    else (created if collected is None else collected)
                )
                issuer = issuers[card_id % len(issuers)] if issuers and collected is not None else None
                card_text, holder_text = value(card_id), value(holder_id)  # once: its events repeat them
                add(
                    (
                        card_text, seal(number, card_context), index, chip, state, moments[changed - first_day],
                        reasons.get(state, ""), null if collected is None else moments[collected - first_day],
                        null if collected is None else day_dates[collected - 3652 - first_day], moments[created - first_day],
                        county, holder_text, value(issuer),
                    )
                )  # fmt: skip
                cards.append((card_id, number, index, chip, county, holder_id))
                events.append(("applied", created, card_text, county, holder_text))
                if collected is not None:
                    events.append(("collected", collected, card_text, county, holder_text))
                if state in closing:
                    events.append((closing[state], changed, card_text, county, holder_text))
            writer.finish()
            writer = opened[0] = None
            counts["cards"] = len(cards)

            writer = opened[0] = _Writer(cursor, CardEvent._meta.db_table, event_columns)
            add = writer.add
            for kind, at, card_text, county, holder_text in events:
                add(
                    (
                        kind,
                        moments[at - first_day],
                        LABEL,
                        "command",
                        "",
                        "",
                        "",
                        "{}",
                        card_text,
                        county,
                        holder_text,
                    )
                )
            writer.finish()
            writer = opened[0] = None
            counts["events"] = len(events)
            del events

            if plan.blacklist and cards:
                writer = opened[0] = _Writer(cursor, ListEntry._meta.db_table, entry_columns)
                added = stamp(plan.now)
                permanent = "f" if postgres else False
                for offset, (_card_id, number, _index, chip, county, _holder) in enumerate(
                    cards[:blacklisted]
                ):
                    writer.add(
                        tuple(
                            value(v)
                            for v in (
                                "blacklist", "card", card_subject(number, chip), "lost", permanent, LABEL, "", "",
                                plan.node, plan.blacklist_first + offset, added, LABEL, "", "", county,
                            )
                        )
                    )  # fmt: skip
                writer.finish()
                writer = opened[0] = None
                counts["blacklist"] = blacklisted

            if plan.uses and cards and institutions:
                writer = opened[0] = _Writer(cursor, CardUse._meta.db_table, use_columns)
                for line in range(plan.uses):
                    card_id, _number, index, chip, _county, _holder = cards[int(random_() * len(cards))]
                    institution_id, _code, region, batch = institutions[int(random_() * len(institutions))]
                    used = plan.now - dt.timedelta(seconds=int(random_() * 365 * 86400))
                    writer.add(
                        tuple(
                            value(v)
                            for v in (
                                plan.worker * plan.uses + line, stamp(used), index, chip, rng.choice(SCENARIOS),
                                "accepted", "", card_id, institution_id, region, batch,
                            )
                        )
                    )  # fmt: skip
                writer.finish()
                writer = opened[0] = None
                counts["uses"] = plan.uses
        except BaseException as error:
            if opened[0] is not None:
                opened[0].finish(error)
            raise
    return counts


def _cumulative(weights):
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def _run_in_child(plan: Plan) -> dict[str, int]:
    connections.close_all()  # the parent's connection must not be shared: this process opens its own
    try:
        return run_plan(plan)
    finally:
        connections.close_all()


LOADED_TABLES = ("cards_resident", "cards_card", "cards_cardevent", "cards_carduse", "registry_listentry")
# The rebuild after a deferred load: this many connections at once, each building one index at a time with this
# much memory (10M cards' largest sort, the events' (region, kind, at), stays in memory: no merge passes on disk).
# Two whole builds side by side use two cores better than one build with parallel workers, which splits the
# memory and merges their runs at the end.
REBUILD_CONNECTIONS = 2
REBUILD_MEMORY = "2GB"


def _run_jobs(jobs: list[tuple[float, tuple[str, ...]]]) -> None:
    """Each job's statements in order on a connection of its own, REBUILD_CONNECTIONS jobs at a time, the
    costliest first (so the last job to finish is a short one); raises the first error after all have run."""
    from concurrent.futures import ThreadPoolExecutor

    def run(statements: tuple[str, ...]) -> None:
        try:  # a thread's `connection` is its own
            with connection.cursor() as cursor:
                cursor.execute(f"SET maintenance_work_mem = '{REBUILD_MEMORY}'")
                cursor.execute("SET max_parallel_maintenance_workers = 0")
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    ordered = [statements for _cost, statements in sorted(jobs, key=lambda job: -job[0])]
    with ThreadPoolExecutor(REBUILD_CONNECTIONS) as pool:
        for future in [pool.submit(run, statements) for statements in ordered]:
            future.result()


def tables_analyze(tables: tuple[str, ...], *, together: bool = False) -> None:
    """ANALYZE the tables (after a load the planner still thinks them small); `together`: on connections of
    their own, side by side."""
    if together:
        _run_jobs([(0.0, (f"ANALYZE {table}",)) for table in tables])
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")  # noqa: S608


@contextmanager
def indexes_deferred(rows: dict[str, int], timings: dict | None = None):
    """PostgreSQL: the tables' (`rows`: table: rows the body loads) secondary indexes, unique and foreign-key
    constraints dropped while the body loads, and made again after it; yields whether it dropped them (then it
    has ANALYZEd the tables too).

    Why: keeping a dozen btrees of random keys (blind indexes, chip serials) current row by row, and checking
    each row's foreign keys at commit one lookup at a time, costs the server more than the load itself; one
    sorted build per index and one join per foreign key cost a fraction. The builds run two at a time in memory
    (`_run_jobs`); the tables are ANALYZEd before the foreign keys are checked, so a column the load left empty
    (an application, a stock-in) is checked through its new index rather than by a scan. Each foreign key is
    added NOT VALID, then validated (the same check of every row, ending in the same constraint; validating
    locks only its own table, so two tables' checks run side by side); each unique constraint is its index,
    built with the others, then attached (ADD CONSTRAINT ... USING INDEX). Nothing that would have been refused
    gets in. Only when the load at least doubles the tables (on a large table, rebuilding costs more than it
    saves) and outside a transaction (the workers write on connections of their own and must not wait for this
    one's locks). Primary keys stay (ids are appended). Killed in between, it leaves the tables without them
    (`migrate` does not restore them): generate into a scratch database."""
    tables = list(rows)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield False
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(GREATEST(reltuples, 0)), 0) FROM pg_class WHERE oid = ANY(%s::regclass[])",
            [tables],
        )
        if sum(rows.values()) < cursor.fetchone()[0]:
            yield False
            return
        cursor.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype,
                      pg_get_indexdef(conindid), array_length(conkey, 1) FROM pg_constraint
               WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u') ORDER BY contype, conname""",
            [tables],
        )
        constraints = cursor.fetchall()  # foreign keys first ('f' < 'u'): a unique one may back one
        cursor.execute(
            """SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
                      i.indnatts FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT EXISTS (
                   SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
               ORDER BY 1, 2""",
            [tables],
        )
        indexes = cursor.fetchall()
        with transaction.atomic():
            for table, name, _definition, _type, _index, _columns in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for _table, name, _definition, _columns in indexes:
                cursor.execute(f"DROP INDEX {name}")
    try:
        yield True
    finally:
        began = time.perf_counter()
        # An index's cost: its table's rows times its columns (a sort's comparisons); the largest go first.
        _run_jobs(
            [(rows[table] * columns, (definition,)) for table, _name, definition, columns in indexes]
            + [(rows[table] * columns, (index,)) for table, _name, _def, kind, index, columns in constraints if kind == "u"]
        )  # fmt: skip
        if timings is not None:
            timings["index build"] = time.perf_counter() - began
        began = time.perf_counter()
        tables_analyze(tuple(tables), together=True)
        if timings is not None:
            timings["analyze"] = time.perf_counter() - began
        began = time.perf_counter()
        keys: dict[str, list[str]] = {}  # table: its foreign keys, to validate
        with connection.cursor() as cursor, transaction.atomic():
            for table, name, definition, kind, _index, _columns in constraints:
                if kind == "u":
                    deferral = (
                        definition[definition.find(" DEFERRABLE") :] if " DEFERRABLE" in definition else ""
                    )
                    cursor.execute(
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" UNIQUE USING INDEX "{name}"{deferral}'
                    )
            for table, name, definition, kind, _index, _columns in constraints:
                if kind == "f":
                    cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID')
                    keys.setdefault(table, []).append(f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"')
        _run_jobs([(rows[table] * len(checks), tuple(checks)) for table, checks in keys.items()])
        if timings is not None:
            timings["constraints"] = time.perf_counter() - began


def _reserve_ids(model, count: int) -> int:
    """Reserve `count` ids of model's table; returns the first (PostgreSQL: the identity sequence moves past)."""
    from django.db.models import Max

    table = model._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")  # noqa: S608
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
            first = cursor.fetchone()[0] + 1
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, first + count])
        return first
    return (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1


def institutions_make(count: int, counties: list[str], weights: list[float], rng: random.Random) -> list:
    """`count` medical institutions (registered as an administrator would), each with a card use batch."""
    from stdnum.cn import uscc

    from cards.models import CardUseBatch
    from institutions.actions import organisation_register
    from institutions.models import MedicalInstitution
    from registry.actors import Actor
    from registry.models import Region

    actor = Actor.system(label=LABEL)
    made = []
    existing = MedicalInstitution.objects.filter(name__startswith="生成").count()
    for number in range(existing, existing + count):
        county = rng.choices(counties, weights)[0]
        body = f"12{county}GEN{number:06d}"[:17]
        institution = organisation_register(
            actor=actor,
            model=MedicalInstitution,
            code=body + uscc.calc_check_digit(body),
            region=Region.objects.get(code=county),
            name=f"生成{number:05d}号医院",
            nature="public",
            category="general_hospital",
            grade=rng.choice(["1a", "2a", "3a"]),
        )
        batch = CardUseBatch.objects.create(
            institution=institution,
            batch_id=f"{LABEL}-{number}",
            region_id=county,
            digest="0" * 64,
            record_count=0,
            accepted_count=0,
            duplicate_count=0,
            rejected_count=0,
            received_at=timezone.now(),
        )
        made.append((institution.pk, institution.code, county, batch.pk))
    if not made:
        for institution in MedicalInstitution.objects.filter(name__startswith="生成"):
            batch = CardUseBatch.objects.filter(institution=institution).first()
            if batch is not None:
                made.append((institution.pk, institution.code, institution.region_id, batch.pk))
    return made


def generate(
    *,
    cards: int,
    holders: int | None = None,
    institutions: int = 20,
    uses: int = 0,
    blacklist: int = 0,
    region: str = "",
    workers: int = 1,
    seed: int = 2026,
    timings: dict | None = None,
) -> dict[str, int]:
    """Write the data set; returns the rows written per table (see the module's doc). `timings`, if given,
    receives the seconds each stage took."""
    from django.db.models import Count

    from cards.models import Card, CardUseBatch, Resident
    from registry.journal import counter_take
    from registry.scope import node_prefix

    holders = cards if holders is None else holders
    prefix = region or node_prefix()
    counties = valid_counties(prefix)
    if not counties:
        raise ValueError(f"no county under {prefix!r} that stdnum accepts")
    weights = county_weights(list(counties))
    rng = random.Random(seed)
    made = institutions_make(institutions, list(counties), weights, rng) if institutions or uses else []
    counted = Resident.objects.filter(region_id__in=counties).values("region_id").annotate(n=Count("id"))
    # Each county's holder numbering continues past its existing holders (see the module's doc): past twice
    # their number, as a previous run's workers may have numbered a county's holders unevenly (k = j W + w).
    known = {row["region_id"]: 2 * row["n"] + 64 for row in counted}
    # Workers are processes with connections of their own: PostgreSQL only, and not inside a caller's
    # transaction (they would not see its rows, and closing connections would end it).
    parallel = connection.vendor == "postgresql" and not connection.in_atomic_block
    workers = max(1, workers if parallel else 1)
    now = timezone.now()
    with transaction.atomic():
        first_holder = _reserve_ids(Resident, holders)
        first_card = _reserve_ids(Card, cards)
        first_number = counter_take("list:blacklist", blacklist) if blacklist else 0
    plans = []
    for worker in range(workers):
        h0, h1 = holders * worker // workers, holders * (worker + 1) // workers
        c0, c1 = cards * worker // workers, cards * (worker + 1) // workers
        b0, b1 = blacklist * worker // workers, blacklist * (worker + 1) // workers
        plans.append(
            Plan(
                worker=worker,
                workers=workers,
                holder_ids=range(first_holder + h0, first_holder + h1),
                card_ids=range(first_card + c0, first_card + c1),
                holders_total=holders,
                first_holder=first_holder,
                uses=uses * (worker + 1) // workers - uses * worker // workers,
                blacklist=b1 - b0,
                blacklist_first=first_number + b0,
                counties=counties,
                weights=weights,
                known=known,
                institutions=made,
                seed=seed,
                now=now,
                node=prefix.ljust(6, "0") if prefix else "100000",
            )
        )
    # Workers and a deferred index build need connections of their own: not inside a caller's transaction.
    timings = {} if timings is None else timings
    began = time.perf_counter()
    # Rows per table (about two events per card).
    loads = dict(zip(LOADED_TABLES, (holders, cards, cards * 2, uses, blacklist), strict=True))
    with indexes_deferred(loads, timings) as deferred:
        if workers == 1:
            results = [run_plan(plans[0])]
        else:
            import multiprocessing

            connections.close_all()
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.map(_run_in_child, plans)
        timings["rows"] = time.perf_counter() - began
    totals = {name: sum(result[name] for result in results) for name in results[0]}
    totals["institutions"] = len(made) if institutions else 0
    if uses and made:
        CardUseBatch.objects.filter(pk__in=[batch for *_rest, batch in made]).update(
            record_count=uses // max(len(made), 1), accepted_count=uses // max(len(made), 1)
        )
    if connection.vendor == "postgresql" and not deferred:
        began = time.perf_counter()
        tables_analyze(LOADED_TABLES)
        timings["analyze"] = time.perf_counter() - began
    return totals
