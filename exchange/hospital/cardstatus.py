"""The card check every hospital makes at every visit: what state is this physical card (card number + chip
serial) in here, checked against the current blacklist. One query for the cards, one for the list entries,
however many pairs are asked (verify-batch checks a thousand at once)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections

try:
    from django.db.backends.postgresql.base import ServerBindingCursor
except ImportError:  # psycopg 3 not installed (SQLite-only setups)
    PreparingCursor = None
else:

    class PreparingCursor(ServerBindingCursor):
        """Binds on the server and prepares every statement it runs (Django turns psycopg's automatic
        preparation off): the statement is planned once per connection, then only executed."""

        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)


from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from cards.actions.holders import clean_id_number
from cards.choices import CardStatus
from cards.models import Card
from exchange.hospital import lists
from registry.errors import DomainError
from registry.models import Counter, ListEntry
from registry.protection import blind_indexes

ID_FAMILY = "id_number"
C = CardStatus


class Code:
    """The answers, stable and documented (docs/hospital-api.md): one per distinct situation."""

    ACTIVE = "active"
    EXPIRED = "expired"
    NOT_ISSUED = "not_issued"
    LOST = "lost"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    BLACKLISTED_CARD = "blacklisted_card"
    BLACKLISTED_PERSON = "blacklisted_person"
    UNKNOWN_HERE = "unknown_here"
    INVALID = "invalid"


MESSAGES = {
    Code.ACTIVE: _("The card is active: it may be used."),
    Code.EXPIRED: _("The card has passed its expiry date: ask the holder to renew it."),
    Code.NOT_ISSUED: _("The card has not been handed to its holder yet: it may not be used."),
    Code.LOST: _("The card was reported lost (on hold): it may not be used until the loss is revoked."),
    Code.CANCELLED: _("The card is cancelled: it may not be used."),
    Code.REPLACED: _("The card was replaced by a newer card: only the new card may be used."),
    Code.BLACKLISTED_CARD: _("The card is on the blacklist: it may not be used."),
    Code.BLACKLISTED_PERSON: _("The holder is on the blacklist: the card may not be used."),
    Code.UNKNOWN_HERE: _(
        "This card is not known on this node (it may not have synced yet): check again later."
    ),
    Code.INVALID: _("The card number is not a valid resident ID number."),
}
USABLE = {Code.ACTIVE}
STATUS_CODES = {
    C.ACTIVE: Code.ACTIVE,
    C.LOST: Code.LOST,
    C.CANCELLED: Code.CANCELLED,
    C.REPLACED: Code.REPLACED,
    C.ISSUING: Code.NOT_ISSUED,
    C.IN_STOCK: Code.NOT_ISSUED,
    C.DISPATCHED: Code.NOT_ISSUED,
    C.AWAITING_COLLECTION: Code.NOT_ISSUED,
}
PERMANENT = {Code.CANCELLED, Code.REPLACED}
SEPARATORS = re.compile(r"[\s:-]+")
# The columns of a card's row as _read returns it (after the part and the blind index).
SERIAL, STATUS, SINCE, EXPIRES, PK = 2, 3, 4, 5, 6


@dataclass(frozen=True, slots=True)
class CardCheck:
    card_no: str
    chip: str
    code: str
    card_status: str | None = None
    status_since: object = None
    expires_on: object = None

    @property
    def usable(self) -> bool:
        return self.code in USABLE


def normal_card_no(value: str) -> str:
    return (value or "").strip().upper()


def normal_chip(value: str) -> str:
    return SEPARATORS.sub("", value or "").upper()


def _valid_id_number(card_no: str) -> bool:
    try:
        clean_id_number(card_no)
    except DomainError:
        return False
    return True


def card_status_check(pairs: list[tuple[str, str]]) -> list[CardCheck]:
    """One CardCheck per (card number, chip serial) pair, in order. An empty chip means "the holder's card"."""
    return card_status_check_numbered(pairs)[0]


def card_status_check_numbered(
    pairs: list[tuple[str, str]], *, detail: bool = True
) -> tuple[list[CardCheck], int]:
    """The checks and the blacklist number they were made against, read in one query (so they agree).
    `detail=False` leaves out the status change time, which only the single check shows."""
    found, number = _look_up(pairs, detail)
    return [_card_check(card_no, chip, code, row) for card_no, chip, code, row in found], number


def _card_check(card_no: str, chip: str, code: str, row) -> CardCheck:
    """The check for one pair from its code and the card's row as read (None: no card picked)."""
    if row is None:
        return CardCheck(card_no, chip, code)
    return CardCheck(
        card_no, row[SERIAL] or chip, code, row[STATUS], _datetime(row[SINCE]), _date(row[EXPIRES])
    )


