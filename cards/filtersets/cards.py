"""Filtersets of the cards app: cards (admin list, API list, exports, the collected / uncollected lists)."""

import datetime as dt

import django_filters
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.choices import CardStatus
from cards.filtersets.applications import filter_holder_document, filter_service_point
from cards.models import Card
from registry.filtersets import RegionPrefixFilter

OVERDUE_DAYS = 30


class Collection(models.TextChoices):
    COLLECTED = "collected", _("Collected")
    UNCOLLECTED = "uncollected", _("Waiting at the issuing point")
    OVERDUE = "overdue", _("Waiting more than 30 days")


def filter_collection(queryset, value: str):
    """collected: handed to the holder; uncollected: waiting at the issuing point; overdue: waiting there for
    more than OVERDUE_DAYS days (the list a centre phones through)."""
    if value == Collection.COLLECTED:
        return queryset.filter(collected_at__isnull=False)
    if value == Collection.UNCOLLECTED:
        return queryset.filter(status=CardStatus.AWAITING_COLLECTION)
    if value == Collection.OVERDUE:
        since = timezone.now() - dt.timedelta(days=OVERDUE_DAYS)
        return queryset.filter(status=CardStatus.AWAITING_COLLECTION, status_changed_at__lt=since)
    return queryset


class CardFilterSet(django_filters.FilterSet):
    holder_document = django_filters.CharFilter(
        method=filter_holder_document, label=_("holder's document number (exact)")
    )
    chip_serial = django_filters.CharFilter(label=_("chip serial"))
    status = django_filters.MultipleChoiceFilter(choices=CardStatus.choices, label=_("status"))
    collection = django_filters.ChoiceFilter(
        choices=Collection.choices, method="filter_collection", label=_("collection")
    )
    region = RegionPrefixFilter()
    issuing_point = django_filters.CharFilter(method=filter_service_point, label=_("issuing point code"))
    application = django_filters.CharFilter(field_name="application__number", label=_("application number"))
    collected_from = django_filters.DateFilter(
        field_name="collected_at", lookup_expr="date__gte", label=_("collected from")
    )
    collected_to = django_filters.DateFilter(
        field_name="collected_at", lookup_expr="date__lte", label=_("collected to")
    )
    expires_before = django_filters.DateFilter(
        field_name="expires_on", lookup_expr="lte", label=_("expires on or before")
    )

    class Meta:
        model = Card
        fields = [
            "holder_document",
            "chip_serial",
            "status",
            "collection",
            "region",
            "issuing_point",
            "application",
            "collected_from",
            "collected_to",
            "expires_before",
        ]

    def filter_collection(self, queryset, name, value):
        return filter_collection(queryset, value)
