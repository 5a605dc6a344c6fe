"""Filtersets of the sam app (admin lists, API lists, exports and selectors share them)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from registry.filtersets import RegionPrefixFilter
from sam.choices import (
    PlanLevel,
    SamApplicationStatus,
    SamPlanStatus,
    SamShipmentStatus,
    SamStatus,
    TerminalType,
    UseScenario,
)
from sam.models import Sam, SamApplication, SamEvent, SamPlan, SamShipment, SamStockIn, SamStockOut


def _dates(field: str, label_from, label_to):
    return (
        django_filters.DateFilter(field_name=field, lookup_expr="date__gte", label=label_from),
        django_filters.DateFilter(field_name=field, lookup_expr="date__lte", label=label_to),
    )


class SamApplicationFilterSet(django_filters.FilterSet):
    number = django_filters.CharFilter(lookup_expr="contains", label=_("application number"))
    status = django_filters.ChoiceFilter(choices=SamApplicationStatus.choices, label=_("status"))
    institution = django_filters.CharFilter(field_name="institution__code", label=_("institution code"))
    terminal_type = django_filters.ChoiceFilter(choices=TerminalType.choices, label=_("terminal type"))
    scenario = django_filters.ChoiceFilter(choices=UseScenario.choices, label=_("use scenario"))
    plan = django_filters.CharFilter(field_name="plan__number", label=_("plan number"))
    region = RegionPrefixFilter()
    date_from, date_to = _dates("submitted_at", _("submitted from"), _("submitted to"))

    class Meta:
        model = SamApplication
        fields = ["number", "status", "institution", "terminal_type", "scenario", "plan", "region"]


class SamPlanFilterSet(django_filters.FilterSet):
    number = django_filters.CharFilter(lookup_expr="contains", label=_("plan number"))
    level = django_filters.ChoiceFilter(choices=PlanLevel.choices, label=_("level"))
    status = django_filters.ChoiceFilter(choices=SamPlanStatus.choices, label=_("status"))
    card_maker = django_filters.CharFilter(field_name="card_maker__code", label=_("card maker code"))
    parent = django_filters.CharFilter(field_name="parent__number", label=_("aggregated into"))
    region = RegionPrefixFilter()
    date_from, date_to = _dates("created_at", _("created from"), _("created to"))

    class Meta:
        model = SamPlan
        fields = ["number", "level", "status", "card_maker", "parent", "region"]


class SamFilterSet(django_filters.FilterSet):
    serial = django_filters.CharFilter(lookup_expr="contains", label=_("SAM serial number"))
    status = django_filters.ChoiceFilter(choices=SamStatus.choices, label=_("status"))
    institution = django_filters.CharFilter(field_name="institution__code", label=_("institution code"))
    terminal_type = django_filters.ChoiceFilter(choices=TerminalType.choices, label=_("terminal type"))
    terminal_number = django_filters.CharFilter(label=_("terminal number"))
    scenario = django_filters.ChoiceFilter(choices=UseScenario.choices, label=_("use scenario"))
    bound = django_filters.BooleanFilter(method="filter_bound", label=_("bound to a terminal"))
    stock_in = django_filters.CharFilter(field_name="stock_in__batch_number", label=_("stock-in batch"))
    plan = django_filters.CharFilter(field_name="plan__number", label=_("plan number"))
    region = RegionPrefixFilter()

    class Meta:
        model = Sam
        fields = ["serial", "status", "institution", "terminal_type", "terminal_number", "scenario", "region"]

    def filter_bound(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(terminal_number="") if value else queryset.filter(terminal_number="")


class SamStockInFilterSet(django_filters.FilterSet):
    batch_number = django_filters.CharFilter(lookup_expr="contains", label=_("batch number"))
    plan = django_filters.CharFilter(field_name="plan__number", label=_("plan number"))
    region = RegionPrefixFilter()
    date_from, date_to = _dates("at", _("stocked in from"), _("stocked in to"))

    class Meta:
        model = SamStockIn
        fields = ["batch_number", "plan", "region"]


class SamStockOutFilterSet(django_filters.FilterSet):
    batch_number = django_filters.CharFilter(lookup_expr="contains", label=_("batch number"))
    institution = django_filters.CharFilter(field_name="institution__code", label=_("institution code"))
    region = RegionPrefixFilter()
    date_from, date_to = _dates("at", _("dispatched from"), _("dispatched to"))

    class Meta:
        model = SamStockOut
        fields = ["batch_number", "institution", "region"]


class SamShipmentFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SamShipmentStatus.choices, label=_("delivery status"))
    waybill = django_filters.CharFilter(label=_("waybill number"))
    courier = django_filters.CharFilter(lookup_expr="contains", label=_("courier"))
    batch_number = django_filters.CharFilter(
        field_name="stock_out__batch_number", lookup_expr="contains", label=_("batch number")
    )
    region = RegionPrefixFilter(scope_field="stock_out__region__code")
    date_from, date_to = _dates("stock_out__at", _("dispatched from"), _("dispatched to"))

    class Meta:
        model = SamShipment
        fields = ["status", "waybill", "courier", "batch_number", "region"]


class SamEventFilterSet(django_filters.FilterSet):
    kind = django_filters.CharFilter(label=_("event"))
    region = RegionPrefixFilter()
    date_from, date_to = _dates("at", _("from"), _("to"))

    class Meta:
        model = SamEvent
        fields = ["kind", "region"]
