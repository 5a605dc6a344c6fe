"""Card use records (刷卡记录): hospitals report uses in batches; the daily aggregates move with them.

A batch is taken once per (institution, the hospital's batch id): sent again with the same records it returns
the first result and writes nothing; sent again with other records it is refused. Records are checked, their
cards found through the blind index (each card number's index computed once, one query per chunk), and written
in bulk (COPY on PostgreSQL). A record that names an unknown card, a bad time or scenario is kept as a rejected
row with its reason; a use already recorded (same card, institution, time and scenario) is a duplicate and
counts once. The daily aggregates (`CardUseDaily`) are incremented in the same transaction and journaled with
their absolute counts (kind `cards.use_daily`), so applying a row twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cache

from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cards.actions.holders import BlindIndexer, _copy_text, _Writer
from cards.actions.production import JournalBatch, check_scope
from cards.models import Card, CardUse, CardUseBatch, CardUseDaily
from cards.models.uses import CardUseRejection, CardUseScenario, CardUseStatus
from institutions.choices import OrganisationStatus
from institutions.models import MedicalInstitution
from registry.actors import Actor
from registry.audit import audit_record
from registry.choices import Channel
from registry.errors import DomainError, PermissionDeniedError
from registry.journal import journal_append
from registry.models import Region
from registry.protection import keyring

USE_DAILY_KIND = "cards.use_daily"
MAX_RECORDS = 200_000  # per batch; a day of a large hospital is well below
LOOKUP_CHUNK = 5000  # card numbers (or card ids) per look-up query
FUTURE_TOLERANCE = dt.timedelta(minutes=10)  # hospital clocks drift; a use far ahead of ours is an error
R = CardUseRejection
_SCENARIOS = frozenset(CardUseScenario.values)
_NULL = "\\N"


class BatchConflictError(DomainError):
    code = "batch_conflict"
    status = 409


@dataclass
class CardUseIngestResult:
    """What the hospital is told: counts, and every rejected record with its reason in Chinese and English."""

    batch: CardUseBatch
    accepted: int
    duplicates: int
    rejected: list[dict] = field(default_factory=list)
    resent: bool = False

    def as_dict(self) -> dict:
        return {
            "batch_id": self.batch.batch_id,
            "institution": self.batch.institution.code,
            "records": self.batch.record_count,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "resent": self.resent,
            "received_at": self.batch.received_at.isoformat(),
        }


@cache
def rejection_messages(code: str) -> tuple[str, str]:
    label = R(code).label
    with translation.override("zh-hans"):
        zh = str(label)
    with translation.override("en"):
        en = str(label)
    return zh, en


def rejection(line: int, code: str) -> dict:
    zh, en = rejection_messages(code)
    return {"line": line, "code": code, "message_zh": zh, "message_en": en}


def batch_result(batch: CardUseBatch, *, resent: bool = False) -> CardUseIngestResult:
    return CardUseIngestResult(
        batch=batch,
        accepted=batch.accepted_count,
        duplicates=batch.duplicate_count,
        rejected=[rejection(item["line"], item["code"]) for item in batch.rejections],
        resent=resent,
    )


def records_digest(records: list) -> str:
    """A keyed digest of the batch's content (it carries card numbers: keyed, so it cannot be tried against)."""
    text = json.dumps(records, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(keyring().index_key, text.encode(), hashlib.sha256).hexdigest()


def _parse_time(value, tz) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    # A time without an offset is the hospital's local time, which is the node's (Asia/Shanghai).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


class _Row:
    __slots__ = ("card_id", "chip", "index", "line", "reason", "scenario", "used_at")

    def __init__(self, line, index, chip, used_at, scenario, reason):
        self.line, self.index, self.chip = line, index, chip
        self.used_at, self.scenario, self.reason = used_at, scenario, reason
        self.card_id = None


def _parse_records(records: list) -> list[_Row]:
    tz = timezone.get_current_timezone()
    latest = timezone.now() + FUTURE_TOLERANCE
    indexer = BlindIndexer(Card._meta.get_field("card_index").family)
    indexes: dict[str, str] = {}
    rows = []
    for line, record in enumerate(records, 1):
        if not isinstance(record, dict):
            record = {}
        card_no = str(record.get("card_no") or "").strip()
        chip = str(record.get("chip_serial") or "").strip()
        index = ""
        if card_no:
            index = indexes.get(card_no)
            if index is None:
                index = indexes[card_no] = indexer.index(card_no)
        used_at = _parse_time(record.get("used_at"), tz)
        scenario = str(record.get("scenario") or "").strip()
        reason = ""
        if not card_no or not chip:
            reason = R.MISSING_CARD
        elif used_at is None:
            reason = R.BAD_TIME
        elif used_at > latest:
            reason = R.FUTURE_TIME
        elif scenario not in _SCENARIOS:
            reason = R.BAD_SCENARIO
        rows.append(_Row(line, index, chip, used_at, scenario if scenario in _SCENARIOS else "", reason))
    return rows


def _select_any(sql: str, column_values: list, params: list, fallback) -> list[tuple]:
    """Rows of `sql` whose column is in `column_values`: on PostgreSQL one query with an array parameter
    (`= ANY(%s)`: no statement with thousands of placeholders to build and parse), elsewhere the ORM fallback
    in chunks."""
    if not column_values:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, [column_values, *params])
            return cursor.fetchall()
    rows = []
    for start in range(0, len(column_values), LOOKUP_CHUNK):
        rows.extend(fallback(column_values[start : start + LOOKUP_CHUNK]))
    return rows


