"""The medical-institution import (from the regional health information platform): its columns and parsers.

Registered by name ("institutions.medical") through registry.imports; the admin's Import button and the
import jobs find it there. Rows are applied by institutions.actions.organisation_import_batch.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from institutions.actions import check_region, clean_code, organisation_import_batch
from institutions.choices import InstitutionCategory, InstitutionGrade, InstitutionNature
from institutions.models import MedicalInstitution
from registry.imports import ImportCellError, ImportColumn, ImportContext, ImportSpec, register_import_spec
from registry.models import Region
from registry.scope import node_prefix, user_scope_prefix

MEDICAL_IMPORT = "institutions.medical"


def _header(field: str):
    return MedicalInstitution._meta.get_field(field).verbose_name


def _scope_prefix(context: ImportContext) -> str | None:
    # An import without a person (a command, the system) acts for the whole node.
    return node_prefix() if context.user is None else user_scope_prefix(context.user)


class _Regions:
    """Every region, indexed by code, by full name and by short name (3,500 rows: loaded once per import)."""

    def __init__(self):
        self.by_code: dict[str, Region] = {}
        self.by_full: dict[str, Region] = {}
        self.by_name: dict[str, list[Region]] = {}
        for region in Region.objects.only("code", "name", "full_name", "level"):
            self.by_code[region.code] = region
            parts = region.full_name.split()
            self.by_full["".join(parts)] = region
            if len(parts) == 3:  # "西安市 雁塔区" without the province is unambiguous enough to accept
                self.by_full.setdefault("".join(parts[1:]), region)
            self.by_name.setdefault(region.name, []).append(region)


def parse_region(text: str, context: ImportContext) -> Region:
    """A county by 6-digit code, full name ("陕西省 西安市 雁塔区") or short name unique in the person's region."""
    regions: _Regions = context.memo("regions", _Regions)
    prefix = _scope_prefix(context)
    compact = re.sub(r"\s+", "", text)
    region = regions.by_code.get(compact) if compact.isdigit() else regions.by_full.get(compact)
    if region is None and not compact.isdigit():
        candidates = regions.by_name.get(compact, [])
        mine = [r for r in candidates if prefix is not None and r.code.startswith(prefix)]
        if len(mine) > 1:
            raise ImportCellError(
                _(
                    "“%(value)s” names several regions (%(matches)s): write the 6-digit code or the full name."
                ),
                {"value": text, "matches": "; ".join(r.full_name for r in mine[:5])},
                code="region_ambiguous",
            )
        if mine or len(candidates) == 1:
            region = mine[0] if mine else candidates[0]
        elif candidates:
            raise _out_of_scope("; ".join(r.full_name for r in candidates[:5]))
    if region is None:
        raise ImportCellError(
            _(
                "Unknown region “%(value)s”: write the county's 6-digit code (e.g. 610113) or its full name "
                "as in the template."
            ),
            {"value": text},
            code="unknown_region",
        )
    check_region(MedicalInstitution, region)  # a county, not a city or province
    if prefix is None or not region.code.startswith(prefix):
        raise _out_of_scope(region)
    return region


def _out_of_scope(region) -> ImportCellError:
    return ImportCellError(
        _("%(region)s is outside your region: you can import institutions of your own region only."),
        {"region": region},
        code="region_out_of_scope",
    )


def parse_code(text: str, context: ImportContext) -> str:
    return clean_code(text)


def apply_medical_institutions(rows: list[dict], *, actor) -> tuple[int, int]:
    return organisation_import_batch(
        actor=actor, model=MedicalInstitution, rows=rows, reason=gettext("Imported from a file")
    )


MEDICAL_INSTITUTIONS = register_import_spec(
    ImportSpec(
        name=MEDICAL_IMPORT,
        title=_("Medical institutions"),
        key_column="code",
        apply_batch=apply_medical_institutions,
        columns=[
            ImportColumn(
                "name",
                _header("name"),
                required=True,
                max_length=100,
                example="西安市雁塔区示例社区卫生服务中心",
                help=_("The full registered name of the institution."),
            ),
            ImportColumn(
                "code",
                _header("code"),
                required=True,
                parse=parse_code,
                example="12610113MB29645433",
                help=_(
                    "The unified social credit code: 18 characters with a correct check digit. It identifies "
                    "the institution: importing a code that is registered already updates that institution."
                ),
            ),
            ImportColumn(
                "licence_number",
                _header("licence_number"),
                max_length=40,
                example="PDY00001261011311A1001",
                help=_("The practice licence registration number (登记号), if any."),
            ),
            ImportColumn(
                "nature",
                _header("nature"),
                required=True,
                choices=InstitutionNature.choices,
                example=InstitutionNature.PUBLIC.label,
                help=_("One of the allowed values: the Chinese name or the code."),
            ),
            ImportColumn(
                "category",
                _header("category"),
                required=True,
                choices=InstitutionCategory.choices,
                example=InstitutionCategory.COMMUNITY_CENTRE.label,
                help=_("One of the allowed values: the Chinese name or the code."),
            ),
            ImportColumn(
                "grade",
                _header("grade"),
                choices=InstitutionGrade.choices,
                empty=InstitutionGrade.UNRATED,
                example=InstitutionGrade.UNRATED.label,
                help=_("One of the allowed values: the Chinese name or the code. Empty means unrated."),
            ),
            ImportColumn(
                "region",
                _header("region"),
                required=True,
                parse=parse_region,
                example="陕西省 西安市 雁塔区",
                help=_(
                    "The county (区县) of the institution: its 6-digit code (e.g. 610113), its full name "
                    "(e.g. 陕西省 西安市 雁塔区), or its name when no other county of your region has it. "
                    "It must be in your region."
                ),
            ),
            ImportColumn("address", _header("address"), max_length=200, example="西安市雁塔区示例路1号"),
            ImportColumn("contact_person", _header("contact_person"), max_length=50, example="王某"),
            ImportColumn("phone", _header("phone"), max_length=30, example="029-88880000"),
            ImportColumn("head", _header("head"), max_length=50, example="李某"),
        ],
    )
)
