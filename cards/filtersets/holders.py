"""Filtersets of the cards app: holders. Used by the API list, its export and the holder_list selector."""

import django_filters
from django.utils.translation import gettext_lazy as _

from cards.choices import DocumentType, Ethnicity, Sex
from cards.models import Resident
from registry.filtersets import RegionPrefixFilter
from registry.protection import blind_lookup


class HolderFilterSet(django_filters.FilterSet):
    region = RegionPrefixFilter()
    sex = django_filters.ChoiceFilter(choices=Sex.choices, label=_("sex"))
    ethnicity = django_filters.ChoiceFilter(choices=Ethnicity.choices, label=_("ethnicity"))
    document_type = django_filters.ChoiceFilter(choices=DocumentType.choices, label=_("document type"))
    birth_from = django_filters.DateFilter(field_name="birth_date", lookup_expr="gte", label=_("born from"))
    birth_to = django_filters.DateFilter(field_name="birth_date", lookup_expr="lte", label=_("born to"))
    # Exact, through the blind index: a sealed column is never searched with LIKE.
    document_number = django_filters.CharFilter(method="filter_document_number", label=_("document number"))
    created_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("registered from")
    )
    created_to = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("registered to")
    )

    class Meta:
        model = Resident
        fields = [
            "region",
            "sex",
            "ethnicity",
            "document_type",
            "birth_from",
            "birth_to",
            "document_number",
            "created_from",
            "created_to",
        ]

    def filter_document_number(self, queryset, name, value):
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(**blind_lookup(Resident, "document_number", value))
