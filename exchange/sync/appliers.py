"""How each journal kind is applied at the receiving node: one function per kind, in one registry.

An applier gets the row (kind, key, op, origin) and its payload with personal fields in clear, and writes this
node's copy, found by the row's natural key (institutions by USCC code, holders and cards by the blind index of
their sealed values, events by their origin). The row itself is re-journaled by exchange.sync.apply with its
origin kept, so it travels on; an applier that re-journals by itself (the vendors apply actions) says so with
`journals=True`. A kind with no applier quarantines its bundle: adding a kind is one decorated function here.

The kinds a catch-up carries by the million (holders, cards, card events) also have a batch function
(`batch=`): it gets the rows of one run (consecutive rows of a bundle, in order, that share the batch function)
and applies them as the row function would one after the other, but with one look-up query per run for the
objects they name and one bulk write per table. Every other kind is applied row by row through the same call
(`Applier.batch_function` wraps its row function), so exchange.sync.apply has one way to apply a run of rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cards.actions.common import holder_batch_expand
from cards.choices import CardStatus
from cards.models import Card, CardEvent, Resident
from exchange.choices import ConflictStatus
from exchange.models import UniquenessConflict
from institutions.models import CardMaker, FinancialInstitution, MedicalInstitution
from registry.actors import Actor
from registry.errors import DomainError
from registry.imports import Among
from registry.models import RegistrationCentre
from registry.protection import blind_index, blind_indexes
from vendors import actions as vendor_actions


class ApplyError(Exception):
    """A row this node cannot apply; the message is the quarantine reason a person reads. `located` is set once
    the message names the row (row_failure), so it is not prefixed twice."""

    def __init__(self, message: str, *, located: bool = False):
        super().__init__(message)
        self.located = located


def row_failure(row: dict, error: Exception) -> ApplyError | None:
    """The quarantine reason for `error` raised while applying `row`, naming the row; None for an error that is
    not the row's fault (a database error), which is raised as it is."""
    where = f"row {row['origin_node']}#{row['origin_seq']}"
    if isinstance(error, ApplyError):
        if error.located:
            return error
        return ApplyError(f"{where} ({row['kind']} {row['key'][:24]}): {error}", located=True)
    if isinstance(error, DomainError):
        return ApplyError(f"{where} ({row['kind']}): {error.message_en}", located=True)
    if isinstance(error, KeyError | ValueError | TypeError):
        return ApplyError(f"{where} ({row['kind']}): payload lacks or mangles {error!s}", located=True)
    return None


# What a row's own content can raise (row_failure names the row); anything else is the database's.
ROW_ERRORS = (ApplyError, DomainError, KeyError, ValueError, TypeError)


@contextmanager
def applying(row: dict) -> Iterator[None]:
    """Errors raised inside name the row they came from (the reason a quarantined bundle shows)."""
    try:
        yield
    except ROW_ERRORS as error:
        raise row_failure(row, error) from None


@dataclass
class ApplyContext:
    actor: Actor
    sender: str
    direction: str


Row = tuple[dict, dict]  # (the row as it came, its payload with personal fields in clear)


@cache
def _one_by_one(
    function: Callable[[ApplyContext, dict, dict], None],
) -> Callable[[ApplyContext, list[Row]], None]:
    def apply_each(ctx: ApplyContext, rows: list[Row]) -> None:
        for row, clear in rows:
            with applying(row):
                function(ctx, row, clear)

    return apply_each


@dataclass(frozen=True)
class Applier:
    kind: str
    function: Callable[[ApplyContext, dict, dict], None]
    journals: bool = False  # the function re-journals the row itself (with the origin, via journal_origin)
    # The row is the state of its object (an upsert): a row older than one already applied for the same
    # object is journaled but not applied, so a late (re-applied, out-of-order) bundle never rolls state back.
    # Events are not states: each one is applied once.
    latest_wins: bool = True
    # Applied before the other rows of a bundle (what they refer to: centres, institutions, filings, holders);
    # rows of one kind keep their order.
    rank: int = 5
    # Applies a run of rows at once, with the same outcome as `function` row after row (see the module's doc).
    batch: Callable[[ApplyContext, list[Row]], None] | None = None

    @property
    def batch_function(self) -> Callable[[ApplyContext, list[Row]], None]:
        """What applies a run of this kind's rows: its batch function, or its row function row by row."""
        return self.batch or _one_by_one(self.function)


