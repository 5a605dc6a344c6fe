"""Every file and item of the user card in ONE table (observed layout, see docs: CARD.md).

The official layout (WS/T 543) is not public; offsets, lengths and tags here are read from a vendor's
implementation of the national reader API. Correct them here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Encoding(StrEnum):
    AN = "AN"  # GBK bytes, right-padded with 0x00
    CN = "CN"  # BCD digits, left aligned, padded with F
    B = "B"  # binary (a one-byte item is an int 0-255)


class Structure(StrEnum):
    TLV_RECORDS = "tlv"  # linear records, each one item as tag || 1-byte length || value
    FIXED_RECORDS = "fixed"  # linear records of a fixed size (one byte per record on DF03/EF05-06)
    CYCLIC = "cyclic"  # cyclic records, newest = record 1
    TRANSPARENT = "binary"


@dataclass(frozen=True)
class Item:
    name: str  # python name, also the key in read/write dictionaries
    label: str  # what a person reads (English; the UI translates)
    encoding: Encoding
    length: int
    tag: int = 0  # TLV files: the item's tag; record number = position in the file (1-based)
    offset: int = 0  # fixed-size records / binary maps: byte offset inside the record / file


@dataclass(frozen=True)
class EF:
    df: str  # "DDF1", "DF01", ...
    fid: int
    name: str
    structure: Structure
    items: tuple[Item, ...] = ()
    records: int = 0
    record_size: int = 0
    size: int = 0  # transparent files
    free_read: bool = False  # readable without read authentication
    group: str = ""  # what the national reader API calls the file group

    @property
    def key(self) -> str:
        return f"{self.df}/{self.fid:04X}"

    def item(self, name: str) -> Item:
        for it in self.items:
            if it.name == name:
                return it
        raise KeyError(f"{self.key} has no item {name!r}")


@dataclass(frozen=True)
class DF:
    name: str
    fid: int
    read_key: int  # key id on the card for EXTERNAL AUTHENTICATE (P2) — read
    update_key: int  # ... — update
    sam_read_key: int  # key usage index at the SAM (80 DE 47 xx) — read
    sam_update_key: int
    sam_transport_key: int  # secure-messaging (encryption + MAC) key
    levels: int  # diversification levels: 1 (CN) or 2 (CN + PF)
    files: dict[int, EF] = field(default_factory=dict)


A, C, B = Encoding.AN, Encoding.CN, Encoding.B


def _tlv(df, fid, name, group, items, *, free_read=False, tags=None):
    out = []
    for n, (iname, label, enc, length) in enumerate(items, start=1):
        tag = tags[n - 1] if tags else n
        out.append(Item(iname, label, enc, length, tag=tag))
    return EF(
        df, fid, name, Structure.TLV_RECORDS, tuple(out), records=len(out), free_read=free_read, group=group
    )


def _fixed_map(items) -> tuple[Item, ...]:
    out, offset = [], 0
    for iname, label, enc, length in items:
        out.append(Item(iname, label, enc, length, offset=offset))
        offset += length
    return tuple(out)


CONDITION_FLAGS = (
    ("asthma", "Asthma"),
    ("heart_disease", "Heart disease"),
    ("cerebrovascular", "Cerebrovascular disease"),
    ("epilepsy", "Epilepsy"),
    ("coagulation_disorder", "Coagulation disorder"),
    ("diabetes", "Diabetes"),
    ("glaucoma", "Glaucoma"),
    ("dialysis", "Dialysis"),
    ("organ_transplant", "Organ transplant"),
    ("organ_missing", "Missing organ"),
    ("removable_prosthesis", "Removable prosthesis"),
    ("pacemaker", "Pacemaker"),
)

DDF1_EF05 = _tlv(
    "DDF1",
    0xEF05,
    "Issuer",
    "card",
    [
        ("card_type", "Card type", A, 1),
        ("spec_version", "Specification version", A, 4),
        ("issuer_name", "Issuer name", A, 30),
        ("issuer_code", "Issuer code", C, 11),
        ("issuer_certificate", "Issuer certificate", B, 180),
        ("issue_date", "Issue date", C, 4),
        ("card_no", "Card number", A, 18),
        ("security_code", "Security code", A, 3),
        ("chip_serial", "Chip serial", A, 10),
        ("city_code", "Application city code", C, 3),
    ],
    free_read=True,
    tags=[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0A, 0x39],
)
DDF1_EF06 = _tlv(
    "DDF1",
    0xEF06,
    "Holder",
    "holder",
    [
        ("name", "Name", A, 30),
        ("sex", "Sex", B, 1),
        ("ethnicity", "Ethnicity", C, 1),
        ("birth_date", "Birth date", C, 4),
        ("id_number", "ID number", A, 18),
    ],
)
DDF1_EF07 = EF("DDF1", 0xEF07, "Photo", Structure.TRANSPARENT, size=2 + 3072, group="photo")
DDF1_EF08 = _tlv(
    "DDF1",
    0xEF08,
    "Validity and phones",
    "card",
    [
        ("expiry", "Card expiry", C, 4),
        ("phone1", "Phone 1", A, 20),
        ("phone2", "Phone 2", A, 20),
        ("payment1", "Payment method 1", C, 1),
        ("payment2", "Payment method 2", C, 1),
        ("payment3", "Payment method 3", C, 1),
    ],
    tags=[0x07, 0x02, 0x03, 0x04, 0x05, 0x06],
)
DF01_EF05 = _tlv(
    "DF01",
    0xEF05,
    "Addresses",
    "personal",
    [
        ("address1_type", "Address 1 type", C, 1),
        ("address1", "Address 1", A, 100),
        ("address2_type", "Address 2 type", C, 1),
        ("address2", "Address 2", A, 100),
    ],
)
DF01_EF06 = _tlv(
    "DF01",
    0xEF06,
    "Contacts",
    "personal",
    [
        (f"contact{n}_{part}", f"Contact {n} {label}", enc, length)
        for n in (1, 2, 3)
        for part, label, enc, length in (
            ("name", "name", A, 30),
            ("relation", "relation", C, 1),
            ("phone", "phone", A, 20),
        )
    ],
)
DF01_EF07 = _tlv(
    "DF01",
    0xEF07,
    "Education, marriage, occupation",
    "personal",
    [
        ("education", "Education", C, 1),
        ("marital_status", "Marital status", C, 1),
        ("occupation", "Occupation", A, 3),
    ],
)
DF01_EF08 = _tlv(
    "DF01",
    0xEF08,
    "Documents",
    "personal",
    [
        ("document_type", "Document type", C, 1),
        ("document_number", "Document number", A, 18),
        ("health_record_no", "Health record number", A, 17),
        ("coop_insurance_no", "Rural co-operative insurance number", A, 18),
    ],
)
DF02_EF05 = _tlv(
    "DF02",
    0xEF05,
    "Clinical basics",
    "health",
    [("abo", "ABO blood type", B, 1), ("rh", "Rh", C, 1)]
    + [(name, label, B, 1) for name, label in CONDITION_FLAGS]
    + [("other_warning", "Other medical warning", A, 40)],
)
DF02_EF06 = _tlv("DF02", 0xEF06, "Psychiatric flag", "health", [("psychiatric", "Psychiatric flag", B, 1)])
DF02_EF07 = EF(
    "DF02",
    0xEF07,
    "Allergies",
    Structure.CYCLIC,
    _fixed_map([("allergen", "Allergen", A, 20), ("reaction", "Reaction", A, 100)]),
    records=3,
    record_size=120,
    group="health",
)
DF02_EF08 = EF(
    "DF02",
    0xEF08,
    "Immunisations",
    Structure.CYCLIC,
    _fixed_map([("vaccine", "Vaccine", A, 20), ("date", "Date", C, 4)]),
    records=10,
    record_size=24,
    group="health",
)
DF03_EF05 = EF(
    "DF03", 0xEF05, "Inpatient slot flags", Structure.FIXED_RECORDS, records=3, record_size=1, group="records"
)
DF03_EF06 = EF(
    "DF03",
    0xEF06,
    "Outpatient slot flags",
    Structure.FIXED_RECORDS,
    records=5,
    record_size=1,
    group="records",
)
SLOT_VALID, SLOT_ERASED = 0x00, 0xFF

SIGNATURE_LEN, SAM_CERT_LEN = 64, 190
INPATIENT_DATA_LEN, OUTPATIENT_DATA_LEN = 1639, 3013

# The per-item map of the EE/ED records is long and not public (vendor tables number items 64-384); the
# leading items below are the ones a counter needs, the remaining bytes are kept as one opaque item.
_INPATIENT_HEAD = [
    ("institution_code", "Institution code", C, 11),
    ("institution_name", "Institution name", A, 70),
    ("admitted_on", "Admission date", C, 4),
    ("discharged_on", "Discharge date", C, 4),
    ("department", "Department", A, 20),
    ("admission_diagnosis", "Admission diagnosis", A, 100),
    ("discharge_diagnosis", "Discharge diagnosis", A, 100),
    ("summary", "Summary", A, 400),
]
_OUTPATIENT_HEAD = [
    ("institution_code", "Institution code", C, 11),
    ("institution_name", "Institution name", A, 70),
    ("visited_on", "Visit date", C, 4),
    ("department", "Department", A, 20),
    ("diagnosis", "Diagnosis", A, 100),
    ("summary", "Summary", A, 400),
]


def _record_map(head, data_len):
    used = sum(length for *_, length in head)
    return _fixed_map(
        head
        + [("rest", "Other items", B, data_len - used)]
        + [
            ("signature", "Signature", B, SIGNATURE_LEN),
            ("sam_certificate", "SAM certificate", B, SAM_CERT_LEN),
        ]
    )


INPATIENT_MAP = _record_map(_INPATIENT_HEAD, INPATIENT_DATA_LEN)
OUTPATIENT_MAP = _record_map(_OUTPATIENT_HEAD, OUTPATIENT_DATA_LEN)
INPATIENT_SIZE = INPATIENT_DATA_LEN + SIGNATURE_LEN + SAM_CERT_LEN  # 1893
OUTPATIENT_SIZE = OUTPATIENT_DATA_LEN + SIGNATURE_LEN + SAM_CERT_LEN  # 3267
INPATIENT_FIDS = (0xEE01, 0xEE02, 0xEE03)
OUTPATIENT_FIDS = (0xED01, 0xED02, 0xED03, 0xED04, 0xED05)
INPATIENT_FILES = tuple(
    EF(
        "DF03",
        fid,
        f"Inpatient record {n}",
        Structure.TRANSPARENT,
        INPATIENT_MAP,
        size=INPATIENT_SIZE,
        group="records",
    )
    for n, fid in enumerate(INPATIENT_FIDS, 1)
)
OUTPATIENT_FILES = tuple(
    EF(
        "DF03",
        fid,
        f"Outpatient record {n}",
        Structure.TRANSPARENT,
        OUTPATIENT_MAP,
        size=OUTPATIENT_SIZE,
        group="records",
    )
    for n, fid in enumerate(OUTPATIENT_FIDS, 1)
)

# Key ids: EXTERNAL AUTHENTICATE P2 on the card, 80 DE P2 at the SAM (usage byte P1 = 0x47).
DFS: dict[str, DF] = {
    "DDF1": DF("DDF1", 0xDDF1, 0x04, 0x05, 0x31, 0x35, 0x39, levels=1),
    "DF01": DF("DF01", 0xDF01, 0x84, 0x85, 0x32, 0x36, 0x3A, levels=1),
    "DF02": DF("DF02", 0xDF02, 0x84, 0x86, 0x33, 0x37, 0x3B, levels=2),
    "DF03": DF("DF03", 0xDF03, 0x84, 0x87, 0x34, 0x38, 0x3C, levels=2),
}
ALL_FILES: tuple[EF, ...] = (
    DDF1_EF05,
    DDF1_EF06,
    DDF1_EF07,
    DDF1_EF08,
    DF01_EF05,
    DF01_EF06,
    DF01_EF07,
    DF01_EF08,
    DF02_EF05,
    DF02_EF06,
    DF02_EF07,
    DF02_EF08,
    DF03_EF05,
    DF03_EF06,
    *INPATIENT_FILES,
    *OUTPATIENT_FILES,
)
for _ef in ALL_FILES:
    DFS[_ef.df].files[_ef.fid] = _ef
FILES: dict[str, EF] = {ef.key: ef for ef in ALL_FILES}
DF_BY_FID = {df.fid: df for df in DFS.values()}
MF_FID = 0x3F00
PHOTO_MAX = 3072


def ef(df: str, fid: int) -> EF:
    return DFS[df].files[fid]


def item_count() -> int:
    """Items in the table (binary record maps count their named items)."""
    return (
        sum(len(f.items) for f in ALL_FILES if f.structure != Structure.TRANSPARENT)
        + 1
        + len(INPATIENT_MAP)
        + len(OUTPATIENT_MAP)
    )
