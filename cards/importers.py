"""The holder import from the regional platform ("cards.holders") and the reading of a population reference file
for the comparison (比对), both through registry.imports.

Rows are checked by cards.actions.holders.HolderRowRules (holder_validate's rules), made ready in batches of
HOLDER_BATCH rows by holder_import_prepare (in the reading thread) and written by holder_import_write. Codes and
their Chinese names are both accepted for sex, ethnicity and the other coded columns, as the platforms write
either.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards.actions.holders import HolderBatch, HolderRowRules, holder_import_prepare, holder_import_write
from cards.choices import (
    AddressType,
    ContactRelation,
    DocumentType,
    Education,
    Ethnicity,
    MaritalStatus,
    Sex,
)
from cards.models import Resident
from registry.errors import DomainError
from registry.imports import (
    ImportCellError,
    ImportColumn,
    ImportContext,
    ImportSpec,
    open_table,
    register_import_spec,
)
from registry.models import Region
from registry.models.imports import ImportJobStatus
from registry.protection import mask_address, mask_id_number, mask_name, mask_phone
from registry.scope import node_prefix, user_scope_prefix

HOLDER_IMPORT = "cards.holders"
COMPARISON_SPEC = "cards.holders.comparison"
HOLDER_BATCH = 5000
CONTACTS = 3

# GB 3304 names, in code order (01 汉族 ... 56 基诺族, then 97 and 98): the platforms' files often carry them.
ETHNICITY_NAMES = (
    "汉族 蒙古族 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 土家族 哈尼族 哈萨克族 傣族 黎族 "
    "傈僳族 佤族 畲族 高山族 拉祜族 水族 东乡族 纳西族 景颇族 柯尔克孜族 土族 达斡尔族 仫佬族 羌族 布朗族 撒拉族 "
    "毛南族 仡佬族 锡伯族 阿昌族 普米族 塔吉克族 怒族 乌孜别克族 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 京族 塔塔尔族 "
    "独龙族 鄂伦春族 赫哲族 门巴族 珞巴族 基诺族"
).split()
ALIASES = {
    "sex": {"男": Sex.MALE, "女": Sex.FEMALE, "m": Sex.MALE, "f": Sex.FEMALE, "未知": Sex.UNKNOWN},
    "ethnicity": {
        **{name: f"{code:02d}" for code, name in enumerate(ETHNICITY_NAMES, start=1)},
        **{name.removesuffix("族"): f"{code:02d}" for code, name in enumerate(ETHNICITY_NAMES, start=1)},
        "穿青人": Ethnicity.OTHER,
        "其他": Ethnicity.OTHER,
        "外国血统": Ethnicity.NATURALISED,
        "外国血统中国籍人士": Ethnicity.NATURALISED,
    },
    "document_type": {"居民身份证": DocumentType.ID_CARD, "身份证": DocumentType.ID_CARD, "护照": "03"},
}


@dataclass(frozen=True)
class PersonalColumn(ImportColumn):
    """A column of personal data: the dry run's sample of valid rows (kept on the job, shown) is masked."""

    mask: Callable[[str], str] = mask_id_number
    personal: bool = True

    def display(self, value) -> str:
        return self.mask(value or "")

    def mask_value(self, value: str) -> str:
        return self.display(value)


def _header(name: str):
    return Resident._meta.get_field(name).verbose_name


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _coded(key: str, choices):
    """A parser of a coded column: the code, its label (English or Chinese) or a known Chinese name."""
    lookup: dict[str, str] = {}

    def build() -> dict[str, str]:
        from django.utils import translation

        for language in ("en", "zh-hans"):
            with translation.override(language):
                lookup.update({_normal(str(label)): value for value, label in choices})
        lookup.update({_normal(name): value for name, value in ALIASES.get(key, {}).items()})
        lookup.update({value: value for value, _label in choices})
        if key == "ethnicity":  # "1" for "01"
            lookup.update({str(int(value)): value for value, _label in choices})
        return lookup

    def parse(text: str, context: ImportContext) -> str:
        value = (lookup or build()).get(text) or lookup.get(_normal(text))
        if value is None:
            raise ImportCellError(
                _("“%(value)s” is not a known code here: write the code or the name of the template."),
                {"value": text},
                code=f"unknown_{key}",
            )
        return value

    return parse


def _limited(max_length: int):
    def parse(text: str, context: ImportContext) -> str:
        if len(text) > max_length:
            raise ImportCellError(
                _("At most %(max)s characters are allowed; this value has %(length)s."),
                {"max": max_length, "length": len(text)},
            )
        return text

    return parse


