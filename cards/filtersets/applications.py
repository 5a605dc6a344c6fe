"""Filtersets of the cards app: applications and application batches (admin list, API list, exports, selectors)."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards.choices import ApplicantKind, ApplicationChannel, ApplicationStatus
from cards.models import Application, ApplicationBatch, Resident
from registry.filtersets import RegionPrefixFilter
from registry.protection import blind_lookup

WAITING_STATUSES = (ApplicationStatus.SUBMITTED, ApplicationStatus.CITY_APPROVED)


def filter_holder_document(queryset, name, value, *, field: str = "resident"):
    """Rows of the holder with this document number (exact, through the blind index; never a LIKE)."""
    value = (value or "").strip()
    if not value:
        return queryset
    index = blind_lookup(Resident, "document_number", value)["document_index"]
    return queryset.filter(**{f"{field}__document_index": index})


def filter_service_point(queryset, name, value):
    """The applying / issuing point by its unified social credit code (medical institution or bank)."""
    if not value:
        return queryset
    return queryset.filter(Q(medical_institution__code=value) | Q(financial_institution__code=value))


class ApplicationFilterSet(django_filters.FilterSet):
    number = django_filters.CharFilter(lookup_expr="startswith", label=_("application number"))
    holder_document = django_filters.CharFilter(
        method=filter_holder_document, label=_("holder's document number (exact)")
    )
    status = django_filters.MultipleChoiceFilter(choices=ApplicationStatus.choices, label=_("status"))
    channel = django_filters.MultipleChoiceFilter(
        choices=ApplicationChannel.choices, label=pgettext_lazy("application", "channel")
    )
    applicant_kind = django_filters.ChoiceFilter(choices=ApplicantKind.choices, label=_("applicant"))
    region = RegionPrefixFilter()
    batch = django_filters.CharFilter(field_name="batch__number", label=_("batch number"))
    service_point = django_filters.CharFilter(method=filter_service_point, label=_("service point code"))
    submitted_from = django_filters.DateFilter(
        field_name="submitted_at", lookup_expr="date__gte", label=_("submitted from")
    )
    submitted_to = django_filters.DateFilter(
        field_name="submitted_at", lookup_expr="date__lte", label=_("submitted to")
    )
    waiting_review = django_filters.BooleanFilter(
        method="filter_waiting_review", label=_("waiting for review")
    )

    class Meta:
        model = Application
        fields = [
            "number",
            "holder_document",
            "status",
            "channel",
            "applicant_kind",
            "region",
            "batch",
            "service_point",
            "submitted_from",
            "submitted_to",
            "waiting_review",
        ]

    def filter_waiting_review(self, queryset, name, value):
        if value is None:
            return queryset
        waiting = Q(status__in=WAITING_STATUSES)
        return queryset.filter(waiting if value else ~waiting)


class ApplicationBatchFilterSet(django_filters.FilterSet):
    number = django_filters.CharFilter(lookup_expr="startswith", label=_("batch number"))
    title = django_filters.CharFilter(lookup_expr="contains", label=_("title"))
    region = RegionPrefixFilter()
    service_point = django_filters.CharFilter(method=filter_service_point, label=_("service point code"))
    created_from = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("created from")
    )
    created_to = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("created to")
    )
    waiting_review = django_filters.BooleanFilter(
        method="filter_waiting_review", label=_("has applications waiting for review")
    )

    class Meta:
        model = ApplicationBatch
        fields = [
            "number",
            "title",
            "region",
            "service_point",
            "created_from",
            "created_to",
            "waiting_review",
        ]

    def filter_waiting_review(self, queryset, name, value):
        if value is None:
            return queryset
        waiting = Exists(Application.objects.filter(batch=OuterRef("pk"), status__in=WAITING_STATUSES))
        return queryset.filter(waiting if value else ~waiting)
