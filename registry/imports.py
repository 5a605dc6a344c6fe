"""The one import machinery: a column spec + a file (XLSX, CSV or JSON) -> a dry-run report, then a commit.

An app describes its import once (an `ImportSpec` in `<app>/importers.py`, registered with
`register_import_spec`; `import_spec(name)` finds it, importing every app's `importers` module on first use
the way the admin autodiscovers `admin` modules). The machinery then gives it, with no further code:
template downloads (XLSX with an instructions sheet, CSV, JSON), streaming readers, a dry run that reports
every bad row (row number, column, value, the problem in Chinese and English), a commit in batches, and an
error report as XLSX through the export machinery.

Rules, the same for every import:
- Rows stream from the file: XLSX through openpyxl's read-only mode, CSV (UTF-8 with or without BOM, else
  GB18030, which Chinese Excel writes) through the csv module, JSON (a list of objects, or one object per
  line) through an incremental decoder. Memory does not grow with the file, except for the in-file
  duplicate check, which spills to a temporary SQLite file past `SPILL_KEYS` keys.
- Columns are found by their Chinese header, their English header or their key, in any order; unknown
  columns are ignored (and listed). The header is the first of the first `HEADER_SEARCH_ROWS` rows that
  names the key column. Rows are numbered as Excel shows them (header = row 1, first data row = 2); in JSON
  the row number is the record's position in the list (in JSON lines: its line, blank lines aside), from 1.
- A column absent from the file leaves that field alone on update; an empty cell in a present column sets
  the column's empty value (clears it).
- Commit rule: `import_commit` first checks the whole file and refuses when any row is bad, unless
  `skip_invalid=True`, in which case bad rows are skipped and reported. Valid rows are then applied in
  batches of `spec.batch_size`, each batch one transaction (the spec's `apply_batch` is a durable action).
  One transaction per batch, not per file: a file of a million rows must not hold the journal counter
  (which serialises every journaled write of the node) for minutes. A commit that stops half-way leaves
  whole batches applied; running it again is safe, because apply_batch upserts by key and writes nothing for
  an unchanged row: re-importing the same file never duplicates. On PostgreSQL a thread with its own
  connection applies the batches while the next one is read, checked and prepared (`_BatchWriter`,
  `ImportSpec.prepare_batch`): same batches, same order, the first failure stops the commit.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gc
import io
import json
import queue
import re
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, TextIO

from django.db.models import Lookup
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from registry.errors import DomainError
from registry.protection import mask_id_number, mask_name, redact

MAX_ERRORS = 1000  # errors kept in a report (and on an ImportJob); the total is always counted
SAMPLE_ROWS = 10  # valid rows shown in the dry-run preview
HEADER_SEARCH_ROWS = 10
SNIFF_BYTES = 1 << 20  # how much of a CSV decides its encoding
SPILL_KEYS = 200_000  # keys kept in memory for the duplicate check before spilling to SQLite
JSON_CHUNK = 1 << 16
JSON_MAX_RECORD = 1 << 20  # a record longer than this is an error, not a reason to read the file into memory
GC_ALLOCATIONS = 50_000  # objects allocated between two garbage collections during an import
# How long (seconds) a thread that wants the GIL waits for the running one to let go, while a commit's writer
# thread runs (CPython's default: 5 ms). See _BatchWriter.
WRITER_SWITCH_INTERVAL = 0.0005
ROW_COLUMN = "#row"  # the row-number column of a copy written by import_check(rows_out=...)
FORMATS = ("xlsx", "csv", "json")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


# --- Errors -----------------------------------------------------------------------------------------------


class ImportCellError(DomainError):
    """A cell that cannot be used. Parsers raise it (any DomainError works the same) with a lazy message."""

    code = "import_cell"


class ImportFileError(DomainError):
    """The file as a whole cannot be read (format, encoding, missing columns): nothing is checked."""

    code = "import_file"


class ImportRefused(DomainError):
    code = "import_has_errors"


class RowError(NamedTuple):
    row: int
    column: str  # the column's key ("" for the whole row)
    header: str  # the column's header in Chinese, as the person sees it
    value: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict:
        return self._asdict()

    @classmethod
    def from_dict(cls, data: dict) -> RowError:
        return cls(**{name: data.get(name, "") for name in cls._fields})


class _Joined:
    """Lazy labels joined with the list separator of the language being rendered (for error params)."""

    def __init__(self, items: Sequence[Any]):
        self.items = items

    def __str__(self) -> str:
        separator = "、" if translation.get_language() in ("zh-hans", "zh-cn", "zh") else ", "
        return separator.join(str(item) for item in self.items)


# --- The spec ---------------------------------------------------------------------------------------------


@dataclass
class ImportContext:
    """What parsers may need besides the text: who imports (their region scope) and a per-run memo."""

    user: Any = None
    cache: dict = field(default_factory=dict)

    def memo(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]


Parser = Callable[[str, ImportContext], Any]


def mask_cell(value: str) -> str:
    """A personal cell as a report may show it: ID-like values keep six and four characters, others one."""
    value = str(value or "")
    if len(value) >= 15 and value[:6].isdigit():
        return mask_id_number(value)
    return redact(value) if any(ch.isdigit() for ch in value) else mask_name(value)


@dataclass(frozen=True)
class ImportColumn:
    """One column of an import.

    `parse(text, context)` turns a stripped, non-empty cell into a value or raises ImportCellError (or any
    DomainError). Without `parse`, a column with `choices` accepts a value or its label (Chinese or English)
    and yields the value; a plain column yields the text, at most `max_length` characters.
    """

    key: str
    header: Any  # lazy, translatable: the Chinese header in the template and the report
    required: bool = False
    parse: Parser | None = None
    example: Any = ""  # text or a lazy label (rendered in the template's language)
    help: Any = ""
    choices: Sequence[tuple[str, Any]] = ()
    max_length: int | None = None
    empty: Any = ""  # the value of an empty cell in an optional column
    personal: bool = False  # personal data: reports and stored errors show the value masked

    def mask_value(self, value: str) -> str:
        return mask_cell(value)

    def parse_cell(self, text: str, context: ImportContext) -> Any:
        if self.parse is not None:
            return self.parse(text, context)
        if self.choices:
            value = self._choice_lookup.get(_normal(text))
            if value is None:
                raise ImportCellError(
                    _("“%(value)s” is not an allowed value. Allowed: %(allowed)s."),
                    {"value": text, "allowed": _Joined([label for _value, label in self.choices])},
                )
            return value
        if self.max_length is not None and len(text) > self.max_length:
            raise ImportCellError(
                _("At most %(max)s characters are allowed; this value has %(length)s."),
                {"max": self.max_length, "length": len(text)},
            )
        return text

    @cached_property
    def _choice_lookup(self) -> dict[str, str]:
        lookup = {}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup.update({_normal(str(label)): value for value, label in self.choices})
        lookup.update({_normal(value): value for value, _label in self.choices})
        return lookup

    def display(self, value: Any) -> str:
        if self.choices:
            return str(dict(self.choices).get(value, value))
        return "" if value is None else str(value)


@dataclass(frozen=True)
class ImportSpec:
    """What one import is: its columns, the key that identifies a row, and the action that applies rows.

    `apply_batch(rows, *, actor) -> (created, updated)` is a durable action (one transaction) that upserts the
    rows by key; `validate_row(values, context) -> [(column_key, message), ...]` adds cross-field checks.
    `prepare_batch(rows, *, actor, expect_new)`, optional, is the Python part of applying a batch (checking,
    sealing, building what is sent), with no database writes: apply_batch then receives what it returned
    instead of the rows. A commit prepares a batch in the reading thread, so that on PostgreSQL the writer
    thread does only the database's part (waiting on the server, which releases the GIL) while the next batch
    is read and prepared. `expect_new` is False when the last batch applied did not create all its rows (the
    file names rows the node has): what only new rows need may then be left to apply_batch.
    """

    name: str
    title: Any
    columns: Sequence[ImportColumn]
    key_column: str
    apply_batch: Callable[..., tuple[int, int]]
    validate_row: Callable[[dict, ImportContext], list[tuple[str, Any]]] | None = None
    batch_size: int = 1000
    prepare_batch: Callable[..., Any] | None = None

    def column(self, key: str) -> ImportColumn:
        return next(column for column in self.columns if column.key == key)

    def header_lookup(self) -> dict[str, str]:
        """Normalised header text (Chinese, English or the key) -> column key."""
        lookup: dict[str, str] = {}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup.update({_normal(str(column.header)): column.key for column in self.columns})
        lookup.update({_normal(column.key): column.key for column in self.columns})
        return lookup


_SPECS: dict[str, ImportSpec] = {}


def register_import_spec(spec: ImportSpec) -> ImportSpec:
    """Make an import known by name; call it at module level of `<app>/importers.py`."""
    _SPECS[spec.name] = spec
    return spec


def import_spec(name: str) -> ImportSpec:
    if name not in _SPECS:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("importers")
    try:
        return _SPECS[name]
    except KeyError:
        raise DomainError(_("Unknown import “%(name)s”."), {"name": name}, code="import_unknown") from None


# --- Reports ----------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """The dry run: how many rows, how many valid, the first MAX_ERRORS problems and the total of them."""

    spec_name: str
    total: int = 0
    valid: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    sample: list[dict] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # keys of the columns found in the file
    ignored: list[str] = field(default_factory=list)  # headers the spec does not know
    estimated_rows: int | None = None
    rows_copied: bool = False  # the rows were copied to `rows_out` (see import_check)

    @property
    def invalid_rows(self) -> int:
        return self.total - self.valid

    def add_error(self, error: RowError) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)


@dataclass
class ImportResult(ImportReport):
    created: int = 0
    updated: int = 0

    @property
    def unchanged(self) -> int:
        return self.valid - self.created - self.updated


# --- Reading files ----------------------------------------------------------------------------------------


@dataclass
class Table:
    """A file opened for reading: header position, found columns, and the rows as {key: text}."""

    format: str
    header_row: int
    columns: list[str]
    ignored: list[str]
    rows: Iterator[tuple[int, dict[str, str]]]
    estimated_rows: int | None = None


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", str(text)).rstrip("*＊").casefold()


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious ".0", dates in ISO form, surrounding spaces removed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def detect_format(head: bytes, filename: str = "") -> str:
    suffix = Path(filename or "").suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        raise ImportFileError(
            _("The old Excel format (.xls) cannot be read: save the file as .xlsx and upload it again."),
            code="import_xls",
        )
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "json"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    return "json" if stripped[:1] in (b"[", b"{") else "csv"


def _binary(file) -> BinaryIO:
    """The underlying binary file of a Django File / UploadedFile, a path's open file, or the object itself."""
    while hasattr(file, "file") and not isinstance(file, io.IOBase):
        file = file.file
    return file