def card_status_codes(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str, str]], int]:
    """verify-batch's form of the checks: (card number, chip serial, code) per pair, in order, and the blacklist
    number; no CardCheck per card (a thousand a call)."""
    found, number = _look_up(pairs, detail=False)
    return [(card_no, chip, code) for card_no, chip, code, _row in found], number


def _look_up(pairs, detail: bool) -> tuple[list[tuple], int]:
    """(card number, chip, code, the card's row or None) per pair, normalised, and the list number. The blind
    index and the holder's subject are computed once per distinct number."""
    normal = []
    for card_no, chip in pairs:
        chip = chip or ""
        # normal_chip without its regular expression for the usual serial (letters and digits only)
        normal.append((normal_card_no(card_no), chip.upper() if chip.isalnum() else normal_chip(chip)))
    index_of = blind_indexes({card_no for card_no, _chip in normal if card_no}, family=ID_FAMILY)
    person_of = lists.person_subjects(index_of)
    card_of = lists.card_subjects({pair for pair in normal if pair[0] and pair[1]})
    cards, listed, number = _read(index_of.values(), {*person_of.values(), *card_of.values()}, detail)
    today = timezone.localdate()
    found = []
    for card_no, chip in normal:
        if not card_no:
            found.append((card_no, chip, Code.INVALID, None))
            continue
        candidates = cards.get(index_of[card_no], ())
        if listed:  # rarely: one of these subjects is on the list
            person_listed = person_of[card_no] in listed
            card_reason = listed.get(card_of[card_no, chip]) if chip else None
        else:
            person_listed, card_reason = False, None
        row = _pick(candidates, chip) if candidates else None
        code = _code(card_no, row, bool(candidates), person_listed, card_reason, today)
        found.append(
            (card_no, chip, code, None) if row is None else (card_no, row[SERIAL] or chip, code, row)
        )
    return found, number


@functools.cache
def _statements(vendor: str, detail: bool) -> tuple[str, str, str]:
    """The three parts of _read's statement, up to their lists of values (the same columns in each)."""
    quote = connection.ops.quote_name
    card, entry, counter = Card._meta, ListEntry._meta, Counter._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    # Only our own table and column names go in (quoted); the values are parameters.
    cards = (
        f"SELECT 0, {column(card, 'card_index')}, {column(card, 'chip_serial')}, {column(card, 'status')}, "  # noqa: S608
        f"{column(card, 'status_changed_at') if detail else 'NULL'}, {column(card, 'expires_on')}, {column(card, 'id')} "
        f"FROM {quote(card.db_table)} WHERE {column(card, 'card_index')}"
    )
    entries = (
        f"SELECT 1, NULL, {column(entry, 'reason')}, NULL, NULL, NULL, {column(entry, 'subject')} "  # noqa: S608
        f"FROM {quote(entry.db_table)} "
        f"WHERE {column(entry, 'list_name')} = %s AND {column(entry, 'removed_number')} IS NULL "
        f"AND {column(entry, 'subject')}"
    )
    number = (
        f"SELECT 2, NULL, NULL, NULL, NULL, NULL, {column(counter, 'value')} "  # noqa: S608
        f"FROM {quote(counter.db_table)} WHERE {column(counter, 'name')} = %s"
    )
    return cards, entries, number


def _one_of(values, params: list, cast: str = "") -> str:
    """On PostgreSQL one text parameter split by the server (a thousand values: one placeholder, no per-value
    adaptation); elsewhere IN with a placeholder each. The values are our own hex digests and integers."""
    if connection.vendor == "postgresql":
        params.append(",".join(map(str, values)))
        return f" = ANY(string_to_array(%s, ','){cast})"
    params.extend(values)
    return " IN (" + ", ".join(["%s"] * len(values)) + ")"


