"""Holders: registration with validation against the ID number, modification, audited unmasked look-up,
the bulk import from the regional platform, and the comparison (比对) with a population reference file."""

from __future__ import annotations

import binascii
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric

from cards.actions.common import (
    HOLDER_BATCH_COLUMNS,
    HOLDER_BATCH_CONTEXT,
    HOLDER_BATCH_KIND,
    HOLDER_KIND,
    holder_payload,
    journal_holder,
    record_event,
)
from cards.choices import HOLDER_CONTACT_FIELDS, CardEventKind, ContactRelation, DocumentType, Ethnicity, Sex
from cards.models import Resident
from registry.actors import Actor
from registry.audit import audit_record
from registry.errors import DomainError
from registry.models import Region
from registry.protection import (
    NONCE_BYTES,
    SEAL_PREFIX,
    blind_lookup,
    keyring,
    mask_id_number,
    mask_name,
    normalise_for_index,
)
from registry.scope import node_prefix, user_can_see_region, user_scope_prefix

EDITABLE = (
    "name",
    "ethnicity",
    "region",
    "address1_type",
    "address1",
    "address2_type",
    "address2",
    "phone1",
    "phone2",
    "contacts",
    "education",
    "marital_status",
    "occupation",
    "health_record_no",
    "rural_coop_no",
)
# What a hospital may change on a holder (never identity): the Hospital API issue uses this list.
CONTACT_FIELDS = HOLDER_CONTACT_FIELDS


def _field_error(field: str, message, params: dict | None = None, code: str = "invalid") -> DomainError:
    return DomainError(message, params or {}, code=code, detail={"field": field})


# --- The ID number (GB 11643) ------------------------------------------------------------------------------
# python-stdnum's ric.validate looks the birth place up in its region database on every call (some 160 µs);
# an import checks a million numbers, so the facts that depend only on (county, birth year) or on the birth
# date are memoised. Only a number that fails the fast path goes through stdnum again, for its exact error.
#
# The birth place: stdnum accepts a county code only for people born while the code was in force, and its
# data starts in 1983, so everyone born before 1983 would be refused (610102 for someone born in 1970, say).
# A number is assigned when the ID is issued, not at birth, so a code is accepted unless it was retired
# before the person was born.


@lru_cache(maxsize=50_000)
def _birth_date_of(digits: str) -> dt.date | None:
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


@lru_cache(maxsize=100_000)
def _birth_place_known(county: str, year: str) -> bool:
    from stdnum import numdb

    info = {key: value for _part, props in numdb.get("cn/loc").info(county) for key, value in props.items()}
    for entry in info.get("county", "").split(","):
        if not entry:
            continue
        if not entry.startswith("["):
            return True
        _start, _sep, end = entry[1:].split("]", 1)[0].partition("-")
        if not end or int(year) <= int(end):
            return True
    return False


def _id_number_ok(number: str) -> bool:
    """What ric.validate accepts, for a stripped upper-case number, without its per-call database look-up."""
    if len(number) != 18 or not number.isascii():
        return False
    body = number[:17]
    if not body.isdigit():
        return False
    checksum = (1 - 2 * int(body, 13)) % 11
    if number[17] != ("X" if checksum == 10 else str(checksum)):
        return False
    return _birth_date_of(number[6:14]) is not None and _birth_place_known(number[:6], number[6:10])


def clean_id_number(value: str) -> str:
    """A resident ID number (GB 11643): 18 characters, valid check digit, real birth date, known region."""
    value = (value or "").strip().upper()
    if _id_number_ok(value):
        return value
    try:
        number = ric.validate(value)
        if not _id_number_ok(number):  # stdnum accepts a code retired before the birth year; we do not
            raise ric.InvalidComponent()
        return number
    except ric.InvalidChecksum:
        raise _field_error(
            "document_number",
            _("The check digit of ID number %(value)s is wrong."),
            {"value": value},
            "id_checksum",
        ) from None
    except ric.InvalidLength:
        raise _field_error(
            "document_number",
            _("An ID number has 18 characters; %(value)s has %(length)s."),
            {"value": value, "length": len(value)},
            "id_length",
        ) from None
    except ric.InvalidComponent:
        raise _field_error(
            "document_number",
            _("ID number %(value)s has an impossible birth date or an unknown region code."),
            {"value": value},
            "id_component",
        ) from None
    except Exception:
        raise _field_error(
            "document_number", _("%(value)s is not a valid ID number."), {"value": value}, "id_format"
        ) from None


def id_number_facts(number: str) -> tuple[dt.date, str, str]:
    """Birth date, sex (GB/T 2261.1: odd 17th digit = male) and the county code an ID number states."""
    born = _birth_date_of(number[6:14]) or ric.get_birth_date(number)
    return born, Sex.MALE if int(number[16]) % 2 else Sex.FEMALE, number[:6]


def check_contacts(contacts) -> list[dict]:
    contacts = contacts or []
    if len(contacts) > 3:
        raise _field_error("contacts", _("At most three emergency contacts."), code="too_many_contacts")
    cleaned = []
    for contact in contacts:
        relation = str(contact.get("relation", ContactRelation.OTHER))
        if relation not in ContactRelation.values:
            raise _field_error("contacts", _("Unknown contact relation %(value)s."), {"value": relation})
        cleaned.append(
            {
                "name": str(contact.get("name", "")).strip(),
                "relation": relation,
                "phone": str(contact.get("phone", "")).strip(),
            }
        )
    return cleaned


def _county_from_db(code: str) -> Region | None:
    return Region.objects.filter(code=code, level="county").first()


_ETHNICITIES = frozenset(Ethnicity.values)
_SEXES = frozenset(Sex.values)