APPLIERS: dict[str, Applier] = {}


def applier(
    *kinds: str,
    journals: bool = False,
    latest_wins: bool = True,
    rank: int = 5,
    batch: Callable[[ApplyContext, list[Row]], None] | None = None,
):
    def register(function):
        for kind in kinds:
            APPLIERS[kind] = Applier(
                kind, function, journals=journals, latest_wins=latest_wins, rank=rank, batch=batch
            )
        return function

    return register


def _when(value: str | None) -> dt.datetime | None:
    return parse_datetime(value) if value else None


def _day(value: str | None) -> dt.date | None:
    return parse_date(value) if value else None


def _upsert(model, lookup: dict, values: dict):
    """Create or update one row by its natural key; an unchanged row writes nothing."""
    obj = model.objects.select_for_update().filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values)
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    if changed:
        obj.save(update_fields=changed)
    return obj


def _insert(model, records: list) -> None:
    """Insert new rows of `model` at once, each a model instance or a dict by column (attname); a column a dict
    leaves out gets the field's default. Blind indexes are taken as given (no pre_save).

    The values are made what the columns store here, in bulk (sealed with one BulkSealer, JSON dumped) and sent
    as they are (bulk_insert_values(prepared=True)): a field's own get_db_prep_save per value costs more than
    everything else an apply does with a row."""
    from cards.actions.holders import BulkSealer
    from registry.imports import bulk_insert_values
    from registry.protection import EncryptedJSONField, EncryptedTextField

    if not records:
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    names = [field.attname for field in fields]
    if isinstance(records[0], dict):
        defaults = {name: field.get_default() for name, field in zip(names, fields, strict=True)}
        # A merged dict keeps the defaults' (column) order: one merge per record instead of a look-up per column.
        rows = [list({**defaults, **record}.values()) for record in records]
        if any(
            len(row) != len(names) for row in rows
        ):  # a record naming more than columns: those are left out
            rows = [[record.get(name, default) for name, default in defaults.items()] for record in records]
    else:
        rows = [[getattr(record, name) for name in names] for record in records]
    sealer = BulkSealer()
    for at, field in enumerate(fields):
        if isinstance(field, EncryptedTextField):
            context = field.seal_context.encode()
            as_json = isinstance(field, EncryptedJSONField)
            for row in rows:
                row[at] = _sealed(row[at], context, sealer, as_json=as_json)
        elif isinstance(field, models.JSONField):
            dump = json.JSONEncoder(cls=field.encoder).encode if field.encoder else _JSON.encode
            for row in rows:
                if row[at] is not None:
                    row[at] = dump(row[at])
    bulk_insert_values(model, names, rows, prepared=True)


_JSON = json.JSONEncoder()


def _sealed(value, context: bytes, sealer, *, as_json: bool):
    """What EncryptedTextField / EncryptedJSONField.get_prep_value stores for `value` (BulkSealer's token)."""
    if as_json:
        if value is None:
            return None
        if isinstance(value, str):  # already JSON text
            value = json.loads(value) if value else []
        return sealer.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")), context)
    if value in (None, ""):
        return value
    return sealer.seal(str(value), context)


# --- Registry ------------------------------------------------------------------------------------------


@applier("registry.centre", rank=0)
def centre_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    from django.conf import settings

    from exchange.sync.nodes import subtree_prefix

    if payload["region"] == settings.HC_REGION:
        return  # this node's own record is kept by this node (its key must not be replaced from outside)
    if not payload["region"].startswith(subtree_prefix(row["origin_node"])):
        # A node speaks for the centres of its own subtree only: a city's copy of its province's record
        # (how it learnt the parent's key) travels up but does not overwrite the province's own record.
        return
    fields = ("tier", "name", "contact_person", "phone", "address", "head", "status", "status_reason")
    values = {name: payload.get(name, "") for name in fields}
    values.update(
        base_url=payload.get("base_url", ""),
        public_key=payload.get("public_key", ""),
        registered_at=_when(payload["registered_at"]),
        changed_at=_when(payload["changed_at"]),
    )
    _upsert(RegistrationCentre, {"region_id": payload["region"]}, values)