def _read(
    indexes, subjects: set[int], detail: bool = True
) -> tuple[dict[str, list[tuple]], dict[int, str], int]:
    """The cards with these blind indexes, the subjects currently on the blacklist and its number: one
    statement (UNION ALL of three index lookups), one round trip, no ORM compilation per call."""
    cards_sql, entries_sql, number_sql = _statements(connection.vendor, detail)
    parts, params = [], []
    if indexes:
        parts.append(cards_sql + _one_of(indexes, params))
    if subjects:
        params.append(lists.BLACKLIST)
        parts.append(entries_sql + _one_of(subjects, params, "::bigint[]"))
    parts.append(number_sql)
    params.append(lists.counter_name(lists.BLACKLIST))
    cards: dict[str, list[tuple]] = {}
    listed: dict[int, str] = {}
    number = 0
    statement = " UNION ALL ".join(parts)
    retry = _instead_of_health_check()
    try:
        rows = _fetch(statement, params)
    except (OperationalError, InterfaceError):
        if not retry:
            raise
        connection.close()  # the kept connection was dead (database restarted, dropped by the network)
        rows = _fetch(statement, params)
    for row in rows:
        kind = row[0]
        if kind == 0:
            cards.setdefault(row[1], []).append(row)  # kept whole: SERIAL, STATUS... index into it
        elif kind == 1:
            listed[row[PK]] = row[SERIAL]  # subject, reason
        else:
            number = row[PK]
    return cards, listed, number


def _fetch(statement: str, params: list) -> list[tuple]:
    with _prepared_cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _instead_of_health_check() -> bool:
    """CONN_HEALTH_CHECKS pings a kept connection (SELECT 1) before a request's first query: a second round trip
    on a call that needs one. When this read is that first query, it is tried on the connection as it is and, if
    the connection turns out dead, once more on a new one (a read outside any transaction, safe to repeat): the
    same outcome as the ping, without paying for it on every call. True when such a retry is allowed."""
    if (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    ):
        connection.health_check_done = True
        return True
    return False


ONLY_WHEN_ASKED = 2**31  # psycopg prepares a statement automatically after this many runs: in effect never


def _prepared_cursor():
    """On PostgreSQL a cursor binding its parameters on the server and preparing the statement (once per
    connection): planning it (eleven indexes on the cards) costs PostgreSQL several times what running it does,
    and this is the call every hospital makes at every visit. The statement's text is fixed, its values are
    parameters (a handful of statements per connection, kept by psycopg up to its prepared_max). Django's
    cursors bind on the client (the query's text carries the values), which suits its other queries;
    elsewhere (SQLite) the ordinary cursor. Behind a pooler in transaction mode (PgBouncer) this needs its
    prepared-statement support (max_prepared_statements, PgBouncer 1.21+)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()  # done already when this read is the request's first query
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None and not connection.in_atomic_block:
        # Once per connection. Django's threshold (None: never) makes psycopg refuse even an explicit prepare.
        # PostgreSQL would keep planning each run for its parameters (a "custom plan": it cannot tell that a
        # list of card indexes is short); the generic plan (index lookups) is right for any length. Only
        # prepared statements follow plan_cache_mode, and only these are prepared on Django's connections.
        # Outside a transaction, so the setting cannot be rolled back.
        with connection.cursor() as setup:
            setup.execute("SET plan_cache_mode = force_generic_plan")
        raw.prepare_threshold = ONLY_WHEN_ASKED
    with connection.wrap_database_errors:
        cursor = PreparingCursor(raw)
    return connection._prepare_cursor(cursor)  # Django's wrapper: errors translated, queries logged in DEBUG


def _pick(candidates, chip: str):
    """The card in the reader among the number's cards (rows as _read returns them)."""
    if chip:
        for row in candidates:
            if row[SERIAL] == chip:
                return row
        return None
    # No chip given: the holder's card in hand, else the newest.
    in_hand = [row for row in candidates if row[STATUS] in Card.IN_HAND]
    return max(in_hand or candidates, key=lambda row: row[PK], default=None)


def _code(card_no: str, row, known: bool, person_listed: bool, card_reason, today) -> str:
    """The answer for one card: `row` the card picked (None: no such card here), `known` whether the number has
    cards here, the holder's and the card's blacklist standing."""
    if row is None:
        if card_reason:
            return lists.CARD_REASON_CODES.get(card_reason, Code.BLACKLISTED_CARD)
        if person_listed:
            return Code.BLACKLISTED_PERSON
        if not known and not _valid_id_number(card_no):
            return Code.INVALID
        return Code.UNKNOWN_HERE
    code = STATUS_CODES.get(row[STATUS], Code.UNKNOWN_HERE)
    if code not in PERMANENT:
        if person_listed:
            code = Code.BLACKLISTED_PERSON
        elif card_reason and code == Code.ACTIVE:
            code = lists.CARD_REASON_CODES.get(card_reason, Code.BLACKLISTED_CARD)
        elif code == Code.ACTIVE and row[EXPIRES] is not None and _date(row[EXPIRES]) < today:
            code = Code.EXPIRED
    return code