@contextmanager
def open_table(spec: ImportSpec, file, filename: str = "") -> Iterator[Table]:
    """Open `file` (a path or a binary file object, read from its start) as rows of the spec's columns."""
    with _opened(file) as handle:
        start = handle.tell()
        head = handle.read(SNIFF_BYTES)
        handle.seek(start)
        fmt = detect_format(head, filename or str(getattr(file, "name", "")))
        if fmt == "xlsx":
            with _xlsx_table(spec, handle) as table:
                yield table
        elif fmt == "csv":
            with _csv_table(spec, handle, head) as table:
                yield table
        else:
            with _json_table(spec, handle) as table:
                yield table


@contextmanager
def _opened(file):
    if isinstance(file, (str, Path)):
        with open(file, "rb") as handle:
            yield handle
        return
    handle = _binary(file)
    handle.seek(0)
    yield handle


def _find_header(spec: ImportSpec, rows: Iterator[tuple[int, list]]) -> tuple[int, list[str], list]:
    """The header row: the first of the first rows that names the key column (else row 1)."""
    lookup = spec.header_lookup()
    key_names = {name for name, key in lookup.items() if key == spec.key_column}
    first: tuple[int, list] | None = None
    buffered = []
    for number, cells in rows:
        texts = [cell_text(cell) for cell in cells]
        if first is None:
            first = (number, texts)
        if key_names & {_normal(text) for text in texts}:
            return number, texts, buffered
        buffered.append((number, cells))
        if number >= HEADER_SEARCH_ROWS:
            break
    if first is None:
        return 1, [], []
    # No row names the key column: take row 1 as the header; the missing columns are reported.
    return first[0], first[1], buffered[1:]