def parse_document_number(text: str, context: ImportContext) -> str:
    # Checked with the other columns (validate_row): the check needs the document type.
    return text.upper()


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")


def parse_date(text: str, context: ImportContext) -> dt.date:
    text = text.split(" ", 1)[0]
    if len(text) == 10 and text[4] == "-":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ImportCellError(
        _("“%(value)s” is not a date: write it as 1985-06-15."), {"value": text}, code="bad_date"
    )


def _scope_prefix(context: ImportContext) -> str | None:
    # An import without a person (a command, the system) acts for the whole node.
    return node_prefix() if context.user is None else user_scope_prefix(context.user)


def _rules(context: ImportContext) -> HolderRowRules:
    return context.memo("holder_rules", lambda: HolderRowRules(scope_prefix=_scope_prefix(context)))


def parse_region(text: str, context: ImportContext) -> Region:
    """The county of residence: its 6-digit code or its full name (陕西省 西安市 雁塔区)."""
    rules = _rules(context)
    compact = re.sub(r"\s+", "", text)
    if compact.isdigit():
        region = rules.counties.get(compact)
    else:
        by_name = context.memo(
            "county_names",
            lambda: {
                **{"".join(r.full_name.split()[1:]): r for r in rules.counties.values()},
                **{"".join(r.full_name.split()): r for r in rules.counties.values()},
            },
        )
        region = by_name.get(compact)
    if region is None:
        raise ImportCellError(
            _(
                "Unknown county “%(value)s”: write the county's 6-digit code (e.g. 610113) or its full name "
                "(e.g. 陕西省 西安市 雁塔区)."
            ),
            {"value": text},
            code="unknown_region",
        )
    return region


CONTACT_KEYS = tuple(
    (f"contact{n}_name", f"contact{n}_relation", f"contact{n}_phone") for n in range(1, CONTACTS + 1)
)

CONTACT_KEYSET = frozenset(key for keys in CONTACT_KEYS for key in keys)


def validate_holder_row(values: dict, context: ImportContext) -> list:
    """holder_validate's rules and the importer's region; completes the row (birth date, sex, county)."""
    if not CONTACT_KEYSET.isdisjoint(values):
        contacts = []
        for name_key, relation_key, phone_key in CONTACT_KEYS:
            name = values.pop(name_key, "")
            relation = values.pop(relation_key, "")
            phone = values.pop(phone_key, "")
            if name or phone:
                contacts.append({"name": name, "relation": relation or ContactRelation.OTHER, "phone": phone})
        values["contacts"] = contacts
    try:
        _rules(context).clean(values, in_place=True)
    except DomainError as error:
        column = (error.detail or {}).get("field", "document_number")
        return [(column, error)]
    return []


def prepare_holders(rows: list[dict], *, actor, expect_new: bool = True) -> HolderBatch:
    """A batch of the import made ready in the reading thread: checked rows keyed, sealed, journal built."""
    return holder_import_prepare(actor=actor, rows=rows, expect_new=expect_new)