# --- Institutions -------------------------------------------------------------------------------------

ORGANISATIONS = {
    "institutions.medical": MedicalInstitution,
    "institutions.cardmaker": CardMaker,
    "institutions.financial": FinancialInstitution,
}


@applier(*ORGANISATIONS, rank=1)
def organisation_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    model = ORGANISATIONS[row["kind"]]
    values = {name: payload.get(name, "") for name in model.JOURNAL_FIELDS if name != "code"}
    values.update(
        region_id=payload["region"],
        registered_at=_when(payload["registered_at"]),
        changed_at=_when(payload["changed_at"]),
    )
    _upsert(model, {"code": payload["code"]}, values)


# --- Vendors (their own apply actions, which audit and re-journal) --------------------------------------

# The vendors actions are durable transactions meant to be called from the edge; a bundle is applied in one
# transaction, so exchange calls the function inside the decorator (same code, the bundle's transaction).
_filing_apply = vendor_actions.filing_apply.__wrapped__
_actual_use_apply = vendor_actions.actual_use_apply.__wrapped__


@applier(vendor_actions.MANUFACTURER_KIND, vendor_actions.PRODUCT_KIND, journals=True, rank=2)
def filing_row_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    _filing_apply(actor=ctx.actor, kind=row["kind"], payload=payload, op=row["op"])


@applier(vendor_actions.ACTUAL_USE_KIND, journals=True)
def actual_use_row_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    _actual_use_apply(actor=ctx.actor, payload=payload)


# --- Cards ---------------------------------------------------------------------------------------------

HOLDER_PLAIN = (
    "document_type",
    "sex",
    "ethnicity",
    "region",
    "address1_type",
    "address2_type",
    "education",
    "marital_status",
    "occupation",
)
HOLDER_NOT_HERE = "the holder of this card or event is not here yet (its holder row has not arrived)"


def _holder_values(payload: dict) -> dict:
    """The fields a holder row sets (all but its identity: document type and number)."""
    values = {
        name: payload.get(name) or "" for name in HOLDER_PLAIN if name not in ("document_type", "region")
    }
    for name in Resident.PERSONAL_FIELDS:
        if name != "document_number":
            values[name] = payload.get(name) or ([] if name == "contacts" else "")
    values.update(
        region_id=payload["region"],
        birth_date=_day(payload["birth_date"]),
        changed_at=_when(payload.get("changed_at")) or timezone.now(),
    )
    return values


def _text(payload: dict, name: str) -> str:
    value = payload[name]
    if not isinstance(value, str):
        raise ValueError(name)
    return value


def holder_upsert(payload: dict) -> Resident:
    values = _holder_values(payload)
    index = blind_index(payload["document_number"], family="id_number")
    resident = (
        Resident.objects.select_for_update()
        .filter(document_index=index, document_type=payload["document_type"])
        .first()
    )
    if resident is None:
        return Resident.objects.create(
            document_number=payload["document_number"],
            document_type=payload["document_type"],
            created_at=values["changed_at"],
            **values,
        )
    changed = [name for name, value in values.items() if getattr(resident, name) != value]
    for name in changed:
        setattr(resident, name, values[name])
    if changed:
        resident.save(update_fields=changed)
    return resident