def _map_header(spec: ImportSpec, header: list[str]) -> tuple[list[tuple[int, str]], list[str]]:
    lookup = spec.header_lookup()
    mapping, seen, ignored = [], set(), []
    for index, text in enumerate(header):
        if not text:
            continue
        key = lookup.get(_normal(text))
        if key is None or key in seen:
            ignored.append(text)
            continue
        seen.add(key)
        mapping.append((index, key))
    missing = [column for column in spec.columns if column.required and column.key not in seen]
    if missing:
        raise ImportFileError(
            _(
                "The file has no column “%(columns)s”. The first row must hold the column names of the "
                "template (download it from the import page)."
            ),
            {"columns": _Joined([column.header for column in missing])},
            code="import_columns_missing",
        )
    return mapping, ignored


def _tabular(
    spec: ImportSpec, fmt: str, numbered: Iterator[tuple[int, list]], estimated: int | None
) -> Table:
    """A table from numbered rows of cells (XLSX, CSV): find the header, then map each row to {key: text}."""
    numbered = iter(numbered)
    header_row, header, buffered = _find_header(spec, numbered)
    # A copy written by import_check (rows_out) carries the original row numbers in a column of its own.
    number_index = header.index(ROW_COLUMN) if ROW_COLUMN in header else None
    if number_index is not None:
        header = [text if index != number_index else "" for index, text in enumerate(header)]
    mapping, ignored = _map_header(spec, header)

    # A CSV cell is text already: stripping it is all cell_text would do (a third of reading a CSV row).
    text = str.strip if fmt == "csv" else cell_text

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for source in (buffered, numbered):
            for number, cells in source:
                if number <= header_row:
                    continue
                size = len(cells)
                values = {key: text(cells[index]) if index < size else "" for index, key in mapping}
                if any(values.values()):
                    yield (number if number_index is None else int(cells[number_index])), values

    if estimated is not None:
        estimated = max(0, estimated - header_row)
    return Table(fmt, header_row, [key for _index, key in mapping], ignored, rows(), estimated)


@contextmanager
def _xlsx_table(spec: ImportSpec, handle: BinaryIO) -> Iterator[Table]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as error:
        raise ImportFileError(
            _("The file could not be read as %(format)s: save it as in the template and upload it again."),
            {"format": "XLSX"},
            detail=str(error)[:200],
        ) from error
    try:
        sheet = workbook.worksheets[0]
        estimated = sheet.max_row  # from the file's own dimension record: a guess, for progress only
        sheet.reset_dimensions()  # a wrong dimension record must not cut rows or columns off
        numbered = enumerate(sheet.iter_rows(values_only=True), start=1)
        yield _tabular(spec, "xlsx", numbered, estimated)
    finally:
        workbook.close()


def _csv_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not merely a character cut at the end of the sniffed part
            return "gb18030"
    return "utf-8-sig"