def apply_holders(batch: HolderBatch, *, actor) -> tuple[int, int]:
    """A prepared batch of the import written: the job being committed is named on the batch's audit row."""
    from registry.models import ImportJob

    job_id = None
    if actor.user is not None:
        job_id = (
            ImportJob.objects.filter(
                spec_name=HOLDER_IMPORT, status=ImportJobStatus.RUNNING, committed_by=actor.user
            )
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
    return holder_import_write(actor=actor, batch=batch, job_id=job_id, reason="import")


def _contact_columns() -> list[ImportColumn]:
    columns = []
    for n, (name_key, relation_key, phone_key) in enumerate(CONTACT_KEYS, start=1):
        columns += [
            PersonalColumn(name_key, contact_header(n, "name"), parse=_limited(50), mask=mask_name),
            ImportColumn(
                relation_key,
                contact_header(n, "relation"),
                parse=_coded("relation", ContactRelation.choices),
                choices=ContactRelation.choices,
            ),
            PersonalColumn(phone_key, contact_header(n, "phone"), parse=_limited(30), mask=mask_phone),
        ]
    return columns


def contact_header(n: int, part: str):
    from django.utils.functional import lazy

    labels = {
        "name": _("emergency contact %(n)s name"),
        "relation": _("emergency contact %(n)s relation"),
        "phone": _("emergency contact %(n)s phone"),
    }
    return lazy(lambda: str(labels[part]) % {"n": n}, str)()


HOLDERS = register_import_spec(
    ImportSpec(
        name=HOLDER_IMPORT,
        title=_("Holders"),
        key_column="document_number",
        prepare_batch=prepare_holders,
        apply_batch=apply_holders,
        validate_row=validate_holder_row,
        batch_size=HOLDER_BATCH,
        columns=[
            PersonalColumn(
                "name",
                pgettext_lazy("holder", "name"),
                required=True,
                parse=_limited(50),
                mask=mask_name,
                example="王小明",
                help=_("The holder's name as on the ID card."),
            ),
            ImportColumn(
                "document_type",
                _header("document_type"),
                parse=_coded("document_type", DocumentType.choices),
                choices=DocumentType.choices,
                empty=DocumentType.ID_CARD,
                example=DocumentType.ID_CARD.label,
                help=_("Empty means the resident identity card."),
            ),
            PersonalColumn(
                "document_number",
                _header("document_number"),
                required=True,
                parse=parse_document_number,
                mask=mask_id_number,
                example="610113198506150011",
                help=_(
                    "An ID number is checked (18 characters, check digit, birth date, region); it identifies "
                    "the holder: importing a number that is registered already updates that holder. Keep the "
                    "column as text in Excel, or the last digits are lost."
                ),
            ),
            ImportColumn(
                "sex",
                _header("sex"),
                parse=_coded("sex", Sex.choices),
                choices=Sex.choices,
                empty=None,
                example="男",
                help=_("For an ID card it must agree with the number (empty: taken from the number)."),
            ),
            ImportColumn(
                "ethnicity",
                _header("ethnicity"),
                parse=_coded("ethnicity", Ethnicity.choices),
                choices=Ethnicity.choices,
                empty=Ethnicity.HAN,
                example="汉族",
                help=_("The GB 3304 code (01-56, 97, 98) or the name (汉族). Empty means Han."),
            ),
            ImportColumn(
                "birth_date",
                _header("birth_date"),
                parse=parse_date,
                empty=None,
                example="1985-06-15",
                help=_("For an ID card it must agree with the number (empty: taken from the number)."),
            ),
            ImportColumn(
                "region",
                _header("region"),
                parse=parse_region,
                empty=None,
                example="610113",
                help=_(
                    "The county of residence: its 6-digit code or full name. Empty: the county the ID number "
                    "names. It must be in your region."
                ),
            ),
            ImportColumn(
                "address1_type",
                _header("address1_type"),
                parse=_coded("address_type", AddressType.choices),
                choices=AddressType.choices,
            ),
            PersonalColumn(
                "address1",
                _header("address1"),
                parse=_limited(200),
                mask=mask_address,
                example="西安市雁塔区某某路1号",
            ),
            ImportColumn(
                "address2_type",
                _header("address2_type"),
                parse=_coded("address_type", AddressType.choices),
                choices=AddressType.choices,
            ),
            PersonalColumn("address2", _header("address2"), parse=_limited(200), mask=mask_address),
            PersonalColumn(
                "phone1", _header("phone1"), parse=_limited(30), mask=mask_phone, example="13800000000"
            ),
            PersonalColumn("phone2", _header("phone2"), parse=_limited(30), mask=mask_phone),
            *_contact_columns(),
            ImportColumn(
                "education",
                _header("education"),
                parse=_coded("education", Education.choices),
                choices=Education.choices,
            ),
            ImportColumn(
                "marital_status",
                _header("marital_status"),
                parse=_coded("marital_status", MaritalStatus.choices),
                choices=MaritalStatus.choices,
            ),
            ImportColumn(
                "occupation",
                _header("occupation"),
                parse=_limited(3),
                help=_("The GB/T 6565 code."),
            ),
            PersonalColumn("health_record_no", _header("health_record_no"), parse=_limited(40)),
            PersonalColumn("rural_coop_no", _header("rural_coop_no"), parse=_limited(40)),
        ],
    )
)


def _not_applicable(rows, *, actor):
    raise DomainError(_("A reference file is compared, never imported."), code="import_unknown")


# The reference file of a comparison: read with the import machinery's readers (XLSX, CSV), never applied.
COMPARISON = register_import_spec(
    ImportSpec(
        name=COMPARISON_SPEC,
        title=_("Population reference file"),
        key_column="document_number",
        apply_batch=_not_applicable,
        columns=[
            PersonalColumn(
                "name", pgettext_lazy("holder", "name"), required=True, example="王小明", mask=mask_name
            ),
            PersonalColumn(
                "document_number", _header("document_number"), required=True, example="610113198506150011"
            ),
            ImportColumn("sex", _header("sex"), choices=Sex.choices, example="男"),
            ImportColumn("ethnicity", _header("ethnicity"), choices=Ethnicity.choices, example="汉族"),
        ],
    )
)


def comparison_rows(file, filename: str = "") -> Iterator[tuple[int, dict]]:
    """The rows of a reference file as (row number, {name, document_number, sex, ethnicity}), sex and ethnicity
    as codes where they are known (an unknown text stays as it is and so differs)."""
    context = ImportContext()
    parsers = {"sex": _coded("sex", Sex.choices), "ethnicity": _coded("ethnicity", Ethnicity.choices)}
    with open_table(COMPARISON, file, filename) as table:
        for number, raw in table.rows:
            row = dict(raw)
            for key, parse in parsers.items():
                text = row.get(key, "")
                if text:
                    try:
                        row[key] = parse(text, context)
                    except DomainError:
                        row[key] = text
            yield number, row


from cards.importers_production import *  # noqa


def demo_reference_rows(residents, rng, *, share_matching: float = 0.7) -> list[list[str]]:
    """A population-register extract to compare the demo's holders against (demo only): about `share_matching`
    of its rows match fully, as Liaoning's comparison did (~70 %); the rest differ the way real extracts do (a
    variant character in the name, sex or ethnicity recorded otherwise, people not registered here, a mistyped
    ID number). Rows are [name, ID number, sex, ethnicity] with the headers of the comparison template."""
    from stdnum.cn import ric

    rows = []
    other = (1 - share_matching) / 6
    for resident in residents:
        name, number = resident.name, resident.document_number
        sex = "男" if resident.sex == Sex.MALE else "女" if resident.sex == Sex.FEMALE else ""
        ethnicity = resident.ethnicity
        draw = rng.random()
        if draw < share_matching:
            rows.append([name, number, sex, ethnicity])
        elif draw < share_matching + 2 * other:
            rows.append([name[:-1] + rng.choice("明敏华伟芳娟"), number, sex, ethnicity])
        elif draw < share_matching + 3 * other:
            rows.append([name, number, "女" if sex == "男" else "男", ethnicity])
        elif draw < share_matching + 4 * other:
            rows.append([name, number, sex, "03" if ethnicity == Ethnicity.HAN else Ethnicity.HAN])
        elif draw < share_matching + 5 * other:
            body = f"{number[:14]}{rng.randrange(1000):03d}"  # someone registered elsewhere
            rows.append(
                [
                    name[0] + rng.choice("建国丽娟志强"),
                    body + ric.calc_check_digit(body + "0"),
                    sex,
                    ethnicity,
                ]
            )
        else:
            typo = number[:-1] + ("0" if number[-1] != "0" else "1")
            rows.append([name, typo, sex, ethnicity])
    return rows


# --- The death registry ("cards.deaths") -------------------------------------------------------------------

DEATH_IMPORT = "cards.deaths"


def apply_deaths(rows: list[dict], *, actor) -> tuple[int, int]:
    from cards.actions.maintenance import death_record_import_batch

    return death_record_import_batch(rows, actor=actor)


DEATHS = register_import_spec(
    ImportSpec(
        name=DEATH_IMPORT,
        title=_("Death registry records"),
        key_column="record_id",
        apply_batch=apply_deaths,
        batch_size=500,
        columns=[
            PersonalColumn(
                "id_number",
                _("ID number"),
                required=True,
                parse=parse_document_number,
                mask=mask_id_number,
                example="610113198506150011",
                help=_("The deceased's ID number; the holder is found by it in your region."),
            ),
            PersonalColumn(
                "name",
                pgettext_lazy("holder", "name"),
                parse=_limited(50),
                mask=mask_name,
                example="王小明",
            ),
            ImportColumn(
                "registry",
                _("death registry"),
                required=True,
                max_length=50,
                example="公安人口死亡登记",
                help=_("Which registry the record comes from (with the record id it identifies the record)."),
            ),
            ImportColumn(
                "record_id",
                _("record id"),
                required=True,
                max_length=64,
                example="SW2026110100123",
                help=_("A record already received is not applied again."),
            ),
            ImportColumn(
                "died_on",
                _("date of death"),
                required=True,
                parse=parse_date,
                example="2026-11-01",
            ),
        ],
    )
)