def _datetime(value):
    """Raw rows carry the database's own types: SQLite gives text (stored in UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
    return value


def _date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


# --- One card: the single GET every hospital makes at every visit --------------------------------------------
# The batch read above serves 1 to 1,000 pairs through Django's cursor and psycopg's execute machinery, which cost
# the single check several times what PostgreSQL spends on it (about 0.14 ms of client CPU and 0.07 ms of the
# server's against 0.02 and 0.03 here). One card gets a statement of its own (equality probes, nothing to split)
# executed straight on libpq, with the rows loaded by psycopg's own loaders, so the answer is the batch's.


def card_status_check_one(card_no: str, chip: str) -> tuple[CardCheck, int]:
    """card_status_check_numbered([(card_no, chip)]): the same check and list number, read more cheaply where it
    can be (PostgreSQL, outside a transaction, queries neither logged nor wrapped); elsewhere the batch's read."""
    return PendingCheck(card_no, chip).result()


class PendingCheck:
    """card_status_check_one in two steps, for a caller with another round trip to make (the signature's claim on
    Redis): send() puts the read on the wire and returns the step that collects its rows, to be called once the
    other answer is in; result() builds the check (reading then if nothing was sent, or the sending failed). Both
    servers work at once, and the thread sleeps once instead of twice. Between the two steps the connection is
    busy: nothing else may query it."""

    def __init__(self, card_no: str, chip: str):
        self.card_no, self.chip = normal_card_no(card_no), normal_chip(chip)
        self.db = connections[
            DEFAULT_DB_ALIAS
        ]  # the thread's connection, once (the proxy costs per attribute)
        self.rows: list | None = None
        self.failure: Exception | None = None
        self.retry = False
        self.possible = bool(self.card_no) and _one_read_possible(self.db)
        if self.possible:
            self.person = lists.person_subject(self.card_no)
            self.card = lists.card_subject(self.card_no, self.chip) if self.chip else None
            index = blind_indexes((self.card_no,), family=ID_FAMILY)[self.card_no]
            card = self.person if self.card is None else self.card
            values = (index, lists.BLACKLIST, self.person, card, lists.counter_name(lists.BLACKLIST))
            self.params = [str(value).encode() for value in values]

    def send(self):
        """Send the read; returns the step collecting its rows (never raising: a failure is kept for result())."""
        if not self.possible:
            return _nothing
        from psycopg import generators

        db = self.db
        self.retry = _instead_of_health_check()
        try:
            db.close_if_health_check_failed()
            db.ensure_connection()
            raw = db.connection
            with db.wrap_database_errors:
                raw.pgconn.send_query_prepared(ONE_STATEMENT_NAME, self.params)
                raw.wait(generators.send(raw.pgconn))
        except Exception as failure:  # noqa: BLE001 (result() reads again, or raises it)
            self.failure = failure
            return _nothing
        return self._collect

    def _collect(self) -> None:
        from psycopg import generators

        raw = self.db.connection
        try:
            with self.db.wrap_database_errors:
                results = raw.wait(generators.fetch_many(raw.pgconn))
                self.rows = _one_rows(raw, results[-1])
        except Exception as failure:  # noqa: BLE001
            self.failure = failure

    def result(self) -> tuple[CardCheck, int]:
        if not self.possible:
            checks, number = card_status_check_numbered([(self.card_no, self.chip)])
            return checks[0], number
        rows = self.rows
        if rows is None:
            rows = self._read_now()
        candidates, listed, number = [], {}, 0
        for row in rows:  # the batch read's rows: kind, then the columns SERIAL, STATUS... index
            kind = row[0]
            if kind == 0:
                candidates.append(row)
            elif kind == 1:
                listed[row[PK]] = row[SERIAL]  # subject, reason
            else:
                number = row[PK]
        card_no, chip = self.card_no, self.chip
        row = _pick(candidates, chip) if candidates else None
        card_reason = listed.get(self.card) if self.card is not None else None
        code = _code(card_no, row, bool(candidates), self.person in listed, card_reason, timezone.localdate())
        return _card_check(card_no, chip, code, row), number

    def _read_now(self) -> list[tuple]:
        failure, db = self.failure, self.db
        if failure is None:  # nothing sent: read now
            self.retry = _instead_of_health_check()
        elif isinstance(failure.__cause__, _statement_missing()):
            pass  # not prepared on this connection: _exec_one prepares it
        elif isinstance(failure, (OperationalError, InterfaceError)) and self.retry:
            self.retry = False
            db.close()  # the kept connection was dead (database restarted, dropped by the network)
        else:
            raise failure
        try:
            return _exec_one(db, self.params)  # prepares the statement when the connection does not have it
        except (OperationalError, InterfaceError):
            if not self.retry:
                raise
            db.close()
            return _exec_one(db, self.params)


