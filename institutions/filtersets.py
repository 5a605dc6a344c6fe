"""Filtersets of the three registers and the credentials: the combined queries of the function spec."""

import django_filters
from django.utils.translation import gettext_lazy as _

from institutions.choices import (
    CredentialStatus,
    FinancialKind,
    InstitutionCategory,
    InstitutionGrade,
    InstitutionNature,
    OrganisationStatus,
)
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution
from registry.filtersets import RegionPrefixFilter


class OrganisationFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="contains", label=_("name"))
    code = django_filters.CharFilter(lookup_expr="startswith", label=_("unified social credit code"))
    region = RegionPrefixFilter()
    status = django_filters.ChoiceFilter(choices=OrganisationStatus.choices, label=_("status"))
    registered_from = django_filters.DateFilter(
        field_name="registered_at", lookup_expr="date__gte", label=_("registered from")
    )
    registered_to = django_filters.DateFilter(
        field_name="registered_at", lookup_expr="date__lte", label=_("registered to")
    )

    BASE_FIELDS = ["name", "code", "region", "status", "registered_from", "registered_to"]


class MedicalInstitutionFilterSet(OrganisationFilterSet):
    nature = django_filters.ChoiceFilter(choices=InstitutionNature.choices, label=_("nature"))
    category = django_filters.ChoiceFilter(choices=InstitutionCategory.choices, label=_("category"))
    grade = django_filters.ChoiceFilter(choices=InstitutionGrade.choices, label=_("grade"))
    licence_number = django_filters.CharFilter(label=_("practice licence registration number"))

    class Meta:
        model = MedicalInstitution
        fields = [*OrganisationFilterSet.BASE_FIELDS, "nature", "category", "grade", "licence_number"]


class CardMakerFilterSet(OrganisationFilterSet):
    class Meta:
        model = CardMaker
        fields = OrganisationFilterSet.BASE_FIELDS


class FinancialInstitutionFilterSet(OrganisationFilterSet):
    kind = django_filters.ChoiceFilter(choices=FinancialKind.choices, label=_("kind"))
    bank_code = django_filters.CharFilter(label=_("bank code"))

    class Meta:
        model = FinancialInstitution
        fields = [*OrganisationFilterSet.BASE_FIELDS, "kind", "bank_code"]


class ApiCredentialFilterSet(django_filters.FilterSet):
    region = RegionPrefixFilter()
    status = django_filters.ChoiceFilter(choices=CredentialStatus.choices, label=_("status"))
    institution_code = django_filters.CharFilter(
        method="filter_institution_code", label=_("institution code")
    )
    expires_before = django_filters.DateFilter(
        field_name="expires_at", lookup_expr="date__lte", label=_("expires before")
    )

    class Meta:
        model = ApiCredential
        fields = ["region", "status", "institution_code", "expires_before"]

    def filter_institution_code(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(medical_institution__code=value) | Q(financial_institution__code=value))