@contextmanager
def _csv_table(spec: ImportSpec, handle: BinaryIO, head: bytes) -> Iterator[Table]:
    encoding = _csv_encoding(head)
    first_line = head.decode(encoding, errors="ignore").lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max([",", "\t", ";"], key=first_line.count)
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter)

        def numbered() -> Iterator[tuple[int, list]]:
            number = 0
            try:
                for number, row in enumerate(reader, start=1):  # noqa: B007 (the last number is reported)
                    yield number, row
            except UnicodeDecodeError as error:
                raise ImportFileError(
                    _(
                        "The file is neither UTF-8 nor GB18030 text (near row %(row)s). Save it as "
                        "“CSV UTF-8” or as XLSX and upload it again."
                    ),
                    {"row": number + 1},
                    code="import_encoding",
                ) from error
            except csv.Error as error:
                raise ImportFileError(
                    _(
                        "The file could not be read as %(format)s: save it as in the template and upload it again."
                    ),
                    {"format": "CSV"},
                    detail=str(error)[:200],
                ) from error

        yield _tabular(spec, "csv", numbered(), None)
    finally:
        text.detach()  # the caller owns the binary file


def _json_records(text: io.TextIOBase) -> Iterator[tuple[int, Any]]:
    """Stream the records of a JSON list, or of JSON lines, without reading the whole file."""
    decoder = json.JSONDecoder()
    buffer, position, eof = "", 0, False

    def more() -> None:
        nonlocal buffer, position, eof
        chunk = text.read(JSON_CHUNK)
        eof = not chunk
        buffer, position = buffer[position:] + chunk, 0

    def skip(chars: str) -> str:
        """Skip whitespace and `chars`; the next significant character ("" at the end)."""
        nonlocal position
        while True:
            while position < len(buffer) and (buffer[position].isspace() or buffer[position] in chars):
                position += 1
            if position < len(buffer) or eof:
                return buffer[position] if position < len(buffer) else ""
            more()

    more()
    if buffer.startswith("\ufeff"):
        position = 1
    in_list = skip("") == "["
    if in_list:
        position += 1
    number = 0
    while True:
        nxt = skip("," if in_list else "")
        if nxt == "" or (in_list and nxt == "]"):
            return
        number += 1
        while True:
            try:
                record, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as error:
                if not eof and len(buffer) - position < JSON_MAX_RECORD:
                    more()  # the record may continue in the next chunk
                    continue
                raise ImportFileError(
                    _(
                        "The JSON is not valid at record %(row)s: the file must be a list of objects, or one "
                        "object per line."
                    ),
                    {"row": number},
                    code="import_json",
                    detail=str(error)[:200],
                ) from error
            if end == len(buffer) and not eof and not isinstance(record, (dict, list)):
                more()  # a number cut at the end of the buffer: read on before trusting it
                continue
            break
        yield number, record
        position = end


@contextmanager
def _json_table(spec: ImportSpec, handle: BinaryIO) -> Iterator[Table]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig")
    lookup = spec.header_lookup()
    found: dict[str, str | None] = {}
    ignored: list[str] = []
    columns: list[str] = []

    def key_of(name: str) -> str | None:
        if name not in found:
            key = lookup.get(_normal(name))
            found[name] = key
            if key is None:
                ignored.append(name)
            elif key not in columns:
                columns.append(key)
        return found[name]

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for number, record in _json_records(text):
                if not isinstance(record, dict):
                    yield number, {"": json.dumps(record, ensure_ascii=False)[:100]}
                    continue
                values = {}
                for name, value in record.items():
                    key = key_of(str(name))
                    if key is not None and key not in values:
                        values[key] = cell_text(value)
                yield number, values
        except UnicodeDecodeError as error:
            raise ImportFileError(
                _("A JSON file must be UTF-8 text: save it as UTF-8 and upload it again."),
                code="import_encoding",
            ) from error

    try:
        yield Table("json", 0, columns, ignored, rows(), None)
    finally:
        text.detach()


# --- Checking and committing ------------------------------------------------------------------------------


class _SeenKeys:
    """Key -> the row it first appeared in; in memory up to SPILL_KEYS keys, then in a temporary SQLite file."""

    def __init__(self, spill_at: int | None = None):
        self.spill_at = spill_at or SPILL_KEYS
        self.memory: dict[str, int] = {}
        self.db: sqlite3.Connection | None = None

    def first_row(self, key: str, row: int) -> int | None:
        """The row where `key` was first seen, or None (and `key` is remembered as seen in `row`)."""
        hit = self.memory.get(key)
        if hit is not None:
            return hit
        if self.db is not None:
            found = self.db.execute("SELECT row FROM seen WHERE key = ?", (key,)).fetchone()
            if found is not None:
                return found[0]
        self.memory[key] = row
        if len(self.memory) >= self.spill_at:
            self._spill()
        return None

    def _spill(self) -> None:
        if self.db is None:
            self.db = sqlite3.connect("")  # "" = a private temporary file, removed on close
            self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")
        self.db.executemany("INSERT INTO seen VALUES (?, ?)", self.memory.items())
        self.memory.clear()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def _render_both(message: Any, params: dict | None = None) -> tuple[str, str]:
    error = DomainError(message, params)
    return error.message_zh, error.message_en


