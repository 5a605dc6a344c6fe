"""The files exchanged with a card maker: the personalisation file we send, the return file we get back.

Both formats are documented for the makers in docs/personalisation-file.md; this module is the one place that
writes, verifies and reads them. The personalisation file is a ZIP of `cards.csv` (one record per card),
`manifest.json` (counts and the SHA-256 of cards.csv) and `manifest.sig` (the node's Ed25519 signature of the
manifest's exact bytes, base64), so a maker can check offline that the file is complete and comes from us.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from cards.choices import PlanItemStatus
from registry.errors import DomainError

FORMAT = "hc-personalisation/1"
CARDS_NAME, MANIFEST_NAME, SIGNATURE_NAME = "cards.csv", "manifest.json", "manifest.sig"
# DDF1/EF05 items 01 (card type, AN1) and 02 (spec version, AN4) as this platform issues them. The official
# values are in WS/T 543.1, which is not public: correct them here, in one place, if a province's differ.
CARD_TYPE = "1"
SPEC_VERSION = "0100"
CARD_VALIDITY_YEARS = 10

CARD_COLUMNS = (
    "item_id",  # the plan item: the return file names it
    "card_no",  # DDF1/EF05 08, AN18: the holder's document number
    "name",  # DDF1/EF06, AN30 (GBK on the chip)
    "sex",  # GB/T 2261.1 code
    "ethnicity",  # GB 3304 code, 2 digits
    "birth_date",  # YYYYMMDD (CN4)
    "document_type",  # DF01/EF08 CN1
    "document_number",  # DF01/EF08 AN18
    "card_expiry",  # DDF1/EF08 tag 07, YYYYMMDD (CN4)
    "issuer_name",  # DDF1/EF05 03, AN30
    "issuer_code",  # DDF1/EF05 04, CN11: the issuing centre's region code, F-padded on the chip
    "application_city_code",  # DDF1/EF05 39, CN3: the city of the application
    "card_type",  # DDF1/EF05 01, AN1
    "spec_version",  # DDF1/EF05 02, AN4
)

RETURN_COLUMNS = ("plan_number", "item_id", "card_no", "result", "chip_serial", "failure_reason")
RESULT_WORDS = {
    PlanItemStatus.PRODUCED: {"produced", "success", "ok", "1", "y", "yes", "成功", "已制卡", "制卡成功"},
    PlanItemStatus.FAILED: {"failed", "failure", "fail", "0", "n", "no", "失败", "制卡失败"},
}
CHIP_SERIAL_RE = re.compile(r"^[0-9A-Za-z]{1,20}$")


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def card_expiry(plan) -> dt.date:
    """The expiry written on the chip and kept on the card: ten years from the day the plan was made.

    Derived from the plan, not from the day of the download or of the stock-in, so every copy of the file and
    the register agree.
    """
    return add_years(timezone.localdate(plan.created_at), CARD_VALIDITY_YEARS)


def city_code(region_code: str) -> str:
    """The city (地市) a region code belongs to: 610113 -> 610100; a province stays as it is."""
    return region_code if region_code.endswith("0000") else region_code[:4] + "00"


def issuer_of(region) -> dict:
    """The issuing centre of a plan's cards: the nearest registered centre at or above the plan's region."""
    from registry.models import RegistrationCentre

    codes = []
    code = region.code
    for candidate in (code, code[:4] + "00", code[:2] + "0000", settings.HC_REGION):
        if candidate not in codes:
            codes.append(candidate)
    centres = {c.region_id: c for c in RegistrationCentre.objects.filter(region_id__in=codes)}
    for candidate in codes:
        if candidate in centres:
            return {"name": centres[candidate].name, "code": candidate}
    with translation.override("zh-hans"):
        name = str(_("%(region)s Resident Health Card Registration Centre") % {"region": region.name})
    return {"name": name, "code": region.code}


@dataclass
class PersonalisationFile:
    filename: str
    content: bytes
    manifest: dict


def card_record(*, item, resident, application, issuer: dict, expiry: dt.date) -> dict:
    return {
        "item_id": item.pk,
        "card_no": resident.document_number,
        "name": resident.name,
        "sex": resident.sex,
        "ethnicity": resident.ethnicity,
        "birth_date": resident.birth_date.strftime("%Y%m%d"),
        "document_type": resident.document_type,
        "document_number": resident.document_number,
        "card_expiry": expiry.strftime("%Y%m%d"),
        "issuer_name": issuer["name"],
        "issuer_code": issuer["code"],
        "application_city_code": city_code(application.region_id),
        "card_type": CARD_TYPE,
        "spec_version": SPEC_VERSION,
    }


def cards_csv(records) -> bytes:
    """cards.csv: UTF-8 without BOM, comma separated, CRLF line ends (RFC 4180), a header row of column keys."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CARD_COLUMNS)
    for record in records:
        writer.writerow([record[column] for column in CARD_COLUMNS])
    return out.getvalue().encode("utf-8")


