"""Scoped reads of the vendors app: filings, actual use and its figures, card makers compared with filings.

Filings are national reference data: every user with a scope sees the whole list (a city clerk must be able
to check a Guangdong manufacturer's card), a staff user without a scope sees nothing. Actual use is scoped
by the institution's region like every register.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Concat, Substr

from institutions.models import CardMaker
from registry.models import Region
from registry.scope import scope_queryset, user_scope_prefix
from vendors.choices import CARD_PRODUCT_TYPES, ActualUseGrouping, ActualUseStatus, ProductType
from vendors.filtersets import (
    ActualUseFilterSet,
    CardMakerFilingFilterSet,
    FiledProductFilterSet,
    ManufacturerFilterSet,
)
from vendors.models import ActualUse, CardMakerFiling, FiledProduct, Manufacturer


def national_queryset(queryset: QuerySet, user) -> QuerySet:
    """Filings are not region-scoped, but a staff user without a scope still sees nothing."""
    return queryset if user_scope_prefix(user) is not None else queryset.none()


def manufacturer_list(*, user, filters: dict | None = None) -> QuerySet[Manufacturer]:
    queryset = national_queryset(Manufacturer.objects.select_related("region"), user)
    return ManufacturerFilterSet(filters or {}, queryset=queryset).qs


def filed_product_list(*, user, filters: dict | None = None) -> QuerySet[FiledProduct]:
    queryset = national_queryset(FiledProduct.objects.select_related("manufacturer"), user)
    return FiledProductFilterSet(filters or {}, queryset=queryset).qs


def filed_product_valid_list(*, user, on: dt.date | None = None) -> QuerySet[FiledProduct]:
    """The products that count as validly filed today (status valid, within validity, manufacturer valid)."""
    return national_queryset(FiledProduct.objects.valid(on).select_related("manufacturer"), user)


def actual_use_list(*, user, filters: dict | None = None) -> QuerySet[ActualUse]:
    queryset = scope_queryset(
        ActualUse.objects.select_related(
            "medical_institution", "financial_institution", "product__manufacturer", "region"
        ),
        user,
    )
    return ActualUseFilterSet(filters or {}, queryset=queryset).qs


# --- Actual-use figures ----------------------------------------------------------------------------------

# grouping -> the columns a row is grouped by (the first is the key, the second its label where it has one).
_GROUPS = {
    ActualUseGrouping.PRODUCT: ("product__filing_number", "product__name", "product__model"),
    ActualUseGrouping.PRODUCT_TYPE: ("product__product_type",),
    ActualUseGrouping.MANUFACTURER: ("product__manufacturer__code", "product__manufacturer__name"),
    ActualUseGrouping.PROVINCE: ("province",),
    ActualUseGrouping.REGION: ("region_id", "region__full_name"),
    ActualUseGrouping.INSTITUTION: ("institution_code", "institution_name"),
}


def actual_use_totals(
    *, user, by: str, filters: dict | None = None, include_retired: bool = False
) -> list[dict]:
    """Actual use summed by product, product type, manufacturer, province, region or institution.

    Each row: {"key", "label", "quantity", "registrations", "institutions"}, largest quantity first.
    Counts rows in use only (unless include_retired), in the user's scope, after the list's filters, so
    the figures are those of the list the person sees, and the groups add up to the list's total.
    """
    if by not in _GROUPS:
        raise ValueError(f"unknown grouping {by!r}")
    queryset = actual_use_list(user=user, filters=filters)
    if not include_retired:
        queryset = queryset.filter(status=ActualUseStatus.IN_USE)
    queryset = queryset.annotate(
        province=Concat(Substr("region_id", 1, 2), Value("0000")),
        institution_code=Coalesce("medical_institution__code", "financial_institution__code"),
        institution_name=Coalesce("medical_institution__name", "financial_institution__name"),
    )
    columns = _GROUPS[by]
    rows = (
        queryset.order_by()
        .values(*columns)
        .annotate(
            quantity=Sum("quantity"),
            registrations=Count("pk"),
            # The two registers number their rows separately; a row names exactly one of them.
            institutions=Count("medical_institution", distinct=True)
            + Count("financial_institution", distinct=True),
        )
        .order_by("-quantity", columns[0])
    )
    labels = _labels(by, rows)
    return [
        {
            "key": row[columns[0]],
            "label": labels.get(row[columns[0]])
            or " ".join(str(row[c]) for c in columns[1:])
            or row[columns[0]],
            "quantity": row["quantity"],
            "registrations": row["registrations"],
            "institutions": row["institutions"],
        }
        for row in rows
    ]


def _labels(by: str, rows) -> dict:
    if by == ActualUseGrouping.PRODUCT_TYPE:
        return {value: str(label) for value, label in ProductType.choices}
    if by == ActualUseGrouping.PROVINCE:
        return dict(Region.objects.filter(code__in=[r["province"] for r in rows]).values_list("code", "name"))
    return {}


def actual_use_national_figures(*, user, filters: dict | None = None) -> dict[str, list[dict]]:
    """What the ministry looks at: actual use summed by product type, by manufacturer and by province.

    Works on whatever rows the node holds (at the ministry they arrive by sync), in the user's scope.
    """
    return {
        by: actual_use_totals(user=user, by=by, filters=filters)
        for by in (ActualUseGrouping.PRODUCT_TYPE, ActualUseGrouping.MANUFACTURER, ActualUseGrouping.PROVINCE)
    }


# --- Card makers compared with filings -------------------------------------------------------------------


def _valid_card_products(**match) -> Exists:
    return Exists(FiledProduct.objects.valid().filter(product_type__in=CARD_PRODUCT_TYPES, **match))


def card_maker_filing_match() -> dict:
    """Annotations that compare a card maker (制卡机构) with the filings this node holds.

    A maker is matched to the filed manufacturer with the same unified social credit code. Only where no
    manufacturer carries its code, a manufacturer with exactly the same registered name stands in (a code
    keyed differently at two tiers must not hide a real filing; docs/architecture.md). It counts as
    producing with a filed product when that manufacturer has at least one product of a card type (user card,
    SAM card, card chip/COS) that is valid today.
    """
    by_code = Manufacturer.objects.filter(code=OuterRef("code"))
    return {
        "filing_manufacturer_by_code": Exists(by_code),
        "has_valid_filing": ExpressionWrapper(
            _valid_card_products(manufacturer__code=OuterRef("code"))
            | (~Exists(by_code) & _valid_card_products(manufacturer__name=OuterRef("name"))),
            output_field=BooleanField(),
        ),
    }


def card_maker_filing_list(*, user, filters: dict | None = None) -> QuerySet[CardMakerFiling]:
    """Card makers in the user's scope, each annotated `has_valid_filing` (the report and its filter)."""
    queryset = scope_queryset(CardMakerFiling.objects.select_related("region"), user)
    return CardMakerFilingFilterSet(filters or {}, queryset=queryset.annotate(**card_maker_filing_match())).qs


def card_maker_without_valid_filing_list(*, user) -> QuerySet[CardMakerFiling]:
    """The report: active card makers with no valid filed product."""
    return card_maker_filing_list(user=user, filters={"status": "active", "has_valid_filing": "false"})


def card_maker_has_valid_filing(maker: CardMaker) -> bool:
    """The FILING_CHECK hook of institutions.selectors (filled in VendorsConfig.ready)."""
    return (
        CardMaker.objects.filter(pk=maker.pk)
        .annotate(**card_maker_filing_match())
        .filter(has_valid_filing=True)
        .exists()
    )


def card_maker_filed_products(maker: CardMaker) -> QuerySet[FiledProduct]:
    """The filed products a maker is matched to (all statuses), for its detail panel."""
    query = Q(manufacturer__code=maker.code)
    if not Manufacturer.objects.filter(code=maker.code).exists():
        query = Q(manufacturer__name=maker.name)
    return FiledProduct.objects.filter(query).select_related("manufacturer")