def holders_apply_batch(ctx: ApplyContext, rows: list[Row]) -> None:
    """cards.holder and cards.holder_batch rows: holder_upsert for each holder in order, with one look-up of the
    holders already here, one bulk insert of the new ones and one update of those that change."""
    from registry.imports import bulk_update_values

    holders: list[tuple[dict, str, str, dict]] = []  # (row, document type, document number, values)
    try:
        for row, clear in rows:
            if row["kind"] == "cards.holder_batch":
                # The batch's personal token was sealed again with this node's keys (row["sealed_payload"]).
                expanded = [holder for _key, holder in holder_batch_expand(row["sealed_payload"])]
            else:
                expanded = [clear]
            for holder in expanded:
                number = _text(holder, "document_number")
                holders.append((row, holder["document_type"], number, _holder_values(holder)))
    except ROW_ERRORS as error:  # (one try for the run: a context manager per row costs more)
        raise row_failure(row, error) from None
    indexes = blind_indexes([number for _row, _type, number, _values in holders], family="id_number")
    here = {
        (resident.document_type, resident.document_index): resident
        for resident in Resident.objects.select_for_update().filter(
            Among(F("document_index"), set(indexes.values()))
        )
    }
    new: dict[tuple[str, str], dict] = {}  # by column, as _insert takes them
    changed: dict[int, tuple[Resident, set[str]]] = {}
    for _row, document_type, number, values in holders:
        key = (document_type, indexes[number])
        if key in new:  # registered earlier in this run: it takes the row's values, as an update would
            new[key].update(values)
            continue
        resident = here.get(key)
        if resident is None:
            new[key] = {
                "document_number": number,
                "document_type": document_type,
                "document_index": key[1],
                "created_at": values["changed_at"],
                **values,
            }
            continue
        names = [name for name, value in values.items() if getattr(resident, name) != value]
        for name in names:
            setattr(resident, name, values[name])
        if names:
            changed.setdefault(resident.pk, (resident, set()))[1].update(names)
    _insert(Resident, list(new.values()))
    if changed:
        fields = sorted(set().union(*(names for _resident, names in changed.values())))
        bulk_update_values(Resident, [resident for resident, _names in changed.values()], fields)


@applier("cards.holder", rank=3, batch=holders_apply_batch)
def holder_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    holder_upsert(payload)


@applier("cards.holder_batch", rank=3, latest_wins=False, batch=holders_apply_batch)
def holder_batch_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    # The batch's personal token was sealed again with this node's keys (row["sealed_payload"]).
    for _key, holder in holder_batch_expand(row["sealed_payload"]):
        holder_upsert(holder)


def _resident_of(document_number: str, document_type: str | None = None) -> Resident:
    residents = Resident.objects.filter(document_index=blind_index(document_number, family="id_number"))
    if document_type:
        residents = residents.filter(document_type=document_type)
    resident = residents.first()
    if resident is None:
        raise ApplyError(HOLDER_NOT_HERE)
    return resident


def _institution(code: str) -> dict:
    if not code:
        return {}
    medical = MedicalInstitution.objects.filter(code=code).first()
    if medical:
        return {"medical_institution": medical}
    bank = FinancialInstitution.objects.filter(code=code).first()
    return {"financial_institution": bank} if bank else {}


def _institutions(codes: set[str]) -> dict[str, dict]:
    """_institution for many codes at once: {code: what _institution(code) gives}."""
    found = {code: {"financial_institution": bank} for code, bank in _by_code(FinancialInstitution, codes)}
    found.update(
        {code: {"medical_institution": medical} for code, medical in _by_code(MedicalInstitution, codes)}
    )
    return found


def _by_code(model, codes: set[str]):
    return ((obj.code, obj) for obj in model.objects.filter(code__in=codes)) if codes else ()


def _card_record(card: Card, origin: str) -> dict:
    point = card.issuing_point
    return {
        "origin": origin,
        "region": card.region_id,
        "chip_serial": card.chip_serial,
        "status": card.status,
        "institution_code": getattr(point, "code", ""),
        # In UTC, as read back from the database, whether the card was just written or read.
        "collected_at": card.collected_at.astimezone(dt.UTC).isoformat() if card.collected_at else "",
    }


def _card_values(payload: dict) -> dict:
    return {
        "status": payload["status"],
        "region_id": payload["region"],
        "collected_at": _when(payload.get("collected_at")),
        "expires_on": _day(payload.get("expires_on")),
    }