class _Checker:
    """Parses and validates rows one by one; records problems on the report."""

    def __init__(self, spec: ImportSpec, context: ImportContext, report: ImportReport, table: Table):
        self.spec, self.context, self.report = spec, context, report
        self.tabular = table.format != "json"  # XLSX and CSV rows hold every column of the header
        self.present_parsers = self._parsers_of(
            [column for column in spec.columns if column.key in table.columns]
        )
        with translation.override("zh-hans"):
            self.headers = {column.key: str(column.header) for column in spec.columns}
        self.headers[""] = ""
        self.seen = _SeenKeys()
        self.personal = {column.key: column for column in spec.columns if column.personal}
        self.key_header = spec.column(spec.key_column).header
        self.required_message = _render_both(_("This column is required."))

    def error(self, row: int, key: str, value: str, zh: str, en: str) -> None:
        # Error reports are stored on the job and exported: personal values never appear in clear there.
        if key in self.personal:
            value = self.personal[key].mask_value(value)
        self.report.add_error(RowError(row, key, self.headers.get(key, key), value, redact(zh), redact(en)))

    def check(self, number: int, raw: dict[str, str]) -> dict | None:
        """The row's values, or None when it has a problem (recorded)."""
        self.report.total += 1
        if "" in raw:  # a JSON record that is not an object
            self.error(
                number, "", raw[""], *_render_both(_("This record is not an object of column values."))
            )
            return None
        values: dict[str, Any] = {}
        bad = False
        context = self.context
        for key, required, empty, parse in (
            self.present_parsers if self.tabular else self._parsers_of(self._columns_of(raw))
        ):
            text = raw.get(key, "")
            if not text:
                if required:
                    self.error(number, key, "", *self.required_message)
                    bad = True
                else:
                    values[key] = empty
                continue
            try:
                values[key] = parse(text, context)
            except DomainError as error:
                self.error(number, key, text, error.message_zh, error.message_en)
                bad = True
        key = values.get(self.spec.key_column)
        if key not in (None, ""):
            first = self.seen.first_row(str(key), number)
            if first is not None:
                self.error(
                    number,
                    self.spec.key_column,
                    raw.get(self.spec.key_column, ""),
                    *_render_both(
                        _("%(column)s %(key)s appears twice in this file: first in row %(row)s."),
                        {"column": self.key_header, "key": key, "row": first},
                    ),
                )
                bad = True
        if not bad and self.spec.validate_row is not None:
            for column_key, message in self.spec.validate_row(values, self.context):
                zh, en = (
                    (message.message_zh, message.message_en)
                    if isinstance(message, DomainError)
                    else _render_both(message)
                )
                self.error(number, column_key, raw.get(column_key, ""), zh, en)
                bad = True
        if bad:
            return None
        self.report.valid += 1
        if len(self.report.sample) < SAMPLE_ROWS:
            self.report.sample.append(
                {
                    "row": number,
                    **{c.key: c.display(values[c.key]) for c in self.spec.columns if c.key in values},
                }
            )
        return values

    @staticmethod
    def _parsers_of(columns: list[ImportColumn]) -> list[tuple[str, bool, Any, Parser]]:
        """(key, required, empty value, parser) per column: what check() needs of a column, looked up once."""
        return [
            (column.key, column.required, column.empty, column.parse or column.parse_cell)
            for column in columns
        ]

    def _columns_of(self, raw: dict[str, str]) -> list[ImportColumn]:
        # JSON records may leave keys out: an absent key is an absent column for that row, but a required one
        # is still required.
        return [column for column in self.spec.columns if column.key in raw or column.required]

    def close(self) -> None:
        self.seen.close()


def _checked_rows(
    spec: ImportSpec, table: Table, context: ImportContext, report: ImportReport, progress=None
) -> Iterator[dict]:
    report.columns, report.ignored, report.estimated_rows = table.columns, table.ignored, table.estimated_rows
    checker = _Checker(spec, context, report, table)
    try:
        for number, raw in table.rows:
            values = checker.check(number, raw)
            if values is not None:
                yield values
            if progress is not None and report.total % spec.batch_size == 0:
                progress(report.total)
    finally:
        checker.close()


def import_check(
    spec: ImportSpec,
    file,
    *,
    user=None,
    filename: str = "",
    progress: Callable[[int], None] | None = None,
    rows_out: TextIO | None = None,
) -> ImportReport:
    """The dry run: read and validate every row, write nothing. Raises ImportFileError for an unreadable file.

    With `rows_out`, an XLSX file's rows are also copied there as CSV (with their row numbers), and
    `report.rows_copied` is set: a commit can then read that copy instead of parsing the workbook again,
    which is the slow part of an XLSX import (openpyxl reads some 30,000 cells a second).
    """
    report = ImportReport(spec_name=spec.name)
    context = ImportContext(user=user)
    with _fewer_collections(), open_table(spec, file, filename) as table:
        if rows_out is not None and table.format == "xlsx":
            table.rows = _copied(table.rows, table.columns, csv.writer(rows_out))
            report.rows_copied = True
        for _values in _checked_rows(spec, table, context, report, progress):
            pass
    if progress is not None:
        progress(report.total)
    return report


