"""The node's one numbered, signed list mechanism: the blacklist and the whitelist, with typed entries.

Cards and SAM put entries on the lists through `list_add` / `list_remove` inside their own actions; the hospital
API, the terminals and exchange read them as signed documents (`list_snapshot`, `list_delta`, `list_encode`).
Numbering works like an X.509 CRL: every change takes the list's next number, a delta "since N" and a full
snapshot share that counter, and a delta names its base. The identifier scheme, the file format and what a
holder of the list can learn are in docs/lists.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
import zlib
from array import array
from datetime import date, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.actors import Actor
from registry.choices import PERMANENT_LIST_REASONS, EntryType, JournalOp, ListName, ListReason
from registry.errors import DomainError
from registry.journal import counter_take, counter_value, journal_append
from registry.models import ListEntry

LIST_KIND = "registry.list_entry"
SCHEME = "hcl1"  # the identifier scheme's tag, hashed into every identifier (docs/lists.md)
MAGIC = b"HCL1"
BODY_ENCODING = "zlib(byte-planes(u64be))"
_TOP_BIT = 1 << 63

# The binary format numbers types and reasons by their position in these tuples: append, never reorder.
_TYPE_CODES = (EntryType.CARD, EntryType.PERSON, EntryType.SAM)
_REASON_CODES = (
    ListReason.LOST,
    ListReason.CANCELLED,
    ListReason.REPLACED,
    ListReason.DEATH,
    ListReason.INELIGIBLE,
    ListReason.SAM_FROZEN,
    ListReason.SAM_CANCELLED,
    ListReason.MANUAL,
    ListReason.ACTIVE,
)


class SnapshotRequired(DomainError):
    code = "snapshot_required"
    status = 409


class ListSignatureError(DomainError):
    code = "list_signature_invalid"


# --- identifiers --------------------------------------------------------------------------------------


def _identifier(*parts: str) -> int:
    """First 8 bytes of SHA-256("hcl1|" + parts joined by "|"), as the stored signed integer (top bit flipped)."""
    digest = hashlib.sha256("|".join((SCHEME, *parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") - _TOP_BIT


def card_subject(card_no: str, chip_serial: str) -> int:
    """A physical card: what a hospital computes from the card in its reader (card number + chip serial)."""
    return _identifier("card", card_no.strip().upper(), chip_serial.strip().upper())


def person_subject(id_number: str) -> int:
    return _identifier("person", id_number.strip().upper())


def card_subjects(pairs) -> dict[tuple[str, str], int]:
    """{(card number, chip serial): card_subject(...)} for many cards (verify-batch checks a thousand a call)."""
    return _identifiers("card", pairs, lambda pair: f"{pair[0].strip().upper()}|{pair[1].strip().upper()}")


def person_subjects(id_numbers) -> dict[str, int]:
    """{ID number: person_subject(ID number)} for many holders."""
    return _identifiers("person", id_numbers, lambda number: number.strip().upper())


def _identifiers(kind: str, keys, text) -> dict:
    """{key: _identifier(kind, *parts)}, text(key) giving the parts joined by "|": the prefix is hashed once, copied."""
    prefix = hashlib.sha256(f"{SCHEME}|{kind}|".encode())
    identifiers = {}
    for key in keys:
        digest = prefix.copy()
        digest.update(text(key).encode())
        identifiers[key] = int.from_bytes(digest.digest()[:8], "big") - _TOP_BIT
    return identifiers


def sam_subject(sam_serial: str) -> int:
    return _identifier("sam", sam_serial.strip().upper())


def subject_to_hex(subject: int) -> str:
    """The identifier as published: 16 lower-case hex digits of the hash prefix."""
    return (subject + _TOP_BIT).to_bytes(8, "big").hex()


def subject_from_hex(text: str) -> int:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise DomainError(
            _("A list identifier is 16 hexadecimal digits, not %(value)s."),
            {"value": text[:40]},
            code="bad_list_identifier",
        )
    return int.from_bytes(raw, "big") - _TOP_BIT


# --- changes ------------------------------------------------------------------------------------------


def _counter(list_name: str) -> str:
    return f"list:{list_name}"


def list_number(list_name: str) -> int:
    """The list's current number: the number of the last change (0 before the first)."""
    return counter_value(_counter(list_name))