def card_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    index = blind_index(payload["card_no"], family="id_number")
    values = {**_card_values(payload), **_institution(payload.get("institution_code", ""))}
    cards = Card.objects.select_for_update().filter(card_index=index)
    card = cards.filter(chip_serial=payload["chip_serial"]).first()
    if card is None and payload["chip_serial"]:
        # A card allocated before its chip was written (on-site issuance) is the same physical card: it gets
        # its chip serial here as it did at the source.
        card = cards.filter(chip_serial="", status=CardStatus.ISSUING).first()
        if card is not None:
            card.chip_serial = payload["chip_serial"]
            card.save(update_fields=["chip_serial"])
    if card is None:
        card = Card.objects.create(
            card_no=payload["card_no"],
            chip_serial=payload["chip_serial"],
            resident=_resident_of(payload["card_no"]),
            created_at=timezone.now(),
            status_changed_at=timezone.now(),
            **values,
        )
    else:
        changed = [name for name, value in values.items() if getattr(card, name) != value]
        if "status" in changed:
            card.status_changed_at = timezone.now()
            changed.append("status_changed_at")
        for name in changed:
            if name != "status_changed_at":
                setattr(card, name, values[name])
        if changed:
            card.save(update_fields=changed)
    if card.status == CardStatus.ACTIVE:
        uniqueness_check(card, origin=row["origin_node"])


class _NewCard:
    """A card a run of cards.card rows inserts, as cards_apply_batch reads and changes it: the fields of a Card
    (attributes by field name; an institution as its object) without making a model instance, which costs more
    than the rest of the row's apply."""

    pk = None
    medical_institution = None
    financial_institution = None

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @property
    def issuing_point(self):
        return self.medical_institution or self.financial_institution

    def columns(self) -> dict:
        """By column (attname), as _insert takes a new row."""
        columns = dict(self.__dict__)
        for name in ("medical_institution", "financial_institution"):
            institution = columns.pop(name, None)
            columns[f"{name}_id"] = institution.pk if institution is not None else None
        return columns


def cards_apply_batch(ctx: ApplyContext, rows: list[Row]) -> None:
    """cards.card rows: card_apply for each in order, against the cards of the run's numbers read once (locked),
    then one bulk insert of the new cards and one update of those that change."""
    from registry.imports import bulk_update_values

    parsed = []  # (row, card number, chip serial, values, institution code)
    try:
        for row, clear in rows:
            number, chip = _text(clear, "card_no"), clear["chip_serial"]
            parsed.append((row, number, chip, _card_values(clear), clear.get("institution_code", "")))
    except ROW_ERRORS as error:  # (one try for the run: a context manager per row costs more)
        raise row_failure(row, error) from None
    indexes = blind_indexes([number for _row, number, *_rest in parsed], family="id_number")
    wanted = set(indexes.values())
    institutions = _institutions({code for *_rest, code in parsed if code})
    here: dict[str, list[Card | _NewCard]] = {index: [] for index in wanted}  # by card index, newest first
    for card in (
        Card.objects.select_for_update(of=("self",))
        .select_related("medical_institution", "financial_institution")
        .filter(Among(F("card_index"), wanted))
        .order_by("-id")
    ):
        here[card.card_index].append(card)
    holders: dict[str, int] = {}  # the newest holder with the number, as _resident_of finds it
    for index, pk in (
        Resident.objects.filter(Among(F("document_index"), wanted))
        .order_by("-id")
        .values_list("document_index", "pk")
    ):
        holders.setdefault(index, pk)
    now = timezone.now()
    new: list[_NewCard] = []
    changed: dict[int, tuple[Card, set[str]]] = {}
    conflicts: dict[str, list[dict]] = {}
    try:
        for row, number, chip, values, code in parsed:
            index = indexes[number]
            values = {**values, **institutions.get(code, {})}
            cards = here[index]
            names: list[str] = []
            card = next((card for card in cards if card.chip_serial == chip), None)
            if card is None and chip:
                card = next(
                    (c for c in cards if c.chip_serial == "" and c.status == CardStatus.ISSUING), None
                )
                if card is not None:
                    card.chip_serial = chip
                    names.append("chip_serial")
            if card is None:
                if index not in holders:
                    raise ApplyError(HOLDER_NOT_HERE)
                card = _NewCard(
                    card_no=number,
                    card_index=index,
                    chip_serial=chip,
                    resident_id=holders[index],
                    created_at=now,
                    status_changed_at=now,
                    **values,
                )
                cards.insert(0, card)
                new.append(card)
            else:
                differ = [name for name, value in values.items() if getattr(card, name) != value]
                for name in differ:
                    setattr(card, name, values[name])
                if "status" in differ:
                    card.status_changed_at = now
                    differ.append("status_changed_at")
                names += differ
            if names and card.pk is not None:
                changed.setdefault(card.pk, (card, set()))[1].update(names)
            if card.status == CardStatus.ACTIVE:
                others = [other for other in cards if other is not card and other.status == CardStatus.ACTIVE]
                if others:
                    conflicts[index] = [_card_record(card, row["origin_node"])] + [
                        _card_record(other, other.region_id) for other in others
                    ]
    except ROW_ERRORS as error:  # (one try for the run: a context manager per row costs more)
        raise row_failure(row, error) from None
    _insert(Card, [card.columns() for card in new])
    if changed:
        fields = sorted(set().union(*(names for _card, names in changed.values())))
        bulk_update_values(Card, [card for card, _names in changed.values()], fields)
    for index, records in conflicts.items():  # the last one seen for a number is what uniqueness_check leaves
        conflict_record(index, records)


