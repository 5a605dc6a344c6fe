"""Filtersets of the registry: used by the API list, exports and selectors alike."""

import django_filters
from django.utils.translation import gettext_lazy as _

from registry.choices import CentreStatus, Tier
from registry.models import Region, RegistrationCentre
from registry.models.regions import region_prefix


class RegionPrefixFilter(django_filters.CharFilter):
    """region=610100 keeps rows in Xi'an and its counties (any level: province, city, county)."""

    def __init__(self, *args, scope_field: str = "region__code", **kwargs):
        self.scope_field = scope_field
        kwargs.setdefault("label", _("region (code, any level)"))
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.scope_field}__startswith": region_prefix(value)})


class CentreFilterSet(django_filters.FilterSet):
    region = RegionPrefixFilter()
    region_name = django_filters.CharFilter(
        field_name="region__full_name", lookup_expr="contains", label=_("region name")
    )
    name = django_filters.CharFilter(lookup_expr="contains", label=_("name"))
    tier = django_filters.ChoiceFilter(choices=Tier.choices, label=_("tier"))
    status = django_filters.ChoiceFilter(choices=CentreStatus.choices, label=_("status"))
    registered_from = django_filters.DateFilter(
        field_name="registered_at", lookup_expr="date__gte", label=_("registered from")
    )
    registered_to = django_filters.DateFilter(
        field_name="registered_at", lookup_expr="date__lte", label=_("registered to")
    )

    class Meta:
        model = RegistrationCentre
        fields = ["region", "region_name", "name", "tier", "status", "registered_from", "registered_to"]


class RegionFilterSet(django_filters.FilterSet):
    under = RegionPrefixFilter(scope_field="code", label=_("under region"))
    name = django_filters.CharFilter(field_name="full_name", lookup_expr="contains", label=_("name"))

    class Meta:
        model = Region
        fields = ["level", "parent", "under", "name"]