def list_entry_current(*, list_name: str, subject: int) -> ListEntry | None:
    return ListEntry.objects.filter(list_name=list_name, subject=subject, removed_number__isnull=True).first()


def _journal(entry: ListEntry, *, op: str, number: int) -> None:
    journal_append(
        kind=LIST_KIND,
        key=f"{entry.list_name}:{subject_to_hex(entry.subject)}",
        op=JournalOp.UPSERT if op == "add" else JournalOp.DELETE,
        payload={
            "list": entry.list_name,
            "type": entry.entry_type,
            "subject": subject_to_hex(entry.subject),
            "reason": entry.reason,
            "permanent": entry.permanent,
            "region": entry.region_id,
            "label": entry.label,
            "object_ref": entry.object_ref,
            "note": entry.removed_note if op == "remove" else entry.note,
            "valid_until": entry.valid_until.isoformat() if entry.valid_until else None,
            "origin_node": entry.origin_node,
            "number": number,
        },
    )


def _close(entry: ListEntry, *, number: int, actor: Actor, note: str) -> ListEntry:
    entry.removed_number = number
    entry.removed_at = timezone.now()
    entry.removed_by = actor.display[:150]
    entry.removed_note = note[:200]
    entry.save(update_fields=["removed_number", "removed_at", "removed_by", "removed_note"])
    return entry


def list_add(
    *,
    list_name: str,
    entry_type: str,
    subject: int,
    reason: str,
    region_code: str,
    actor: Actor,
    label: str = "",
    object_ref: str = "",
    note: str = "",
    valid_until: date | None = None,
    origin_node: str = "",
    journal: bool = True,
) -> ListEntry:
    """Put `subject` on the list (inside the calling action's transaction).

    Already listed for the same reason: returned unchanged, no number taken. Listed for another reason (a
    hold that becomes a cancellation): the old entry closes and the new one opens under one new number.
    `journal=False` is for exchange, which re-journals what it applies with the origin kept.
    """
    current = (
        ListEntry.objects.select_for_update()
        .filter(list_name=list_name, subject=subject, removed_number__isnull=True)
        .first()
    )
    if current is not None and current.reason == reason:
        return current
    number = counter_take(_counter(list_name))
    if current is not None:
        _close(current, number=number, actor=actor, note=str(_("Listed again for another reason")))
    entry = ListEntry.objects.create(
        list_name=list_name,
        entry_type=entry_type,
        subject=subject,
        reason=reason,
        permanent=reason in PERMANENT_LIST_REASONS,
        region_id=region_code,
        label=label[:80],
        object_ref=object_ref[:60],
        note=note[:200],
        valid_until=valid_until,
        origin_node=origin_node or settings.HC_REGION,
        added_number=number,
        added_at=timezone.now(),
        added_by=actor.display[:150],
    )
    if journal:
        _journal(entry, op="add", number=number)
    return entry


def list_remove(
    *,
    list_name: str,
    subject: int,
    actor: Actor,
    note: str = "",
    allow_permanent: bool = False,
    journal: bool = True,
) -> ListEntry | None:
    """Take `subject` off the list; returns the closed entry, or None when it was not listed.

    A permanent entry (cancelled, replaced, death, SAM cancelled) only comes off through a correction
    (`allow_permanent=True`, e.g. a wrong death record), never by an ordinary removal.
    """
    current = (
        ListEntry.objects.select_for_update()
        .filter(list_name=list_name, subject=subject, removed_number__isnull=True)
        .first()
    )
    if current is None:
        return None
    if current.permanent and not allow_permanent:
        raise DomainError(
            _("This entry is permanent (%(reason)s) and cannot be removed; only a correction can."),
            {"reason": current.get_reason_display()},
            code="list_entry_permanent",
        )
    number = counter_take(_counter(list_name))
    _close(current, number=number, actor=actor, note=note)
    if journal:
        _journal(current, op="remove", number=number)
    return current


