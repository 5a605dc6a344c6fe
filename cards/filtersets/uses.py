"""Filtersets of card use records and their daily aggregates (admin list, API list, exports, selectors)."""

import datetime as dt

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.models import CardUse, CardUseDaily
from cards.models.uses import CardUseRejection, CardUseScenario, CardUseStatus
from registry.filtersets import RegionPrefixFilter


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


class CardUseFilterSet(django_filters.FilterSet):
    institution = django_filters.CharFilter(field_name="institution__code", label=_("institution code"))
    scenario = django_filters.ChoiceFilter(choices=CardUseScenario.choices, label=_("scenario"))
    status = django_filters.ChoiceFilter(choices=CardUseStatus.choices, label=_("status"))
    reason = django_filters.ChoiceFilter(choices=CardUseRejection.choices, label=_("reason"))
    region = RegionPrefixFilter()
    batch = django_filters.CharFilter(field_name="batch__batch_id", label=_("batch id"))
    # Local days as a time range, so the index on the time of use serves the filter.
    date_from = django_filters.DateFilter(method="filter_date_from", label=_("used from"))
    date_to = django_filters.DateFilter(method="filter_date_to", label=_("used to"))

    class Meta:
        model = CardUse
        fields = ["institution", "scenario", "status", "reason", "region", "batch", "date_from", "date_to"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(used_at__gte=_day_start(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(used_at__lt=_day_start(value + dt.timedelta(days=1)))


class CardUseDailyFilterSet(django_filters.FilterSet):
    institution = django_filters.CharFilter(field_name="institution__code", label=_("institution code"))
    scenario = django_filters.ChoiceFilter(choices=CardUseScenario.choices, label=_("scenario"))
    region = RegionPrefixFilter()
    date_from = django_filters.DateFilter(field_name="day", lookup_expr="gte", label=_("from day"))
    date_to = django_filters.DateFilter(field_name="day", lookup_expr="lte", label=_("to day"))

    class Meta:
        model = CardUseDaily
        fields = ["institution", "scenario", "region", "date_from", "date_to"]