def _nothing() -> None:
    return None


def _statement_missing():
    from psycopg import errors

    return errors.InvalidSqlStatementName


def _one_rows(raw, result) -> list[tuple]:
    """The rows of a libpq result, loaded by the connection's loaders (Django's time zone), as a cursor would."""
    from psycopg import errors, pq
    from psycopg.adapt import Transformer

    if result.status != pq.ExecStatus.TUPLES_OK:
        if raw.pgconn.status != pq.ConnStatus.OK:
            import psycopg

            raise psycopg.OperationalError(f"the connection is lost: {raw.pgconn.get_error_message()}")
        raise errors.error_from_result(result, encoding=raw.info.encoding)
    loader = Transformer(raw)
    loader.set_pgresult(result)
    return loader.load_rows(0, result.ntuples, tuple)


ONE_STATEMENT_NAME = b"hc_card_status_one"


@functools.cache
def _one_statement() -> bytes:
    """Cards of one blind index, the card's and the holder's entries on the list, the list number: the batch
    statement's columns, with $1..$5 (index, list name, holder subject, card subject, counter name)."""
    quote = connection.ops.quote_name
    card, entry, counter = Card._meta, ListEntry._meta, Counter._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    # Only our own table and column names go in (quoted); the values are parameters.
    return (
        f"SELECT 0, {column(card, 'card_index')}, {column(card, 'chip_serial')}, {column(card, 'status')}, "  # noqa: S608
        f"{column(card, 'status_changed_at')}, {column(card, 'expires_on')}, {column(card, 'id')} "
        f"FROM {quote(card.db_table)} WHERE {column(card, 'card_index')} = $1 "
        f"UNION ALL SELECT 1, NULL, {column(entry, 'reason')}, NULL, NULL, NULL, {column(entry, 'subject')} "
        f"FROM {quote(entry.db_table)} WHERE {column(entry, 'list_name')} = $2 "
        f"AND {column(entry, 'removed_number')} IS NULL AND {column(entry, 'subject')} IN ($3, $4) "
        f"UNION ALL SELECT 2, NULL, NULL, NULL, NULL, NULL, {column(counter, 'value')} "
        f"FROM {quote(counter.db_table)} WHERE {column(counter, 'name')} = $5"
    ).encode()


def _one_read_possible(db=None) -> bool:
    """libpq's exec runs outside psycopg's transaction handling and Django's query logging and wrappers (the
    test suite's query counters): only in autocommit, and only when nobody is watching the queries."""
    db = db or connections[DEFAULT_DB_ALIAS]
    return (
        PreparingCursor is not None
        and db.vendor == "postgresql"
        and not db.in_atomic_block
        and not db.queries_logged
        and not db.execute_wrappers
    )


def _exec_one(db, params: list[bytes]) -> list[tuple]:
    """The one-card read, waited for: prepared first when the connection does not have the statement (a new
    connection, psycopg's DEALLOCATE ALL after a rollback, a pooler's DISCARD ALL)."""
    from psycopg import pq

    db.close_if_health_check_failed()  # done already when this read is the request's first query
    db.ensure_connection()
    raw = db.connection
    with db.wrap_database_errors, raw.lock:
        pgconn = raw.pgconn
        try:
            return _one_rows(raw, pgconn.exec_prepared(ONE_STATEMENT_NAME, params))
        except _statement_missing():
            prepared = pgconn.prepare(ONE_STATEMENT_NAME, _one_statement())
            if prepared.status != pq.ExecStatus.COMMAND_OK:
                _one_rows(raw, prepared)  # raises its error
            return _one_rows(raw, pgconn.exec_prepared(ONE_STATEMENT_NAME, params))