def list_expire_due(*, actor: Actor, today: date | None = None) -> int:
    """Take off the entries whose period has ended (a person's ineligibility with an end date)."""
    from django.db import transaction

    today = today or timezone.localdate()
    due = ListEntry.objects.filter(removed_number__isnull=True, valid_until__lt=today)
    done = 0
    for entry in due.only("list_name", "subject").iterator():
        with transaction.atomic():
            if list_remove(list_name=entry.list_name, subject=entry.subject, actor=actor, note="expired"):
                done += 1
    return done


# --- documents ----------------------------------------------------------------------------------------


class ListDocument:
    """A snapshot (base None) or a delta (base N) of one list, as it leaves or arrives at a node.

    The additions are kept grouped by (entry type, reason), each group a sorted list of subjects: that is how
    the file stores them, and a million entries never become a million Python tuples unless someone asks
    for `adds`.
    """

    def __init__(
        self,
        *,
        list_name: str,
        number: int,
        base: int | None,
        issued_at: datetime,
        next_update: datetime,
        node: str,
        region_prefix: str = "",
        groups: dict[tuple[str, str], list[int]] | None = None,
        removes: list[int] | None = None,
    ):
        self.list_name = list_name
        self.number = number
        self.base = base
        self.issued_at = issued_at
        self.next_update = next_update
        self.node = node
        self.region_prefix = region_prefix
        self.groups = groups if groups is not None else {}
        self.removes = removes if removes is not None else []

    @property
    def is_delta(self) -> bool:
        return self.base is not None

    @property
    def adds(self) -> list[tuple[str, str, int]]:
        """Every addition as (entry_type, reason, subject)."""
        return [
            (entry_type, reason, subject)
            for (entry_type, reason), subjects in self.groups.items()
            for subject in subjects
        ]

    @property
    def count(self) -> int:
        return sum(len(subjects) for subjects in self.groups.values())

    def as_json(self) -> dict:
        return {
            "format": "hcl/1",
            "list": self.list_name,
            "number": self.number,
            "base": self.base,
            "issued_at": self.issued_at.isoformat(),
            "next_update": self.next_update.isoformat(),
            "node": self.node,
            "region_prefix": self.region_prefix,
            "adds": [
                {"type": entry_type, "reason": reason, "id": subject_to_hex(subject)}
                for entry_type, reason, subject in self.adds
            ],
            "removes": [subject_to_hex(subject) for subject in self.removes],
        }


def _document(list_name: str, number: int, base: int | None, region_prefix: str) -> ListDocument:
    issued_at = timezone.now()
    hours = getattr(settings, "HC_LIST_NEXT_UPDATE_HOURS", 24)
    return ListDocument(
        list_name=list_name,
        number=number,
        base=base,
        issued_at=issued_at,
        next_update=issued_at + timedelta(hours=hours),
        node=settings.HC_REGION,
        region_prefix=region_prefix,
    )


def _region_clause(region_prefix: str) -> tuple[str, list]:
    if not region_prefix:
        return "", []
    return " AND region_id LIKE %s", [f"{region_prefix}%"]


def list_snapshot(*, list_name: str, region_prefix: str = "") -> ListDocument:
    """Every current entry at the list's current number (of one region when `region_prefix` is given)."""
    number = list_number(list_name)
    document = _document(list_name, number, None, region_prefix)
    region_sql, region_params = _region_clause(region_prefix)
    document.groups = _grouped(
        "WHERE list_name = %s AND removed_number IS NULL AND added_number <= %s" + region_sql,
        [list_name, number, *region_params],
    )
    return document