def _validated(
    *,
    document_type: str,
    document_number: str,
    name: str,
    sex: str | None,
    birth_date: dt.date | None,
    region: Region | None,
    ethnicity: str,
    county_of: Callable[[str], Region | None],
    today: dt.date,
) -> dict:
    """The rules of holder_validate; `county_of` finds a current county by code (the database, or a table)."""
    name = (name or "").strip()
    if not name:
        raise _field_error("name", _("The name is required."), code="name_required")
    if ethnicity not in _ETHNICITIES:
        raise _field_error(
            "ethnicity", _("Unknown ethnicity code %(value)s (GB 3304)."), {"value": ethnicity}
        )
    if document_type == DocumentType.ID_CARD:
        document_number = clean_id_number(document_number)
        born, id_sex, county = id_number_facts(document_number)
        if birth_date and birth_date != born:
            raise _field_error(
                "birth_date",
                _("The birth date %(given)s does not match the ID number (%(born)s)."),
                {"given": birth_date, "born": born},
                "birth_date_mismatch",
            )
        if sex and sex not in (id_sex, Sex.UNSPECIFIED) and sex != Sex.UNKNOWN:
            raise _field_error(
                "sex",
                _("The sex does not match the ID number (its 17th digit says %(sex)s)."),
                {"sex": Sex(id_sex).label},
                "sex_mismatch",
            )
        birth_date, sex = born, id_sex
        if region is None:
            region = county_of(county)
            if region is None:
                raise _field_error(
                    "region",
                    _(
                        "The ID number's region %(code)s is no longer a current county: "
                        "choose the holder's county of residence."
                    ),
                    {"code": county},
                    "region_required",
                )
    else:
        document_number = (document_number or "").strip().upper()
        if not document_number:
            raise _field_error(
                "document_number", _("The document number is required."), code="document_required"
            )
        if birth_date is None:
            raise _field_error("birth_date", _("The birth date is required for this document type."))
        if sex not in _SEXES:
            raise _field_error("sex", _("The sex is required for this document type."))
        if region is None:
            raise _field_error("region", _("The county of residence is required."), code="region_required")
    if birth_date > today:
        raise _field_error("birth_date", _("The birth date is in the future."))
    if region.level != "county":
        raise _field_error("region", _("Choose a county (区县), not %(region)s."), {"region": region})
    return {
        "document_type": document_type,
        "document_number": document_number,
        "name": name,
        "sex": sex,
        "birth_date": birth_date,
        "region": region,
        "ethnicity": ethnicity,
    }


def holder_validate(
    *,
    document_type: str,
    document_number: str,
    name: str,
    sex: str | None,
    birth_date: dt.date | None,
    region: Region | None,
    ethnicity: str,
) -> dict:
    """What registering a holder checks, returned as the cleaned values (shared by entry and import)."""
    return _validated(
        document_type=document_type,
        document_number=document_number,
        name=name,
        sex=sex,
        birth_date=birth_date,
        region=region,
        ethnicity=ethnicity,
        county_of=_county_from_db,
        today=timezone.localdate(),
    )


def _check_scope(actor: Actor, region: Region) -> None:
    if actor.user is not None and not user_can_see_region(actor.user, region.code):
        raise DomainError(_("%(region)s is outside your region."), {"region": region}, code="out_of_scope")


def holder_exists(*, document_type: str, document_number: str) -> bool:
    """Is a holder with this document registered on this node (whatever region)? Found by the blind index."""
    return Resident.objects.filter(
        document_type=document_type, **blind_lookup(Resident, "document_number", document_number)
    ).exists()