def _resolve_cards(rows: list[_Row]) -> None:
    """Each candidate's card by (blind index, chip serial): one query for the batch's distinct card numbers."""
    wanted = list(dict.fromkeys(row.index for row in rows if not row.reason))
    table = connection.ops.quote_name(Card._meta.db_table)
    found = {
        (index, chip): card_id
        for index, chip, card_id in _select_any(
            f"SELECT card_index, chip_serial, id FROM {table} WHERE card_index = ANY(%s)",  # noqa: S608
            wanted,
            [],
            lambda chunk: Card.objects.filter(card_index__in=chunk).values_list(
                "card_index", "chip_serial", "id"
            ),
        )
    }
    for row in rows:
        if not row.reason:
            row.card_id = found.get((row.index, row.chip))
            if row.card_id is None:
                row.reason = R.UNKNOWN_CARD


def _drop_duplicates(rows: list[_Row], institution: MedicalInstitution) -> tuple[list[_Row], int]:
    """The rows to write, and how many accepted ones repeat a use seen earlier in the batch or recorded before."""
    accepted = [row for row in rows if not row.reason]
    recorded: set[tuple] = set()
    if accepted:
        low = min(row.used_at for row in accepted)
        high = max(row.used_at for row in accepted)
        card_ids = list(dict.fromkeys(row.card_id for row in accepted))
        table = connection.ops.quote_name(CardUse._meta.db_table)
        recorded.update(
            _select_any(
                f"SELECT card_id, used_at, scenario FROM {table} WHERE card_id = ANY(%s) "  # noqa: S608
                "AND institution_id = %s AND used_at >= %s AND used_at <= %s",
                card_ids,
                [institution.pk, low, high],
                lambda chunk: CardUse.objects.filter(
                    institution=institution, card_id__in=chunk, used_at__gte=low, used_at__lte=high
                ).values_list("card_id", "used_at", "scenario"),
            )
        )
    kept, duplicates = [], 0
    for row in rows:
        if not row.reason:
            key = (row.card_id, row.used_at, row.scenario)
            if key in recorded:
                duplicates += 1
                continue
            recorded.add(key)
        kept.append(row)
    return kept, duplicates


USE_COLUMNS = (
    "batch_id",
    "line",
    "institution_id",
    "region_id",
    "used_at",
    "card_id",
    "card_index",
    "chip_serial",
    "scenario",
    "status",
    "reason",
)