def _grouped(where: str, params: list) -> dict[tuple[str, str], list[int]]:
    """Subjects by (entry type, reason), each sorted. Raw SQL on purpose: a snapshot reads a million rows, and
    model instances would cost seconds; one scan, grouped and sorted here, beats a sort in the database that
    spills to disk at the default work_mem."""
    table = ListEntry._meta.db_table
    groups: dict[tuple[str, str], list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT entry_type, reason, subject FROM {table} {where}", params)  # noqa: S608
        for entry_type, reason, subject in cursor.fetchall():
            groups.setdefault((entry_type, reason), []).append(subject)
    for subjects in groups.values():
        subjects.sort()
    return groups


def list_delta(*, list_name: str, since: int, region_prefix: str = "") -> ListDocument:
    """The changes after number `since`, collapsed per subject: what turns the list at `since` into the current.

    Refused (SnapshotRequired) when `since` is not a number this list has had: the receiver must start over
    from a snapshot.
    """
    number = list_number(list_name)
    if since < 0 or since > number:
        raise SnapshotRequired(
            _("The list has no number %(since)s (current: %(number)s): fetch a full snapshot."),
            {"since": since, "number": number},
            detail={"since": since, "number": number},
        )
    document = _document(list_name, number, since, region_prefix)
    region_sql, region_params = _region_clause(region_prefix)
    document.groups = _grouped(
        "WHERE list_name = %s AND added_number > %s AND added_number <= %s "
        "AND (removed_number IS NULL OR removed_number > %s)" + region_sql,
        [list_name, since, number, number, *region_params],
    )
    table = ListEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT subject FROM {table} "  # noqa: S608
            f"WHERE list_name = %s AND added_number <= %s AND removed_number > %s "
            f"AND removed_number <= %s{region_sql} ORDER BY subject",
            [list_name, since, since, number, *region_params],
        )
        document.removes = [row[0] for row in cursor.fetchall()]
    return document


def list_apply(current: dict[int, tuple[str, str]], document: ListDocument, *, have: int | None) -> int:
    """A receiver's side: apply `document` to its copy (subject -> (type, reason)); returns the new number.

    A delta whose base is not the number the receiver has means changes went missing: refused with
    SnapshotRequired, and the receiver fetches a snapshot instead.
    """
    if document.is_delta:
        if have != document.base:
            raise SnapshotRequired(
                _("This delta starts at number %(base)s but the copy is at %(have)s: fetch a full snapshot."),
                {"base": document.base, "have": have if have is not None else "-"},
            )
    else:
        current.clear()
    for subject in document.removes:
        current.pop(subject, None)
    for entry_type, reason, subject in document.adds:
        current[subject] = (entry_type, reason)
    return document.number


# --- the signed binary file ---------------------------------------------------------------------------


_FLIP_TOP_BIT = bytes(value ^ 0x80 for value in range(256))


def _planes(subjects: list[int]) -> bytes:
    """Sorted subjects as eight byte planes of their unsigned big-endian form (all first bytes, then all
    second bytes ...).

    Sorted hashes share their leading bytes with their neighbours, so the first planes are long runs that
    zlib shrinks to almost nothing: about 6 bytes an entry, with C-speed code only. A stored subject is the
    unsigned identifier minus 2**63, whose bit pattern is the identifier with the top bit flipped: so the
    signed order is the unsigned order and the first plane only needs that bit flipped back.
    """
    packed = array("q", subjects)
    if sys.byteorder == "little":
        packed.byteswap()
    raw = packed.tobytes()
    return raw[0::8].translate(_FLIP_TOP_BIT) + b"".join(raw[i::8] for i in range(1, 8))


def _unplanes(data: bytes, count: int) -> list[int]:
    raw = bytearray(count * 8)
    raw[0::8] = data[:count].translate(_FLIP_TOP_BIT)
    for i in range(1, 8):
        raw[i::8] = data[i * count : (i + 1) * count]
    packed = array("q")
    packed.frombytes(bytes(raw))
    if sys.byteorder == "little":
        packed.byteswap()
    return packed.tolist()


def _sections(document: ListDocument) -> tuple[list[dict], bytes]:
    """The header's section list and the body (sorting an already sorted group costs one pass)."""
    sections, body = [], []
    for (entry_type, reason), subjects in sorted(
        document.groups.items(),
        key=lambda item: (_TYPE_CODES.index(item[0][0]), _REASON_CODES.index(item[0][1])),
    ):
        subjects = sorted(subjects)
        sections.append({"op": "add", "type": str(entry_type), "reason": str(reason), "count": len(subjects)})
        body.append(_planes(subjects))
    removes = sorted(document.removes)
    sections.append({"op": "remove", "count": len(removes)})
    body.append(_planes(removes))
    return sections, b"".join(body)