def manifest_bytes(manifest: dict) -> bytes:
    """The manifest exactly as signed: sorted keys, two-space indent, UTF-8."""
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")


def build_personalisation_file(*, plan, records: list[dict]) -> PersonalisationFile:
    """The ZIP for the plan's card maker, signed with this node's key."""
    from registry.node import public_key_fingerprint, public_key_pem, sign

    body = cards_csv(records)
    created = timezone.localtime()
    manifest = {
        "format": FORMAT,
        "plan_number": plan.number,
        "plan_region": plan.region_id,
        "card_maker_code": plan.card_maker.code,
        "card_maker_name": plan.card_maker.name,
        "count": len(records),
        "cards_file": CARDS_NAME,
        "cards_sha256": hashlib.sha256(body).hexdigest(),
        "created_at": created.isoformat(timespec="seconds"),
        "node_region": settings.HC_REGION,
        "node_tier": settings.HC_TIER,
        "signature_algorithm": "Ed25519",
        "signer_key_fingerprint": public_key_fingerprint(public_key_pem()),
    }
    signed = manifest_bytes(manifest)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(CARDS_NAME, body)
        archive.writestr(MANIFEST_NAME, signed)
        archive.writestr(SIGNATURE_NAME, sign(signed))
    filename = f"{plan.number}-{created:%Y%m%d%H%M%S}.zip"
    return PersonalisationFile(filename=filename, content=out.getvalue(), manifest=manifest)


def verify_personalisation_file(content: bytes, *, public_key_pem_text: str) -> dict:
    """What a maker does on receipt: the signature, the hash and the count. Returns the manifest."""
    from registry.node import verify

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            signed = archive.read(MANIFEST_NAME)
            signature = archive.read(SIGNATURE_NAME).decode("ascii").strip()
            body = archive.read(CARDS_NAME)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as error:
        raise DomainError(
            _("This is not a personalisation file (a ZIP of cards.csv, manifest.json and manifest.sig)."),
            code="personalisation_file_unreadable",
        ) from error
    if not verify(signed, signature, public_key_pem_text=public_key_pem_text):
        raise DomainError(
            _("The manifest's signature does not verify: the file was altered or signed by another key."),
            code="personalisation_signature_invalid",
        )
    manifest = json.loads(signed)
    if hashlib.sha256(body).hexdigest() != manifest.get("cards_sha256"):
        raise DomainError(
            _("cards.csv does not match the SHA-256 in the manifest: the file is damaged or altered."),
            code="personalisation_hash_mismatch",
        )
    rows = sum(1 for _row in csv.reader(io.StringIO(body.decode("utf-8")))) - 1
    if rows != manifest.get("count"):
        raise DomainError(
            _("cards.csv holds %(rows)s records but the manifest counts %(count)s."),
            {"rows": rows, "count": manifest.get("count")},
            code="personalisation_count_mismatch",
        )
    return manifest


def parse_result(text: str) -> str | None:
    """The result column of a return file: produced or failed (also 1/0, 成功/失败); None if unknown."""
    word = text.strip().casefold()
    for status, words in RESULT_WORDS.items():
        if word in words or word == str(PlanItemStatus(status).label).casefold():
            return status
    return None


def return_file_csv(rows: list[dict]) -> bytes:
    """A return file as a maker writes it (for tests, the demo and the documentation's example)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RETURN_COLUMNS)
    for row in rows:
        writer.writerow([row.get(column, "") for column in RETURN_COLUMNS])
    return out.getvalue().encode("utf-8")