def _copied(rows: Iterator, columns: list[str], writer) -> Iterator[tuple[int, dict[str, str]]]:
    writer.writerow([ROW_COLUMN, *columns])
    for number, values in rows:
        writer.writerow([number, *(values[key] for key in columns)])
        yield number, values


def import_commit(
    spec: ImportSpec,
    file,
    *,
    actor,
    user=None,
    filename: str = "",
    skip_invalid: bool = False,
    precheck: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Apply the file's valid rows in batches (one transaction each) through spec.apply_batch.

    With `precheck` (the default) the whole file is checked first and nothing is written when a row is bad,
    unless `skip_invalid`. A caller that has checked the same file already (an ImportJob) passes
    precheck=False. Rows that turn bad between the check and the commit (the data changed meanwhile) are
    skipped and reported in the result either way: whole batches before them are already applied.
    """
    user = user if user is not None else getattr(actor, "user", None)
    if precheck:
        report = import_check(spec, file, user=user, filename=filename)
        if report.errors_total and not skip_invalid:
            raise ImportRefused(
                _(
                    "%(count)s rows have problems: correct them and check the file again, or commit skipping "
                    "the bad rows."
                ),
                {"count": report.invalid_rows},
                detail=[error.as_dict() for error in report.errors],
            )
    result = ImportResult(spec_name=spec.name)
    context = ImportContext(user=user)
    with _fewer_collections(), _BatchWriter(spec, actor, result, progress) as writer:
        with open_table(spec, file, filename) as table:
            batch: list[dict] = []
            for values in _checked_rows(spec, table, context, result):
                batch.append(values)
                if len(batch) >= spec.batch_size:
                    writer.put(batch)
                    batch = []
            if batch:
                writer.put(batch)
    if progress is not None:
        progress(result.total)
    return result


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, run less often while rows stream: a row is a few dicts and strings
    without cycles, yet every 700 new objects start a collection that walks the youngest objects, and every
    few thousand one that walks all of Django's; that is a fifth of an import's time. A collection still runs
    every GC_ALLOCATIONS objects, so garbage with cycles stays bounded."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_ALLOCATIONS), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


class _BatchWriter:
    """Applies the batches of a commit through spec.apply_batch, in order.

    On PostgreSQL, outside a transaction, a thread of its own applies them (with its own database connection)
    while the caller reads, checks and prepares (spec.prepare_batch) the next batch: the server inserts,
    indexes and commits one batch while Python parses the next, instead of each waiting for the other. At most
    one batch waits for the thread, so memory stays at about three batches. The first failure of a batch stops the commit: the batches before it
    stay applied (each is its own transaction, as without the thread), the rest are not applied, and the
    error is raised to the caller. Elsewhere (SQLite, or inside a transaction as in tests) batches are applied
    as they come.
    """

    def __init__(self, spec: ImportSpec, actor, result: ImportResult, progress: Callable[[int], None] | None):
        from django.db import connection

        self.spec, self.actor, self.result, self.progress = spec, actor, result, progress
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.error: BaseException | None = None
        self.done = 0  # rows of the file read up to the last batch applied
        self.all_new = True  # the last batch applied created all its rows (none applied yet: True)
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.thread: threading.Thread | None = None

    def __enter__(self) -> _BatchWriter:
        if self.threaded:
            # The writer thread wakes up some forty times a batch (a statement's answer, room in the socket for
            # the next part of a COPY) while the reading thread runs Python; each time it waits for the GIL, by
            # default up to 5 ms, during which the server has nothing to do. Measured (a batch's 15 statements
            # and 3 MB COPY beside a busy Python thread): 312 ms with 5 ms, 171 ms with 0.5 ms, 71 ms alone.
            # The reader lets go as often either way (once per wake-up). Process-wide, so restored afterwards.
            self.switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self.switch_interval, WRITER_SWITCH_INTERVAL))
            self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
            self.thread.start()
        return self

    def put(self, batch: list[dict]) -> None:
        if self.error is not None:
            raise self.error
        prepared = batch
        if self.spec.prepare_batch is not None:
            prepared = self.spec.prepare_batch(batch, actor=self.actor, expect_new=self.all_new)
        if not self.threaded:
            self._apply(prepared, len(batch), self.result.total)
            return
        if self.error is None:
            self.queue.put((prepared, len(batch), self.result.total))
        if self.error is not None:
            raise self.error
        if self.progress is not None:
            self.progress(self.done)

    def _apply(self, batch: Any, rows: int, read: int) -> None:
        created, updated = self.spec.apply_batch(batch, actor=self.actor)
        self.all_new = created == rows
        self.result.created += created
        self.result.updated += updated
        self.done = read
        if self.progress is not None and not self.threaded:
            self.progress(read)

    def _run(self) -> None:
        from django.db import connection

        try:
            while (item := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        self._apply(*item)
                    except BaseException as error:  # raised in the caller's thread
                        self.error = error
        finally:
            connection.close()  # this thread's connection

    def __exit__(self, kind, error, traceback) -> None:
        if self.thread is None:
            return
        try:
            self.queue.put(None)
            self.thread.join()
        finally:
            sys.setswitchinterval(self.switch_interval)
        if self.error is not None and error is None:
            raise self.error


# --- For apply_batch actions -------------------------------------------------------------------------------


def bulk_update_values(model, objs: Sequence, fields: Sequence[str], *, batch_size: int = 1000) -> int:
    """UPDATE many rows, each with its own values, in one statement per batch; returns the rows updated.

    For the apply_batch actions of imports. Django's bulk_update builds a CASE expression per row and field,
    which costs about a millisecond per row in Python; this joins the table to a VALUES list instead
    (PostgreSQL, and SQLite from 3.33; other databases fall back to bulk_update). Call it inside the
    action's transaction, on rows locked with select_for_update.
    """
    from django.db import connection

    objs = list(objs)
    if not objs:
        return 0
    if connection.vendor not in ("postgresql", "sqlite"):
        return model.objects.bulk_update(objs, fields, batch_size=batch_size)
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    key = meta.pk

    def typed(expression: str, field) -> str:
        # PostgreSQL types a VALUES column from its literals (text); cast to the column's type.
        if connection.vendor == "postgresql":
            return f"CAST({expression} AS {field.db_type(connection)})"
        return expression

    table = quote(meta.db_table)
    names = ["k", *(f"v{index}" for index in range(len(columns)))]
    assignments = ", ".join(
        f"{quote(field.column)} = {typed(f'v.v{index}', field)}" for index, field in enumerate(columns)
    )
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start : start + batch_size]
            params: list = []
            for obj in chunk:
                params.append(key.get_db_prep_value(obj.pk, connection))
                params.extend(
                    field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns
                )
            # Only quoted identifiers and placeholders are formatted in; every value is a parameter.
            sql = (
                f"WITH v ({', '.join(names)}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "  # noqa: S608
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{quote(key.column)} = {typed('v.k', key)}"
            )
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated


VALUES_SEPARATOR = "\x1f"


class Among(Lookup):
    """`column = ANY(values)` for many text values, used as `.filter(Among(F("column"), values))`. On PostgreSQL
    the values travel as one text parameter that the server splits: the driver would otherwise quote thousands of
    values one by one, which costs more than the look-up, and the condition stays an index condition. Elsewhere
    (or for a value holding the separator) an ordinary IN list."""

    lookup_name = "among"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        from django.core.exceptions import EmptyResultSet

        lhs, params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if not values:
            raise EmptyResultSet
        if connection.vendor == "postgresql" and not any(VALUES_SEPARATOR in value for value in values):
            return f"{lhs} = ANY(string_to_array(%s, %s))", [
                *params,
                VALUES_SEPARATOR.join(values),
                VALUES_SEPARATOR,
            ]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


def bulk_insert_values(
    model, fields: Sequence[str], rows: Sequence[Sequence], *, prepared: bool = False
) -> int:
    """INSERT many rows given as values of `fields` (as the model holds them: clear text for a sealed field,
    a dict for JSON, a primary key for a foreign key `_id`); returns the rows inserted.

    Each value goes through its field's get_db_prep_save (sealing, JSON), as bulk_create would do, without
    making a model instance per row; on PostgreSQL the rows are sent with COPY. A BlindIndexField is not
    computed here: give it among `fields`. Call it inside the action's transaction.

    `prepared=True`: the values are what the columns store already (sealed fields sealed, e.g. by BulkSealer;
    JSON as its text; datetimes aware), so on PostgreSQL none goes through its field (the exchange apply sends
    hundreds of thousands of rows a minute); elsewhere only the sealed and JSON ones are taken as they are.
    """
    from django.db import DEFAULT_DB_ALIAS, connections, models

    from registry.protection import EncryptedTextField

    if not rows:
        return 0
    connection = connections[DEFAULT_DB_ALIAS]  # not the proxy: it is asked once per value
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in columns)
    table = quote(meta.db_table)
    copy_mode = connection.vendor == "postgresql"
    # On PostgreSQL the driver takes these fields' Python values as they are (get_db_prep_save returns them
    # unchanged); the others (sealed, JSON, and everything elsewhere) go through it.
    plain = (models.CharField, models.IntegerField, models.ForeignKey, models.DateField, models.BooleanField)
    if prepared:
        given = (EncryptedTextField, models.JSONField)
        prepare = [
            None if copy_mode or isinstance(field, given) else field.get_db_prep_save for field in columns
        ]
    else:
        prepare = [
            None
            if copy_mode and isinstance(field, plain) and not isinstance(field, EncryptedTextField)
            else field.get_db_prep_save
            for field in columns
        ]

    def for_db(row: Sequence) -> list:
        return [
            value if to_db is None else to_db(value, connection)
            for to_db, value in zip(prepare, row, strict=True)
        ]

    with connection.cursor() as cursor:
        if copy_mode:
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608
                if not any(prepare):
                    for row in rows:
                        copy.write_row(row)
                else:
                    for row in rows:
                        copy.write_row(for_db(row))
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",  # noqa: S608
                [for_db(row) for row in rows],
            )
    return len(rows)


# --- Templates and the error report -----------------------------------------------------------------------


def allowed_text(column: ImportColumn) -> str:
    """The allowed values of a choice column, as the template and the import page list them."""
    return "；".join(f"{label}（{value}）" for value, label in column.choices) if column.choices else ""


def template_xlsx(spec: ImportSpec) -> bytes:
    """The XLSX template: the header row (Chinese), one example row, and an instructions sheet.

    A template is not an export (the header must be row 1 and there is a second sheet), so it is written here
    with a plain openpyxl workbook; it has a dozen cells.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(spec.title)[:31]
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    required_font = Font(bold=True, color="C00000")
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index, value=str(column.header))
        header.font, header.fill = (required_font if column.required else bold), fill
        example = sheet.cell(row=2, column=index, value=str(column.example))
        example.number_format = "@"  # codes and phone numbers stay text, leading zeros kept
        sheet.column_dimensions[letter].width = max(12, min(40, len(str(column.header)) * 2 + 4))
        sheet.column_dimensions[letter].number_format = "@"
        labels = [str(label) for _value, label in column.choices]
        if labels and len(",".join(labels)) < 250:
            # A drop-down of the Chinese labels; codes typed by hand are accepted too, so no error box.
            validation = DataValidation(
                type="list", formula1='"' + ",".join(labels) + '"', showErrorMessage=False
            )
            validation.add(f"{letter}2:{letter}10000")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"

    notes = workbook.create_sheet(title=gettext("Instructions")[:31])
    heads = [
        gettext("Column"),
        gettext("Key"),
        gettext("Required"),
        gettext("Description"),
        gettext("Allowed values"),
        gettext("Example"),
    ]
    for index, text in enumerate(heads, start=1):
        cell = notes.cell(row=1, column=index, value=text)
        cell.font, cell.fill = bold, fill
    wrap = Alignment(wrap_text=True, vertical="top")
    for row, column in enumerate(spec.columns, start=2):
        values = [
            str(column.header),
            column.key,
            gettext("Yes") if column.required else gettext("No"),
            str(column.help),
            allowed_text(column),
            str(column.example),
        ]
        for index, value in enumerate(values, start=1):
            notes.cell(row=row, column=index, value=value).alignment = wrap
    end = len(spec.columns) + 3
    for offset, line in enumerate(_template_notes(spec)):
        notes.cell(row=end + offset, column=1, value=line)
    for letter, width in zip("ABCDEF", (18, 16, 8, 60, 60, 24), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _template_notes(spec: ImportSpec) -> list[str]:
    key = spec.column(spec.key_column)
    return [
        gettext("Fill in one row per record from row 2; delete the example row first."),
        gettext("Columns in red are required. Columns may be in any order; unknown columns are ignored."),
        gettext("Importing a %(key)s that is already registered updates that record; nothing is duplicated.")
        % {"key": key.header},
        gettext(
            "CSV files may be UTF-8 (with or without BOM) or GB18030; JSON files are a list of objects keyed "
            "by the column keys or names."
        ),
    ]


def template_csv(spec: ImportSpec) -> bytes:
    """The CSV template in UTF-8 with a BOM, so Excel opens the Chinese headers correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(column.header) for column in spec.columns])
    writer.writerow([str(column.example) for column in spec.columns])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def template_json(spec: ImportSpec) -> bytes:
    # Systems send codes rather than labels: the example shows the code of a choice.
    example = [
        {
            column.key: column._choice_lookup.get(_normal(str(column.example)), str(column.example))
            if column.choices
            else str(column.example)
            for column in spec.columns
        }
    ]
    return json.dumps(example, ensure_ascii=False, indent=2).encode("utf-8")


TEMPLATE_WRITERS = {"xlsx": template_xlsx, "csv": template_csv, "json": template_json}


def template_response(spec: ImportSpec, fmt: str) -> HttpResponse:
    if fmt not in TEMPLATE_WRITERS:
        raise ValueError(f"unknown template format {fmt!r}")
    # xgettext does not look inside f-strings: the word is translated on its own line.
    word = gettext("template")
    filename = f"{re.sub(r'[^\w\-]+', '_', str(spec.title)).strip('_')}-{word}.{fmt}"
    response = HttpResponse(TEMPLATE_WRITERS[fmt](spec), content_type=CONTENT_TYPES[fmt])
    from django.utils.http import content_disposition_header

    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def error_sheet(
    spec: ImportSpec, errors: Sequence[RowError], *, errors_total: int, filename: str, generated_by: str
):
    """The errors of a check as an export Sheet (registry.exports writes it)."""
    from registry.exports import Column, Sheet

    filters = [(gettext("file"), filename)]
    if errors_total > len(errors):
        filters.append(
            (
                gettext("shown"),
                gettext("the first %(shown)s of %(total)s problems")
                % {"shown": len(errors), "total": errors_total},
            )
        )
    return Sheet(
        title=gettext("Import problems: %(title)s") % {"title": spec.title},
        columns=[
            Column(_("row"), "row", 8),
            Column(_("column"), "header", 18),
            Column(_("value"), "value", 24),
            Column(_("problem"), "message_zh", 60),
            Column(_("problem (English)"), "message_en", 60),
        ],
        rows=list(errors),
        filters=filters,
        generated_by=generated_by,
        total=errors_total,
    )