@transaction.atomic(durable=True)
def holder_register(
    *,
    actor: Actor,
    document_number: str,
    name: str,
    document_type: str = DocumentType.ID_CARD,
    sex: str | None = None,
    birth_date: dt.date | None = None,
    region: Region | None = None,
    ethnicity: str = Ethnicity.HAN,
    **other,
) -> Resident:
    """Register a holder (居民个人数据) by manual entry; the ID number decides birth date, sex and region."""
    unknown = set(other) - set(EDITABLE)
    if unknown:
        raise DomainError(
            _("These fields cannot be set here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
        )
    values = holder_validate(
        document_type=document_type,
        document_number=document_number,
        name=name,
        sex=sex,
        birth_date=birth_date,
        region=region,
        ethnicity=ethnicity,
    )
    _check_scope(actor, values["region"])
    if holder_exists(document_type=document_type, document_number=values["document_number"]):
        raise _field_error("document_number", _("This holder is already registered."), code="holder_exists")
    if "contacts" in other:
        other["contacts"] = check_contacts(other["contacts"])
    now = timezone.now()
    resident = Resident.objects.create(created_at=now, changed_at=now, **values, **other)
    audit_record(actor=actor, action="holder.register", target=resident)
    record_event(actor=actor, resident=resident, kind=CardEventKind.HOLDER_REGISTERED)
    journal_holder(resident)
    return resident


@transaction.atomic(durable=True)
def holder_update(*, actor: Actor, resident: Resident, reason: str = "", **changes) -> Resident:
    """Modify a holder's data; identity (document type and number, birth date, sex) never changes here."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DomainError(
            _("These fields cannot be changed here: %(fields)s."),
            {"fields": ", ".join(sorted(unknown))},
            code="field_not_editable",
        )
    if "contacts" in changes:
        changes["contacts"] = check_contacts(changes["contacts"])
    if "region" in changes:
        _check_scope(actor, changes["region"])
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    _check_scope(actor, resident.region)
    changed = [field for field, value in changes.items() if getattr(resident, field) != value]
    if not changed:
        return resident
    for field in changed:
        setattr(resident, field, changes[field])
    resident.changed_at = timezone.now()
    resident.save(update_fields=[*changed, "changed_at"])
    # The audit keeps which fields changed, never their personal values.
    audit_record(
        actor=actor, action="holder.update", target=resident, reason=reason, changes={"fields": changed}
    )
    record_event(
        actor=actor,
        resident=resident,
        kind=CardEventKind.HOLDER_CHANGED,
        reason=reason,
        data={"fields": changed},
    )
    journal_holder(resident)
    return resident


def holder_reveal(*, actor: Actor, resident: Resident, reason: str = "") -> dict[str, object]:
    """调阅: the unmasked holder data, for someone with the permission; every look-up leaves an audit row."""
    from registry.actions import personal_data_reveal

    return personal_data_reveal(
        actor=actor, target=resident, fields=list(Resident.PERSONAL_FIELDS), reason=reason
    )


# --- Bulk import (the regional platform's files) ------------------------------------------------------------
#
# holder_import_batch is what holder_register does, for a batch of an import, in bulk statements: the same
# validation, values sealed exactly as EncryptedTextField seals them (same key, same associated data
# "<model>.<field>"), the same blind index, one audit row for the batch (with its counts and the import job).
# The journal gets one cards.holder_batch row for the batch's new holders (their personal fields sealed once,
# together; exchange expands it with common.holder_batch_expand) and one cards.holder row per holder the
# batch changes, as journal_holder writes it. Imported holders get no
# "registered" case-history event each: their history starts with their first application, and the batch's
# audit row says where they came from.

# The columns of cards_resident an import writes, in COPY order (the id comes from its identity sequence).
INSERT_COLUMNS = (
    "name",
    "document_type",
    "document_number",
    "document_index",
    "sex",
    "ethnicity",
    "birth_date",
    "region_id",
    "address1_type",
    "address1",
    "address2_type",
    "address2",
    "phone1",
    "phone2",
    "contacts",
    "education",
    "marital_status",
    "occupation",
    "health_record_no",
    "rural_coop_no",
    "created_at",
    "changed_at",
)
JOURNAL_COLUMNS = ("seq", "kind", "key", "op", "payload", "origin_node", "origin_seq", "created_at")
PERSONAL = Resident.PERSONAL_FIELDS
CONTACTS_AT = PERSONAL.index("contacts")
NONCE_CHUNK = 4096  # nonces drawn from the OS at a time
COPY_CHUNK = 1 << 16  # characters sent to the server at a time, so it works while Python seals the next rows
ROW_CHECKED = object()  # key of a row HolderRowRules has cleaned: its value is the scope it was checked in
ROW_GIVEN = object()  # key of a cleaned row: the fields the row itself named (the others were completed)


class BulkSealer:
    """registry.protection.seal for many values: the same token ("hc1.<key id>.<base64(nonce + ciphertext)>"),
    the same active key and associated data, a fresh random 96-bit nonce per value; the AEAD object and the key
    ring are looked up once instead of once per value (seal() spends two thirds of its time on that)."""

    def __init__(self):
        ring = keyring()
        self.prefix = f"{SEAL_PREFIX}.{ring.active}."
        self.encrypt = ring.aead(ring.active).encrypt
        self.nonces = b""
        self.offset = 0

    def seal(self, text: str, context: bytes) -> str:
        if self.offset >= len(self.nonces):
            self.nonces, self.offset = secrets.token_bytes(NONCE_BYTES * NONCE_CHUNK), 0
        nonce = self.nonces[self.offset : self.offset + NONCE_BYTES]
        self.offset += NONCE_BYTES
        sealed = self.encrypt(nonce, text.encode(), context)
        return self.prefix + binascii.b2a_base64(nonce + sealed, newline=False).decode()

    def seal_many(self, texts: list[str], contexts: list[bytes]) -> list[str]:
        """seal(text, context) for each pair, "" for an empty text: one call per row instead of one per value."""
        if self.offset + NONCE_BYTES * len(texts) > len(self.nonces):
            self.nonces, self.offset = secrets.token_bytes(NONCE_BYTES * NONCE_CHUNK), 0
        nonces, offset, encrypt, prefix, b64 = (
            self.nonces,
            self.offset,
            self.encrypt,
            self.prefix,
            binascii.b2a_base64,
        )
        sealed = []
        for text, context in zip(texts, contexts, strict=True):
            if text:
                nonce = nonces[offset : offset + NONCE_BYTES]
                offset += NONCE_BYTES
                sealed.append(
                    prefix + b64(nonce + encrypt(nonce, text.encode(), context), newline=False).decode()
                )
            else:
                sealed.append("")
        self.offset = offset
        return sealed


class BlindIndexer:
    """registry.protection.blind_index for many values of one family: the keyed HMAC is set up once."""

    def __init__(self, family: str):
        self.base = hmac.new(keyring().index_key, digestmod=hashlib.sha256)
        self.prefix = f"{family}\x1f"

    def index(self, value: str, *, normalised: bool = False) -> str:
        digest = self.base.copy()
        digest.update((self.prefix + (value if normalised else normalise_for_index(value))).encode())
        return digest.hexdigest()[:40]


def _contacts_json(contacts: list) -> str:
    # Exactly the text EncryptedJSONField seals.
    return json.dumps(contacts, ensure_ascii=False, separators=(",", ":"))


class HolderRowRules:
    """holder_validate for the rows of an import: the county table is read once, the ID facts memoised.

    `scope_prefix` is the importing person's region (None: nothing is in scope; "" the whole nation).
    `clean(row)` returns the row with its identity completed from the ID number (birth date, sex, county),
    or raises the DomainError holder_validate would raise (detail["field"] names the column).
    """

    def __init__(self, *, scope_prefix: str | None, counties: Mapping[str, Region] | None = None):
        self.scope_prefix = scope_prefix
        self.counties = (
            counties
            if counties is not None
            else {region.code: region for region in Region.objects.filter(level="county")}
        )
        self.today = timezone.localdate()

    def clean(self, row: dict, *, in_place: bool = False) -> dict:
        """The cleaned row: a new dict, or (in_place, for the import's own rows) `row` itself, completed."""
        # An existing holder keeps what the row does not name: a region left empty (here: the ID number's
        # county) or a column the file lacks is no change.
        given = frozenset(row)
        if row.get("region") is None:
            given -= {"region"}
        region = row.get("region")
        if isinstance(region, str):
            region = self.counties.get(region) or Region.objects.filter(code=region).first()
            if region is None:
                raise _field_error(
                    "region", _("Unknown region code %(code)s."), {"code": row["region"]}, "unknown_region"
                )
        document_type = row.get("document_type") or DocumentType.ID_CARD
        if document_type not in _DOCUMENT_TYPES:
            raise _field_error(
                "document_type", _("Unknown document type %(value)s."), {"value": document_type}
            )
        values = _validated(
            document_type=document_type,
            document_number=row.get("document_number", ""),
            name=row.get("name", ""),
            sex=row.get("sex") or None,
            birth_date=row.get("birth_date"),
            region=region,
            ethnicity=row.get("ethnicity") or Ethnicity.HAN,
            county_of=self.counties.get,
            today=self.today,
        )
        prefix = self.scope_prefix
        if prefix is None or not values["region"].code.startswith(prefix):
            raise _field_error(
                "region" if region is not None else "document_number",
                _("%(region)s is outside your region: you can import holders of your own region only."),
                {"region": values["region"]},
                "out_of_scope",
            )
        cleaned = row if in_place else dict(row)
        cleaned.update(values)
        if "contacts" in cleaned:
            cleaned["contacts"] = check_contacts(cleaned["contacts"])
        cleaned[ROW_CHECKED] = prefix
        cleaned[ROW_GIVEN] = given
        return cleaned


_DOCUMENT_TYPES = frozenset(DocumentType.values)


def actor_scope_prefix(actor: Actor) -> str:
    """The region an actor may write in: a person's scope, or (the system, a command) the whole node."""
    if actor.user is None:
        return node_prefix()
    prefix = user_scope_prefix(actor.user)
    if prefix is None:
        raise DomainError(
            _("You have no region assigned: ask an administrator to set your scope."), code="out_of_scope"
        )
    return prefix


def _copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format (backslash, tab, newline and carriage return escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


class _Writer:
    """Rows of one bulk insert: COPY on PostgreSQL, streamed in chunks while the caller prepares the next rows
    (so the server inserts and indexes on the other core); executemany elsewhere."""

    def __init__(self, cursor, table: str, columns: tuple[str, ...]):
        quote = connection.ops.quote_name
        self.cursor, self.names = cursor, ", ".join(quote(column) for column in columns)
        self.table = quote(table)
        self.copy_mode = connection.vendor == "postgresql"
        self.pending: list = []
        self.size = 0
        self._copy = None
        if self.copy_mode:
            self._context = cursor.copy(f"COPY {self.table} ({self.names}) FROM STDIN")  # noqa: S608
            self._copy = self._context.__enter__()
        self.placeholders = ", ".join(["%s"] * len(columns))

    def add(self, row: tuple) -> None:
        if self.copy_mode:
            line = "\t".join(row)
            self.pending.append(line)
            self.size += len(line)
            if self.size >= COPY_CHUNK:
                self._send()
        else:
            self.pending.append(row)

    def _send(self) -> None:
        self.pending.append("")  # the last line's newline
        self._copy.write("\n".join(self.pending))
        self.pending, self.size = [], 0

    def finish(self, error: BaseException | None = None) -> None:
        if not self.copy_mode:
            if self.pending and error is None:
                self.cursor.executemany(
                    f"INSERT INTO {self.table} ({self.names}) VALUES ({self.placeholders})",  # noqa: S608
                    self.pending,
                )
            return
        if error is None and self.pending:
            self._send()
        exc = (type(error), error, error.__traceback__) if error is not None else (None, None, None)
        self._context.__exit__(*exc)


class _NewHolders:
    """A batch's holders made ready for insertion as new ones, in Python alone: each sealed as EncryptedTextField
    seals it (its COPY line on PostgreSQL, its row elsewhere; the two time stamps are added when it is written)
    and the batch's journal payload. The write keeps those that turn out to be new (`keep`); what was not
    sealed beforehand (`seal=False`, or the payload of fewer holders) is sealed when it is written."""

    def __init__(self, rows: dict[tuple[str, str], dict], *, seal: bool = True):
        self.sealer = BulkSealer()
        # The associated data of each personal field, in Resident.PERSONAL_FIELDS order.
        self.contexts = [Resident._meta.get_field(name).seal_context.encode() for name in PERSONAL]
        self.copy_mode = connection.vendor == "postgresql"
        self.escape = _copy_text if self.copy_mode else str
        self.rows = rows
        self.keys = list(rows)  # the holders to insert, in the file's order
        # Per holder, its part of the journal payload (its codes and personal values, taken once) and the
        # resident row built from it.
        self.parts: dict[tuple[str, str], tuple[list, list]] = {}
        self.records: dict[tuple[str, str], str | tuple] = {}
        self.body: str | None = None
        if seal:
            self.seal()

    def keep(self, keys) -> None:
        """Only these holders are new after all (the others were registered before or meanwhile)."""
        kept = [key for key in self.keys if key in keys]
        if len(kept) != len(self.keys):
            self.keys, self.body = kept, None

    def seal(self) -> None:
        """Seal the holders to insert that are not sealed yet, and their journal payload."""
        parts, records = self.parts, self.records
        for key in self.keys:
            if key not in records:
                part = parts[key] = self.journal_part(self.rows[key], key[1])
                records[key] = self.resident_record(part)
        if self.body is None and self.keys:
            self.body = self.journal_body()

    def resident_record(self, part: tuple[list, list]) -> str | tuple:
        plain, personal = part
        index, document_type, sex, ethnicity, born, region, type1, type2, education, marital, occupation = (
            plain
        )
        texts = list(personal)
        if texts[CONTACTS_AT]:
            texts[CONTACTS_AT] = _contacts_json(texts[CONTACTS_AT])
        # An empty value (an empty contact list too) is stored blank, which EncryptedTextField and
        # EncryptedJSONField read back as "" and [].
        name, number, address1, address2, phone1, phone2, contacts, health, rural = self.sealer.seal_many(
            texts, self.contexts
        )
        escape = self.escape
        row = (
            name,
            document_type,
            number,
            index,
            sex,
            ethnicity,
            born,
            region,
            escape(type1) if type1 else "",
            address1,
            escape(type2) if type2 else "",
            address2,
            phone1,
            phone2,
            contacts,
            escape(education) if education else "",
            escape(marital) if marital else "",
            escape(occupation) if occupation else "",
            health,
            rural,
        )
        return "\t".join(row) if self.copy_mode else row

    def copy_text(self, now: dt.datetime) -> str:
        """The new holders as COPY text of INSERT_COLUMNS (PostgreSQL)."""
        self.seal()
        stamp = now.isoformat()
        end = f"\t{stamp}\t{stamp}\n"  # created_at, changed_at
        return end.join(self.records[key] for key in self.keys) + end

    def row_values(self, now: dt.datetime) -> list[tuple]:
        """The new holders as rows of INSERT_COLUMNS (elsewhere)."""
        self.seal()
        stamp = connection.ops.adapt_datetimefield_value(now)
        return [(*self.records[key], stamp, stamp) for key in self.keys]

    def journal_key(self) -> str:
        """The batch row's key: the journal keys (blind indexes) of its first and last holder."""
        return f"{self.keys[0][1]}..{self.keys[-1][1]}"

    @staticmethod
    def journal_part(values: dict, index: str) -> tuple[list, list]:
        """A holder's entry in the batch payload's "holders", and its personal fields (holder_payload's values)."""
        get = values.get
        plain = [
            index,
            values["document_type"],
            values["sex"],
            values["ethnicity"],
            values["birth_date"].isoformat(),
            values["region"].code,
            get("address1_type") or "",
            get("address2_type") or "",
            get("education") or "",
            get("marital_status") or "",
            get("occupation") or "",
        ]
        personal = [get(name) or "" for name in PERSONAL]
        if not personal[CONTACTS_AT]:
            personal[CONTACTS_AT] = []  # what holder_payload carries for no contacts
        return plain, personal

    def journal_body(self) -> str:
        """The cards.holder_batch payload but its job and time (holder_batch_expand opens it), as JSON text
        (escaped for COPY on PostgreSQL): per holder, holder_payload's codes in clear, and every holder's personal
        fields in one JSON list sealed once (not a token per value)."""
        holders, personal, parts = [], [], self.parts
        for key in self.keys:
            plain, private = parts[key]
            holders.append(plain)
            personal.append(private)
        text = json.dumps(personal, ensure_ascii=False, separators=(",", ":"))
        body = {
            "columns": list(HOLDER_BATCH_COLUMNS),
            "holders": holders,
            "personal_columns": list(Resident.PERSONAL_FIELDS),
            "personal": {"sealed": self.sealer.seal(text, HOLDER_BATCH_CONTEXT.encode()), "json": True},
        }
        return self.escape(json.dumps(body))

    def journal_payload(self, job_id: int | None, now: dt.datetime) -> str:
        """The batch row's payload as JSON text (json.dumps of the whole dict gives the same text)."""
        self.seal()
        head = json.dumps({"job": job_id, "changed_at": now.isoformat()})
        return self.escape(head[:-1]) + ", " + self.body[1:]


@dataclass
class HolderBatch:
    """A batch of holder rows made ready for writing without the database (holder_import_prepare): checked,
    keyed by document type and blind index, every holder sealed as a new one would be. holder_import_write then
    does the database's part alone, so an import's writer thread writes one batch while the reading thread
    prepares the next (registry.imports.ImportSpec.prepare_batch)."""

    prefix: str  # the region the rows were checked in (the actor's scope)
    rows: dict[tuple[str, str], dict]  # (document type, blind index) -> the row's cleaned values
    new: _NewHolders
    expect_new: bool  # sealed beforehand, and first written without a look-up


@contextmanager
def _index_scans():
    """Look-ups by key while an import fills the table faster than autovacuum analyses it: planned on the
    statistics of a nearly empty table, PostgreSQL would scan the whole table once per batch, and the import
    would slow down quadratically. A key look-up is always an index scan; only inside the batch's transaction."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")


def _copy_in(cursor, table: str, text: str) -> None:
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in INSERT_COLUMNS)
    with cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:  # noqa: S608
        copy.write(text)


def _insert_all(new: _NewHolders, now: dt.datetime) -> bool:
    """Insert every holder of `new` in one statement; False, and nothing inserted, when one is registered."""
    if not new.keys:
        return True
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    _copy_in(cursor, Resident._meta.db_table, new.copy_text(now))
                else:
                    cursor.executemany(_insert_sql(), new.row_values(now))
            return True
        except (IntegrityError, connection.Database.IntegrityError):
            return False  # psycopg's own error: COPY goes to the driver's cursor, past Django's error wrapper


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in INSERT_COLUMNS)
    return f"INSERT INTO {quote(Resident._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(INSERT_COLUMNS))})"  # noqa: S608


def _insert_new(new: _NewHolders, now: dt.datetime) -> set[str]:
    """Write the new holders; returns the blind indexes that turned out to exist (registered meanwhile)."""
    # Straight into the table: the batch's holders were looked up a moment ago, so a conflict means someone
    # registered one of them meanwhile; then the rows go one by one, or through a temporary table.
    if _insert_all(new, now):
        return set()
    table = Resident._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            return _insert_new_rows(cursor, new, now)
        text = new.copy_text(now)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(column) for column in INSERT_COLUMNS)
        cursor.execute(
            f"CREATE TEMPORARY TABLE hc_resident_import ON COMMIT DROP AS SELECT {columns} FROM {quote(table)} "  # noqa: S608
            "WITH NO DATA"
        )
        _copy_in(cursor, "hc_resident_import", text)
        cursor.execute(
            f"INSERT INTO {quote(table)} ({columns}) SELECT {columns} FROM hc_resident_import "  # noqa: S608
            "ON CONFLICT (document_type, document_index) DO NOTHING RETURNING document_index"
        )
        inserted = {row[0] for row in cursor.fetchall()}
        cursor.execute("DROP TABLE hc_resident_import")
    return {index for _type, index in new.keys} - inserted


def _insert_new_rows(cursor, new: _NewHolders, now: dt.datetime) -> set[str]:
    """_insert_new without COPY (SQLite), row by row, for a batch of which a holder turned out to exist."""
    insert = _insert_sql()
    inserted = set()
    for row in new.row_values(now):
        cursor.execute(
            f"{insert} ON CONFLICT (document_type, document_index) DO NOTHING RETURNING document_index", row
        )
        found = cursor.fetchone()
        if found is not None:
            inserted.add(found[0])
    return {index for _type, index in new.keys} - inserted


def _write_looked_up(prepared: dict, new: _NewHolders, now: dt.datetime) -> tuple[list[Resident], Tally]:
    """Look the batch's holders up, update those that change and insert the others; the holders updated, and
    which fields changed how often."""
    # Existing holders are read without a lock, and only the fields the rows name are decrypted; those that
    # would change are then locked and compared again (a re-import of an unchanged file locks nothing).
    current = _read_existing([index for _type, index in prepared], prepared)
    changing = [
        pk for key, (pk, state) in current.items() if key in prepared and _changes(state.get, prepared[key])
    ]
    new.keep(prepared.keys() - current.keys())
    updated, changed_fields = _apply_changes(_lock(pk__in=changing), prepared, now)
    raced = _insert_new(new, now)
    if raced:
        # Registered by someone else since the look-up (and journaled by that registration): those the batch
        # changes are updated, and journaled, as the others are.
        late = {key: resident for key, resident in _lock(document_index__in=raced).items() if key in prepared}
        late_updated, late_fields = _apply_changes(late, prepared, now)
        updated += late_updated
        changed_fields.update(late_fields)
        new.keep({key for key in new.keys if key[1] not in raced})
    return updated, changed_fields


def holder_import_prepare(*, actor: Actor, rows: list[dict], expect_new: bool = True) -> HolderBatch:
    """The Python part of holder_import_batch, which needs no database for rows HolderRowRules has checked (an
    import's): the rows checked and keyed by blind index, and (`expect_new`) every holder sealed as a new one,
    with the batch's journal payload. Raises the DomainError holder_import_batch raises for a bad row.

    Without `expect_new` (the import's last batch found holders registered already) nothing is sealed here, and
    the write looks the holders up first and seals those that turn out to be new.
    """
    prefix = actor_scope_prefix(actor)
    rules = None
    indexer = BlindIndexer(Resident._meta.get_field("document_index").family)
    prepared: dict[tuple[str, str], dict] = {}
    for row in rows:
        checked = row.get(ROW_CHECKED)
        if checked is not None and checked.startswith(prefix):
            values = row
        else:
            unknown = {key for key in row if isinstance(key, str)} - {
                "document_type",
                "document_number",
                "sex",
                "birth_date",
                *EDITABLE,
            }
            if unknown:
                raise DomainError(
                    _("These fields cannot be set here: %(fields)s."), {"fields": ", ".join(sorted(unknown))}
                )
            if rules is None:
                rules = HolderRowRules(scope_prefix=prefix, counties=_counties_of(rows))
            values = rules.clean(row)
        number = values["document_number"]
        index = indexer.index(number, normalised=values["document_type"] == DocumentType.ID_CARD)
        key = (values["document_type"], index)
        if key in prepared:
            raise _field_error(
                "document_number",
                _("Document %(number)s appears twice in one batch."),
                {"number": mask_id_number(number)},
                "duplicate_document",
            )
        prepared[key] = values
    return HolderBatch(
        prefix=prefix, rows=prepared, new=_NewHolders(prepared, seal=expect_new), expect_new=expect_new
    )


def holder_import_batch(
    *, actor: Actor, rows: list[dict], job_id: int | None = None, reason: str = ""
) -> tuple[int, int]:
    """Register or modify many holders at once, keyed by document type and number (a batch of an import).

    Each row has what holder_register takes (document_type, document_number, name, sex, birth_date, region as
    a Region or a county code, ethnicity) plus any of EDITABLE; contacts as a list. A new holder is
    registered; an existing one gets the editable fields the row names (identity never changes), and an
    unchanged one writes nothing. Rows are checked as holder_validate checks them (unless HolderRowRules has
    checked them already, in the actor's region) and must lie in the actor's region. Returns (created,
    updated). holder_import_prepare, then holder_import_write (one transaction).
    """
    batch = holder_import_prepare(actor=actor, rows=rows)
    return holder_import_write(actor=actor, batch=batch, job_id=job_id, reason=reason)


@transaction.atomic(durable=True)
def holder_import_write(
    *, actor: Actor, batch: HolderBatch, job_id: int | None = None, reason: str = ""
) -> tuple[int, int]:
    """The database's part of holder_import_batch, for a batch holder_import_prepare made ready: look the
    holders up, update those that change, insert the new ones, one audit row, the journal rows."""
    from registry.choices import JournalOp
    from registry.imports import bulk_update_values
    from registry.journal import JOURNAL_COUNTER, counter_take
    from registry.models import JournalEntry

    if actor_scope_prefix(actor) != batch.prefix:
        raise RuntimeError("a holder batch is written by the actor it was prepared for")
    prepared, new = batch.rows, batch.new
    now = timezone.now()
    if batch.expect_new and _insert_all(new, now):
        # A batch of new holders (the import's last one was) goes in without looking them up first: the unique
        # constraint finds a registered one, and then nothing is inserted and the batch goes the way below.
        updated, changed_fields = [], Tally()
    else:
        updated, changed_fields = _write_looked_up(prepared, new, now)
    if updated:
        attnames = sorted({Resident._meta.get_field(name).attname for name in changed_fields})
        bulk_update_values(Resident, updated, [*attnames, "changed_at"])
    created = len(new.keys)
    if created or updated:
        audit_record(
            actor=actor,
            action="holder.import",
            region_code=_audit_region(actor),
            reason=reason,
            changes={
                "job": job_id,
                "rows": len(prepared),
                "created": created,
                "updated": len(updated),
                "fields": dict(changed_fields),
            },
        )
    # The journal: one row for the batch's new holders (sealed once: cards.holder_batch), one per holder
    # changed (cards.holder, as journal_holder writes it). Numbered last, so the counter is locked only for
    # this insert.
    escape = _copy_text if connection.vendor == "postgresql" else str
    entries = [(HOLDER_BATCH_KIND, new.journal_key(), new.journal_payload(job_id, now))] if new.keys else []
    entries += [
        (HOLDER_KIND, resident.document_index, escape(json.dumps(holder_payload(resident))))
        for resident in updated
    ]
    if entries:
        if connection.vendor == "postgresql":
            # The batch row's payload is large and goes to TOAST: lz4 (where the server has it) compresses it
            # in half the time pglz takes to fail at it (the sealed part does not compress).
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings "
                    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
                )
        first = counter_take(JOURNAL_COUNTER, len(entries))
        # Through COPY, as the holders: a query's text is kept in the debug log, and the batch row is large.
        stamp = (
            now.isoformat()
            if connection.vendor == "postgresql"
            else connection.ops.adapt_datetimefield_value(now)
        )
        origin, op = settings.HC_REGION, str(JournalOp.UPSERT)
        with connection.cursor() as cursor:
            writer = _Writer(cursor, JournalEntry._meta.db_table, JOURNAL_COLUMNS)
            try:
                for offset, (kind, key, payload) in enumerate(entries):
                    seq = str(first + offset)
                    writer.add((seq, kind, escape(key), op, payload, origin, seq, stamp))
            except BaseException as error:
                writer.finish(error)
                raise
            writer.finish()
    return created, len(updated)


def _counties_of(rows: list[dict]) -> dict[str, Region]:
    """The counties a batch names (its ID numbers' and its regions'): a few dozen rows, not the whole table."""
    codes = {str(row.get("document_number", "")).strip()[:6] for row in rows}
    codes |= {getattr(row.get("region"), "code", row.get("region")) or "" for row in rows}
    return {code: r for code, r in Region.objects.in_bulk(codes - {""}).items() if r.level == "county"}


def _read_existing(indexes: list[str], prepared: dict) -> dict[tuple[str, str], tuple[int, dict]]:
    """The registered holders among these blind indexes: (type, index) -> (pk, {field the rows name: value}).

    One index probe per key; only the rows found are decrypted, and only in the fields the batch names.
    """
    # Rows of a file name the same columns: their sets of names are equal, and looked at once each.
    given = {values[ROW_GIVEN] if ROW_GIVEN in values else frozenset(values) for values in prepared.values()}
    names = sorted({name for names in given for name in names if name in EDITABLE})
    fields = [Resident._meta.get_field(name) for name in names]
    columns = [field.attname for field in fields]
    if connection.vendor != "postgresql":
        found = Resident.objects.filter(document_index__in=indexes).values_list(
            "pk", "document_type", "document_index", *columns
        )
        return {
            (kind, index): (pk, dict(zip(columns, rest, strict=True))) for pk, kind, index, *rest in found
        }
    # = ANY(array), one parameter: Django's IN list of thousands of literals costs the server more than the
    # probes. The array is sent as one text (blind indexes are hex, without commas) that the server splits:
    # quoting each element as an array literal costs the client more than the probes.
    quote = connection.ops.quote_name
    selected = ", ".join(quote(field.column) for field in fields)
    with _index_scans(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, document_type, document_index{', ' + selected if selected else ''} "  # noqa: S608
            f"FROM {quote(Resident._meta.db_table)} WHERE document_index = ANY(string_to_array(%s, ','))",
            [",".join(indexes)],
        )
        found = cursor.fetchall()
    converters = [getattr(field, "from_db_value", None) for field in fields]
    return {
        (kind, index): (
            pk,
            {
                column: convert(value, None, connection) if convert else value
                for column, convert, value in zip(columns, converters, rest, strict=True)
            },
        )
        for pk, kind, index, *rest in found
    }


def _changes(get, values: dict) -> list[str]:
    """The editable fields a row names whose value differs from the holder's (`get(field)`: the current value)."""
    given = values.get(ROW_GIVEN, values.keys())
    return [
        name
        for name in EDITABLE
        if name in given
        and (get("region_id") != values["region"].code if name == "region" else get(name) != values[name])
    ]


def _lock(**lookup) -> dict[tuple[str, str], Resident]:
    if not next(iter(lookup.values())):
        return {}
    with _index_scans():
        return {
            (resident.document_type, resident.document_index): resident
            for resident in Resident.objects.select_for_update().filter(**lookup)
        }


def _apply_changes(existing: dict, prepared: dict, now: dt.datetime) -> tuple[list[Resident], Tally]:
    """Set the editable fields the rows name on the (locked) holders; those that changed, and which fields."""
    updated, fields = [], Tally()
    for key, resident in existing.items():
        values = prepared.get(key)
        if values is None:
            continue
        changed = _changes(lambda name, resident=resident: getattr(resident, name), values)
        if not changed:
            continue
        for name in changed:
            setattr(resident, name, values[name])
        resident.changed_at = now
        updated.append(resident)
        fields.update(changed)
    return updated, fields


def _audit_region(actor: Actor) -> str:
    user = actor.user
    return (getattr(user, "scope_region_id", None) or settings.HC_REGION) if user else settings.HC_REGION


# --- Comparison (比对) with a population reference file --------------------------------------------------------


class MismatchReason:
    NOT_FOUND = "not_found"
    NAME = "name_differs"
    SEX = "sex_differs"
    ETHNICITY = "ethnicity_differs"
    INVALID_ID = "invalid_id"
    DUPLICATE = "duplicate"

    LABELS = {
        NOT_FOUND: _("Not registered here"),
        NAME: _("Name differs"),
        SEX: _("Sex differs"),
        ETHNICITY: _("Ethnicity differs"),
        INVALID_ID: _("Invalid ID number in the reference"),
        DUPLICATE: _("ID number twice in the reference"),
    }
    ORDER = (NOT_FOUND, NAME, SEX, ETHNICITY, INVALID_ID, DUPLICATE)


@dataclass
class Mismatch:
    row: int
    reasons: tuple[str, ...]
    document: str  # masked
    reference_name: str  # masked
    registered_name: str = ""  # masked
    reference_sex: str = ""
    registered_sex: str = ""
    reference_ethnicity: str = ""
    registered_ethnicity: str = ""

    @property
    def reason_text(self) -> str:
        return "；".join(str(MismatchReason.LABELS[reason]) for reason in self.reasons)


@dataclass
class ComparisonReport:
    """Figures of one comparison, and its mismatch rows (masked; the first MAX_MISMATCHES kept)."""

    filename: str = ""
    total: int = 0
    matched: int = 0
    by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    mismatches: list[Mismatch] = dataclasses.field(default_factory=list)
    mismatches_total: int = 0
    generated_at: dt.datetime = dataclasses.field(default_factory=timezone.now)

    MAX_MISMATCHES = 100_000

    @property
    def match_rate(self) -> float:
        """Full matches among the reference rows, in per cent (one decimal)."""
        return round(self.matched * 100 / self.total, 1) if self.total else 0.0

    def reason_rows(self) -> list[tuple[str, object, int]]:
        return [
            (reason, MismatchReason.LABELS[reason], self.by_reason.get(reason, 0))
            for reason in MismatchReason.ORDER
        ]


def _normal_name(name: str) -> str:
    return "".join((name or "").split()).replace("·", "").replace("•", "").replace(".", "")


def holder_compare(
    *, actor: Actor, rows: Iterable[tuple[int, dict]], filename: str = "", batch_size: int = 1000
) -> ComparisonReport:
    """比对: each reference row (name, ID number, sex, ethnicity as codes) against the holders in the actor's
    region, found by the blind index. Reads only; the comparison itself leaves one audit row with its figures.

    A row fully matches when the holder is registered here with the same name (spaces and the middle dot
    ignored), sex and ethnicity; otherwise each difference is counted under its reason. A reference row
    without sex or ethnicity is not compared on that field.
    """
    from registry.imports import _SeenKeys
    from registry.scope import scope_queryset

    report = ComparisonReport(filename=filename)
    reasons = Tally()
    holders = scope_queryset(Resident.objects.filter(document_type=DocumentType.ID_CARD), actor.user)
    indexer = BlindIndexer(Resident._meta.get_field("document_index").family)
    seen = _SeenKeys()

    def mismatch(entry: Mismatch) -> None:
        report.mismatches_total += 1
        reasons.update(entry.reasons)
        if len(report.mismatches) < report.MAX_MISMATCHES:
            report.mismatches.append(entry)

    def flush(batch: list[tuple[int, dict, str, str]]) -> None:
        found = {
            index: (name, sex, ethnicity)
            for index, name, sex, ethnicity in holders.filter(
                document_index__in=[index for *_rest, index in batch]
            ).values_list("document_index", "name", "sex", "ethnicity")
        }
        for number, row, document, index in batch:
            name = row.get("name", "")
            holder = found.get(index)
            if holder is None:
                mismatch(Mismatch(number, (MismatchReason.NOT_FOUND,), document, mask_name(name)))
                continue
            registered_name, registered_sex, registered_ethnicity = holder
            differs = []
            if _normal_name(name) != _normal_name(registered_name):
                differs.append(MismatchReason.NAME)
            sex = row.get("sex") or ""
            if sex and sex != registered_sex:
                differs.append(MismatchReason.SEX)
            ethnicity = row.get("ethnicity") or ""
            if ethnicity and ethnicity != registered_ethnicity:
                differs.append(MismatchReason.ETHNICITY)
            if not differs:
                report.matched += 1
                continue
            mismatch(
                Mismatch(
                    number,
                    tuple(differs),
                    document,
                    mask_name(name),
                    mask_name(registered_name),
                    _label(Sex, sex),
                    _label(Sex, registered_sex),
                    _label(Ethnicity, ethnicity),
                    _label(Ethnicity, registered_ethnicity),
                )
            )
        batch.clear()

    batch: list[tuple[int, dict, str, str]] = []
    try:
        for number, row in rows:
            report.total += 1
            document = (row.get("document_number") or "").strip().upper()
            if not _id_number_ok(document):
                mismatch(
                    Mismatch(
                        number,
                        (MismatchReason.INVALID_ID,),
                        mask_id_number(document),
                        mask_name(row.get("name", "")),
                    )
                )
                continue
            index = indexer.index(document, normalised=True)
            if seen.first_row(index, number) is not None:
                mismatch(
                    Mismatch(
                        number,
                        (MismatchReason.DUPLICATE,),
                        mask_id_number(document),
                        mask_name(row.get("name", "")),
                    )
                )
                continue
            batch.append((number, row, mask_id_number(document), index))
            if len(batch) >= batch_size:
                flush(batch)
        if batch:
            flush(batch)
    finally:
        seen.close()
    report.by_reason = {reason: reasons.get(reason, 0) for reason in MismatchReason.ORDER}
    with transaction.atomic(durable=True):
        audit_record(
            actor=actor,
            action="holder.compare",
            region_code=_audit_region(actor),
            changes={
                "file": filename,
                "rows": report.total,
                "matched": report.matched,
                "match_rate": report.match_rate,
                "mismatches": report.by_reason,
            },
        )
    return report


def _label(choices, value: str) -> str:
    if not value:
        return ""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