applier("cards.card", rank=4, batch=cards_apply_batch)(card_apply)


def uniqueness_check(card: Card, *, origin: str) -> None:
    """National uniqueness: another active card under the same number is listed as a conflict, not merged."""
    others = list(
        Card.objects.filter(card_index=card.card_index, status=CardStatus.ACTIVE)
        .exclude(pk=card.pk)
        .select_related("medical_institution", "financial_institution")
    )
    if not others:
        return
    records = [_card_record(card, origin)] + [_card_record(other, other.region_id) for other in others]
    conflict_record(card.card_index, records)


def conflict_record(card_index: str, records: list[dict]) -> None:
    """Open (or bring up to date) the uniqueness conflict of one card number with the cards' records."""
    origins = sorted({record["origin"] for record in records})
    conflict = UniquenessConflict.objects.filter(card_index=card_index, status=ConflictStatus.OPEN).first()
    if conflict is None:
        UniquenessConflict.objects.create(
            card_index=card_index, origins=origins, records=records, detected_at=timezone.now()
        )
    else:
        conflict.origins, conflict.records = origins, records
        conflict.save(update_fields=["origins", "records"])


def _event(row: dict, payload: dict, resident_id: int, card_id: int | None) -> dict:
    """The event's columns (attnames): CardEvent(**_event(...)) is the event."""
    return {
        "resident_id": resident_id,
        "card_id": card_id,
        "kind": payload["kind"],
        "at": _when(payload["at"]),
        "actor_label": payload.get("actor", "")[:150],
        "channel": payload.get("channel", ""),
        "institution_code": payload.get("institution_code", ""),
        "region_id": payload["region"],
        "reason": payload.get("reason", ""),
        "data": {**(payload.get("data") or {}), "origin": f"{row['origin_node']}:{row['origin_seq']}"},
    }


def event_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    # Events are created once: the journal's (origin node, origin sequence) check in exchange.sync.apply is
    # what makes a repeated row a no-op.
    resident = _resident_of(payload["holder_document"], payload.get("holder_document_type"))
    card = None
    if payload.get("card_no"):
        cards = Card.objects.filter(card_index=blind_index(payload["card_no"], family="id_number"))
        card = cards.filter(chip_serial=payload.get("chip_serial", "")).first()
        if card is None and not payload.get("chip_serial"):
            # An event from before the chip was written (allocation): the card has its serial by now.
            card = cards.order_by("-id").first()
    CardEvent.objects.create(**_event(row, payload, resident.pk, card.pk if card else None))


