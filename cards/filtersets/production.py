"""Filtersets of the cards app: production plans and their items (used by the admin, the API, exports and
selectors alike)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from cards.choices import PlanItemStatus, PlanStatus
from cards.models import PlanItem, ProductionPlan
from registry.filtersets import RegionPrefixFilter


class ProductionPlanFilterSet(django_filters.FilterSet):
    number = django_filters.CharFilter(lookup_expr="contains", label=_("plan number"))
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices, label=_("status"))
    card_maker = django_filters.CharFilter(
        field_name="card_maker__code", label=_("card maker (unified social credit code)")
    )
    region = RegionPrefixFilter()
    created_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("created from")
    )
    created_to = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("created to")
    )

    class Meta:
        model = ProductionPlan
        fields = ["number", "status", "card_maker", "region", "created_from", "created_to"]


class PlanItemFilterSet(django_filters.FilterSet):
    plan = django_filters.CharFilter(field_name="plan__number", label=_("plan number"))
    status = django_filters.ChoiceFilter(choices=PlanItemStatus.choices, label=_("status"))
    chip_serial = django_filters.CharFilter(label=_("chip serial"))
    region = RegionPrefixFilter(scope_field="plan__region__code")

    class Meta:
        model = PlanItem
        fields = ["plan", "status", "chip_serial", "region"]