def _write_uses(rows: list[_Row], batch: CardUseBatch) -> None:
    copy_mode = connection.vendor == "postgresql"
    batch_id, institution_id, region_id = batch.pk, batch.institution_id, batch.region_id
    accepted, rejected = CardUseStatus.ACCEPTED.value, CardUseStatus.REJECTED.value
    with connection.cursor() as cursor:
        writer = _Writer(cursor, CardUse._meta.db_table, USE_COLUMNS)
        error = None
        try:
            if copy_mode:
                fixed = (str(batch_id), str(institution_id), region_id)
                for row in rows:
                    writer.add(
                        (
                            fixed[0],
                            str(row.line),
                            fixed[1],
                            fixed[2],
                            row.used_at.isoformat() if row.used_at else _NULL,
                            str(row.card_id) if row.card_id else _NULL,
                            "" if row.card_id else row.index,
                            _copy_text(row.chip[:20]),
                            row.scenario,
                            rejected if row.reason else accepted,
                            row.reason,
                        )
                    )
            else:
                adapt = connection.ops.adapt_datetimefield_value
                for row in rows:
                    writer.add(
                        (
                            batch_id,
                            row.line,
                            institution_id,
                            region_id,
                            adapt(row.used_at) if row.used_at else None,
                            row.card_id,
                            "" if row.card_id else row.index,
                            row.chip[:20],
                            row.scenario,
                            rejected if row.reason else accepted,
                            str(row.reason),
                        )
                    )
        except BaseException as exc:
            error = exc
            raise
        finally:
            writer.finish(error)


def daily_key(day: dt.date, institution_code: str, scenario: str) -> str:
    return f"{day.isoformat()}:{institution_code}:{scenario}"


def daily_payload(daily: CardUseDaily, institution_code: str) -> dict:
    return {
        "day": daily.day.isoformat(),
        "institution": institution_code,
        "scenario": daily.scenario,
        "region": daily.region_id,
        "count": daily.count,
    }


def _add_to_daily(rows: list[_Row], institution: MedicalInstitution, journal: JournalBatch, now) -> None:
    """Increment the day/scenario counts of the institution by the batch's accepted uses; journal the totals."""
    tz = timezone.get_current_timezone()
    added = Counter((row.used_at.astimezone(tz).date(), row.scenario) for row in rows if not row.reason)
    if not added:
        return
    days = {day for day, _scenario in added}
    current = {
        (daily.day, daily.scenario): daily
        for daily in CardUseDaily.objects.select_for_update().filter(institution=institution, day__in=days)
    }
    changed, created = [], []
    for (day, scenario), count in sorted(added.items()):
        daily = current.get((day, scenario))
        if daily is None:
            daily = CardUseDaily(
                day=day,
                institution=institution,
                scenario=scenario,
                region_id=institution.region_id,
                count=count,
                changed_at=now,
            )
            created.append(daily)
        else:
            daily.count += count
            daily.changed_at = now
            changed.append(daily)
        journal.add(
            USE_DAILY_KIND, daily_key(day, institution.code, scenario), daily_payload(daily, institution.code)
        )
    CardUseDaily.objects.bulk_create(created, batch_size=1000)
    CardUseDaily.objects.bulk_update(changed, ["count", "changed_at"], batch_size=1000)


