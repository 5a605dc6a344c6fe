"""Filtersets of the cards app: stock-ins, stock-outs and shipments."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cards.choices import ShipmentStatus
from cards.models import Shipment, StockIn, StockOut
from registry.filtersets import RegionPrefixFilter


class StockInFilterSet(django_filters.FilterSet):
    batch_number = django_filters.CharFilter(lookup_expr="contains", label=_("batch number"))
    plan = django_filters.CharFilter(field_name="plan__number", label=_("plan number"))
    region = RegionPrefixFilter()
    date_from = django_filters.DateFilter(
        field_name="at", lookup_expr="date__gte", label=_("stocked in from")
    )
    date_to = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label=_("stocked in to"))

    class Meta:
        model = StockIn
        fields = ["batch_number", "plan", "region", "date_from", "date_to"]


class StockOutFilterSet(django_filters.FilterSet):
    batch_number = django_filters.CharFilter(lookup_expr="contains", label=_("batch number"))
    region = RegionPrefixFilter()
    institution = django_filters.CharFilter(method="filter_institution", label=_("issuing point code"))
    date_from = django_filters.DateFilter(
        field_name="at", lookup_expr="date__gte", label=_("dispatched from")
    )
    date_to = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label=_("dispatched to"))

    class Meta:
        model = StockOut
        fields = ["batch_number", "region", "institution", "date_from", "date_to"]

    def filter_institution(self, queryset, name, value):
        return queryset.filter(Q(medical_institution__code=value) | Q(financial_institution__code=value))


class ShipmentFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ShipmentStatus.choices, label=_("delivery status"))
    waybill = django_filters.CharFilter(label=_("waybill number"))
    courier = django_filters.CharFilter(lookup_expr="contains", label=_("courier"))
    batch_number = django_filters.CharFilter(
        field_name="stock_out__batch_number", lookup_expr="contains", label=_("batch number")
    )
    region = RegionPrefixFilter(scope_field="stock_out__region__code")
    date_from = django_filters.DateFilter(
        field_name="stock_out__at", lookup_expr="date__gte", label=_("dispatched from")
    )
    date_to = django_filters.DateFilter(
        field_name="stock_out__at", lookup_expr="date__lte", label=_("dispatched to")
    )

    class Meta:
        model = Shipment
        fields = ["status", "waybill", "courier", "batch_number", "region", "date_from", "date_to"]