def events_apply_batch(ctx: ApplyContext, rows: list[Row]) -> None:
    """cards.event rows: event_apply for each, with the holders and cards they name read once and the events
    inserted in one go (events refer to cards and holders only, which a bundle applies before its events)."""
    parsed = []  # (row, payload, holder's document number, card number)
    try:
        for row, clear in rows:
            card_no = clear.get("card_no") or ""
            parsed.append((row, clear, _text(clear, "holder_document"), card_no))
    except ROW_ERRORS as error:  # (one try for the run: a context manager per row costs more)
        raise row_failure(row, error) from None
    indexes = blind_indexes(
        [holder for _r, _p, holder, _c in parsed] + [card for *_rest, card in parsed if card],
        family="id_number",
    )
    holder_indexes = {indexes[holder] for _r, _p, holder, _c in parsed}
    card_indexes = {indexes[card] for *_rest, card in parsed if card}
    typed: dict[tuple[str, str], int] = {}
    newest_holder: dict[str, int] = {}
    for pk, index, document_type in (
        Resident.objects.filter(Among(F("document_index"), holder_indexes))
        .order_by("-id")
        .values_list("pk", "document_index", "document_type")
    ):
        typed.setdefault((index, document_type), pk)
        newest_holder.setdefault(index, pk)
    by_chip: dict[tuple[str, str], int] = {}
    newest_card: dict[str, int] = {}
    if card_indexes:
        for pk, index, chip in (
            Card.objects.filter(Among(F("card_index"), card_indexes))
            .order_by("-id")
            .values_list("pk", "card_index", "chip_serial")
        ):
            by_chip.setdefault((index, chip), pk)
            newest_card.setdefault(index, pk)
    events = []
    try:
        for row, payload, holder, card_no in parsed:
            document_type = payload.get("holder_document_type")
            index = indexes[holder]
            resident = typed.get((index, document_type)) if document_type else newest_holder.get(index)
            if resident is None:
                raise ApplyError(HOLDER_NOT_HERE)
            card = None
            if card_no:
                chip = payload.get("chip_serial", "")
                card = by_chip.get((indexes[card_no], chip))
                if card is None and not chip:
                    card = newest_card.get(indexes[card_no])
            events.append(_event(row, payload, resident, card))
    except ROW_ERRORS as error:  # (one try for the run: a context manager per row costs more)
        raise row_failure(row, error) from None
    _insert(CardEvent, events)
    if events:
        # A bulk insert sends no post_save, which is how a saved event asks the daily counts to fold after the
        # commit (stats.signals): asked once for the run instead of once per event.
        from stats.actions import stats_fold_soon

        transaction.on_commit(stats_fold_soon)


applier("cards.event", latest_wins=False, batch=events_apply_batch)(event_apply)


# Summaries with no copy table above the city: they travel on (journaled with their origin) and count in
# reconciliation, and stats read them from the journal.
PASS_THROUGH = (
    "cards.application",
    "cards.plan",
    "cards.stock_in",
    "cards.stock_out",
    "cards.shipment",
    # SAM work is reviewed tier by tier in each node's own tables (sam.actions); the rows travel on so the
    # parent's journal, reconciliation and statistics see them. Copy tables above the city are a later step.
    "sam.application",
    "sam.plan",
    "sam.card",
    "sam.stock_in",
    "sam.stock_out",
    "sam.shipment",
    "terminals.terminal",
    # One holder, one e-card: the parent learns which e-card ids exist (verification stays with the issuer).
    "exchange.ehc",
)


@applier(*PASS_THROUGH, latest_wins=False)
def pass_through(ctx: ApplyContext, row: dict, payload: dict) -> None:
    return None


@applier("cards.use_daily", journals=True)
def card_use_daily_row_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    """A day's card-use count of one institution and scenario: the absolute count, so applying twice is harmless."""
    from cards.actions.uses import card_use_daily_apply

    card_use_daily_apply(actor=ctx.actor, payload=payload)


# --- Registry's list (blacklist / whitelist) ------------------------------------------------------------


@applier("registry.list_entry", rank=6)
def list_entry_apply(ctx: ApplyContext, row: dict, payload: dict) -> None:
    """Mirror one list change (add or remove) from another node; re-journaled by exchange with its origin.

    The source already decided (a permanent entry comes off there only through a correction), so a remove
    is mirrored as is. The entry keeps the node that first listed it (payload origin_node)."""
    from registry.lists import list_add, list_remove, subject_from_hex

    subject = subject_from_hex(payload["subject"])
    if row["op"] == "delete":
        list_remove(
            list_name=payload["list"],
            subject=subject,
            actor=ctx.actor,
            note=payload.get("note") or "",
            allow_permanent=True,
            journal=False,
        )
        return
    list_add(
        list_name=payload["list"],
        entry_type=payload["type"],
        subject=subject,
        reason=payload["reason"],
        region_code=payload["region"],
        actor=ctx.actor,
        label=payload.get("label") or "",
        object_ref=payload.get("object_ref") or "",
        note=payload.get("note") or "",
        valid_until=_day(payload.get("valid_until")),
        origin_node=payload.get("origin_node") or row["origin_node"],
        journal=False,
    )