@transaction.atomic(durable=True)
def card_use_ingest_batch(
    *, actor: Actor, institution: MedicalInstitution, batch_id: str, records: list[dict]
) -> CardUseIngestResult:
    """Take a hospital's batch of card uses (each: card_no, chip_serial, used_at, scenario).

    Returns the counts (accepted, duplicates) and the rejected records with their reasons. Idempotent per
    (institution, batch id); the same id with other records is refused (BatchConflictError).
    """
    batch_id = (batch_id or "").strip()
    if not batch_id or len(batch_id) > 64:
        raise DomainError(
            _("Give the batch id the hospital assigned (1 to 64 characters)."),
            code="batch_id_invalid",
            detail={"field": "batch_id"},
        )
    if not isinstance(records, list) or not records:
        raise DomainError(_("The batch has no records."), code="batch_empty", detail={"field": "records"})
    if len(records) > MAX_RECORDS:
        raise DomainError(
            _("A batch holds at most %(max)s records; this one has %(count)s. Split it."),
            {"max": MAX_RECORDS, "count": len(records)},
            code="batch_too_large",
            detail={"field": "records"},
        )
    # The institution's row lock serialises its batches: a batch sent twice at once is taken once.
    institution = MedicalInstitution.objects.select_for_update().get(pk=institution.pk)
    check_scope(actor, institution.region_id, institution)
    digest = records_digest(records)
    existing = CardUseBatch.objects.filter(institution=institution, batch_id=batch_id).first()
    if existing is not None:
        if existing.digest != digest:
            raise BatchConflictError(
                _(
                    "Batch %(batch)s of %(institution)s was received on %(at)s with other records "
                    "(%(count)s records). A batch is never changed: send new or corrected records under a new "
                    "batch id."
                ),
                {
                    "batch": batch_id,
                    "institution": institution.name,
                    "at": timezone.localtime(existing.received_at).strftime("%Y-%m-%d %H:%M"),
                    "count": existing.record_count,
                },
                detail={"field": "batch_id", "received_at": existing.received_at.isoformat()},
            )
        existing.institution = institution
        return batch_result(existing, resent=True)
    if institution.status != OrganisationStatus.ACTIVE:
        raise DomainError(
            _("%(institution)s is deregistered: it cannot report card uses."),
            {"institution": institution.name},
            code="institution_inactive",
        )

    rows = _parse_records(records)
    _resolve_cards(rows)
    rows, duplicates = _drop_duplicates(rows, institution)
    rejected = [{"line": row.line, "code": str(row.reason)} for row in rows if row.reason]
    now = timezone.now()
    batch = CardUseBatch.objects.create(
        institution=institution,
        batch_id=batch_id,
        region_id=institution.region_id,
        digest=digest,
        record_count=len(records),
        accepted_count=len(rows) - len(rejected),
        duplicate_count=duplicates,
        rejected_count=len(rejected),
        rejections=rejected,
        received_at=now,
    )
    _write_uses(rows, batch)
    journal = JournalBatch()
    _add_to_daily(rows, institution, journal, now)
    audit_record(
        actor=actor,
        action="card_use.ingest",
        target=batch,
        changes={
            "batch_id": batch_id,
            "institution": institution.code,
            "records": batch.record_count,
            "accepted": batch.accepted_count,
            "duplicates": duplicates,
            "rejected": len(rejected),
        },
    )
    journal.flush()
    return batch_result(batch)


@transaction.atomic
def card_use_daily_apply(*, actor: Actor, payload: dict) -> CardUseDaily:
    """Apply one `cards.use_daily` row from below: the absolute count of (day, institution, scenario).

    Idempotent (the count is set, not added); re-journaled unchanged so it travels on up. The institution (by
    code) must be here already: institutions travel up before the figures about them.
    """
    if actor.channel != Channel.SYNC:
        raise PermissionDeniedError(
            _("Card use figures from below are written by sync only."), code="use_daily_apply_channel"
        )
    try:
        day = dt.date.fromisoformat(payload["day"])
        scenario, count, code = payload["scenario"], int(payload["count"]), payload["institution"]
        region_code = payload["region"]
    except (KeyError, TypeError, ValueError) as error:
        raise DomainError(
            _("A card use figure is incomplete: %(problem)s."), {"problem": error}, code="use_daily_invalid"
        ) from error
    institution = MedicalInstitution.objects.filter(code=code).first()
    if institution is None or scenario not in _SCENARIOS or count < 0:
        raise DomainError(
            _("Card use figure %(key)s names an institution or scenario this node does not know."),
            {"key": daily_key(day, code, scenario)},
            code="use_daily_reference_unknown",
        )
    region = Region.objects.filter(code=region_code).first() or institution.region
    daily = (
        CardUseDaily.objects.select_for_update()
        .filter(day=day, institution=institution, scenario=scenario)
        .first()
    )
    now = timezone.now()
    if daily is not None and daily.count == count:
        return daily
    if daily is None:
        daily = CardUseDaily.objects.create(
            day=day, institution=institution, scenario=scenario, region=region, count=count, changed_at=now
        )
    else:
        daily.count, daily.changed_at = count, now
        daily.save(update_fields=["count", "changed_at"])
    journal_append(kind=USE_DAILY_KIND, key=daily_key(day, code, scenario), payload=payload)
    return daily
