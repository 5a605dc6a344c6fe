"""Filtersets of the vendors app: used by the API lists, exports and selectors alike (one filter per field)."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from institutions.choices import OrganisationStatus
from registry.filtersets import RegionPrefixFilter
from vendors.choices import ActualUseStatus, FilingStatus, ProductType
from vendors.models import ActualUse, CardMakerFiling, FiledProduct, Manufacturer


class ManufacturerFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="contains", label=_("name"))
    code = django_filters.CharFilter(lookup_expr="startswith", label=_("unified social credit code"))
    region = RegionPrefixFilter()
    status = django_filters.ChoiceFilter(choices=FilingStatus.choices, label=_("status"))

    class Meta:
        model = Manufacturer
        fields = ["name", "code", "region", "status"]


class FiledProductFilterSet(django_filters.FilterSet):
    manufacturer = django_filters.CharFilter(
        field_name="manufacturer__code", label=_("manufacturer (unified social credit code)")
    )
    manufacturer_name = django_filters.CharFilter(
        field_name="manufacturer__name", lookup_expr="contains", label=_("manufacturer name")
    )
    manufacturer_region = RegionPrefixFilter(
        scope_field="manufacturer__region__code", label=_("manufacturer region")
    )
    product_type = django_filters.ChoiceFilter(choices=ProductType.choices, label=_("product type"))
    name = django_filters.CharFilter(lookup_expr="contains", label=_("product name"))
    model = django_filters.CharFilter(lookup_expr="contains", label=_("model"))
    filing_number = django_filters.CharFilter(lookup_expr="startswith", label=_("filing number"))
    status = django_filters.ChoiceFilter(choices=FilingStatus.choices, label=_("status"))
    valid = django_filters.BooleanFilter(method="filter_valid", label=_("valid today"))
    filed_from = django_filters.DateFilter(field_name="filing_date", lookup_expr="gte", label=_("filed from"))
    filed_to = django_filters.DateFilter(field_name="filing_date", lookup_expr="lte", label=_("filed to"))
    valid_until_before = django_filters.DateFilter(
        field_name="valid_until", lookup_expr="lte", label=_("valid until on or before")
    )

    class Meta:
        model = FiledProduct
        fields = [
            "manufacturer",
            "manufacturer_name",
            "manufacturer_region",
            "product_type",
            "name",
            "model",
            "filing_number",
            "status",
            "valid",
            "filed_from",
            "filed_to",
            "valid_until_before",
        ]

    def filter_valid(self, queryset, name, value):
        if value is None:
            return queryset
        valid = queryset.valid()
        return valid if value else queryset.exclude(pk__in=valid.values("pk"))


class ActualUseFilterSet(django_filters.FilterSet):
    region = RegionPrefixFilter()
    institution_code = django_filters.CharFilter(
        method="filter_institution_code", label=_("institution code")
    )
    institution_name = django_filters.CharFilter(
        method="filter_institution_name", label=_("institution name")
    )
    product = django_filters.CharFilter(
        field_name="product__filing_number", label=_("filed product (filing number)")
    )
    product_type = django_filters.ChoiceFilter(
        field_name="product__product_type", choices=ProductType.choices, label=_("product type")
    )
    manufacturer = django_filters.CharFilter(
        field_name="product__manufacturer__code", label=_("manufacturer (unified social credit code)")
    )
    status = django_filters.ChoiceFilter(choices=ActualUseStatus.choices, label=_("status"))
    since_from = django_filters.DateFilter(
        field_name="since", lookup_expr="gte", label=_("in use since from")
    )
    since_to = django_filters.DateFilter(field_name="since", lookup_expr="lte", label=_("in use since to"))

    class Meta:
        model = ActualUse
        fields = [
            "region",
            "institution_code",
            "institution_name",
            "product",
            "product_type",
            "manufacturer",
            "status",
            "since_from",
            "since_to",
        ]

    def filter_institution_code(self, queryset, name, value):
        return queryset.filter(Q(medical_institution__code=value) | Q(financial_institution__code=value))

    def filter_institution_name(self, queryset, name, value):
        return queryset.filter(
            Q(medical_institution__name__contains=value) | Q(financial_institution__name__contains=value)
        )


class CardMakerFilingFilterSet(django_filters.FilterSet):
    """Card makers compared with filings; the queryset carries `has_valid_filing` (selectors)."""

    name = django_filters.CharFilter(lookup_expr="contains", label=_("name"))
    code = django_filters.CharFilter(lookup_expr="startswith", label=_("unified social credit code"))
    region = RegionPrefixFilter()
    status = django_filters.ChoiceFilter(choices=OrganisationStatus.choices, label=_("status"))
    has_valid_filing = django_filters.BooleanFilter(label=_("has a valid filed product"))

    class Meta:
        model = CardMakerFiling
        fields = ["name", "code", "region", "status", "has_valid_filing"]