def list_encode(document: ListDocument) -> bytes:
    """The signed file: MAGIC, header length, JSON header, signature length, Ed25519 signature, body.

    The signature covers MAGIC + header length + header; the header carries the body's SHA-256, so the
    body is covered too. The node's public key alone verifies it (offline).
    """
    from registry.node import sign

    sections, plain = _sections(document)
    body = zlib.compress(plain, 6)
    header = {
        "format": "hcl/1",
        "scheme": SCHEME,
        "list": document.list_name,
        "number": document.number,
        "base": document.base,
        "issued_at": document.issued_at.isoformat(),
        "next_update": document.next_update.isoformat(),
        "node": document.node,
        "region_prefix": document.region_prefix,
        "sections": sections,
        "body_encoding": BODY_ENCODING,
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    header_bytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    signed = MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes
    signature = base64.b64decode(sign(signed))
    return signed + struct.pack(">I", len(signature)) + signature + body


def list_header(blob: bytes) -> dict:
    """The header of a list file, unverified (to show what a file claims before checking it)."""
    if blob[:4] != MAGIC or len(blob) < 8:
        raise ListSignatureError(_("This is not a list file."), code="list_format_invalid")
    (length,) = struct.unpack(">I", blob[4:8])
    try:
        return json.loads(blob[8 : 8 + length])
    except ValueError as error:
        raise ListSignatureError(_("This is not a list file."), code="list_format_invalid") from error


def list_decode(blob: bytes, *, public_key_pem: str | None = None) -> ListDocument:
    """Verify and read a list file. Without `public_key_pem`, this node's own key verifies it."""
    from registry.node import public_key_pem as own_public_key_pem

    header = list_header(blob)
    (length,) = struct.unpack(">I", blob[4:8])
    signed_end = 8 + length
    (signature_length,) = struct.unpack(">I", blob[signed_end : signed_end + 4])
    signature = blob[signed_end + 4 : signed_end + 4 + signature_length]
    body = blob[signed_end + 4 + signature_length :]
    key = serialization.load_pem_public_key((public_key_pem or own_public_key_pem()).encode())
    try:
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidSignature
        key.verify(signature, blob[:signed_end])
        if hashlib.sha256(body).hexdigest() != header["body_sha256"]:
            raise InvalidSignature
    except InvalidSignature as error:
        raise ListSignatureError(
            _("The list's signature does not verify: the file was altered or comes from another node.")
        ) from error
    plain = zlib.decompress(body)
    document = ListDocument(
        list_name=header["list"],
        number=header["number"],
        base=header["base"],
        issued_at=datetime.fromisoformat(header["issued_at"]),
        next_update=datetime.fromisoformat(header["next_update"]),
        node=header["node"],
        region_prefix=header.get("region_prefix", ""),
    )
    offset = 0
    for section in header["sections"]:
        count = section["count"]
        subjects = _unplanes(plain[offset : offset + count * 8], count)
        offset += count * 8
        if section["op"] == "remove":
            document.removes.extend(subjects)
        else:
            document.groups.setdefault((section["type"], section["reason"]), []).extend(subjects)
    return document


def list_file(*, list_name: str, since: int | None = None, region_prefix: str = "") -> bytes:
    """The signed file of a snapshot (since None) or delta, cached by list number: every hospital of a city
    asks for the same few files, and a file for a number never changes (apart from its issue time)."""
    number = list_number(list_name)
    key = (
        f"hc:list:{settings.HC_REGION}:{list_name}:{region_prefix}:{number}:{'' if since is None else since}"
    )
    blob = cache.get(key)
    if blob is None:
        if since is None:
            document = list_snapshot(list_name=list_name, region_prefix=region_prefix)
        else:
            document = list_delta(list_name=list_name, since=since, region_prefix=region_prefix)
        blob = list_encode(document)
        if document.number == number:
            cache.set(key, blob, timeout=3600)
    return blob


__all__ = [
    "LIST_KIND",
    "ListDocument",
    "ListName",
    "ListReason",
    "EntryType",
    "ListSignatureError",
    "SnapshotRequired",
    "card_subject",
    "list_add",
    "list_apply",
    "list_decode",
    "list_delta",
    "list_encode",
    "list_entry_current",
    "list_expire_due",
    "list_file",
    "list_header",
    "list_number",
    "list_remove",
    "list_snapshot",
    "person_subject",
    "sam_subject",
    "subject_from_hex",
    "subject_to_hex",
]
