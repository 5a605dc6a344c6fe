"""Scoped reads of the cards app: applications, batches, and finding a holder by document number."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from cards.choices import ApplicationStatus, DocumentType, ReviewLevel
from cards.filtersets.applications import WAITING_STATUSES, ApplicationBatchFilterSet, ApplicationFilterSet
from cards.models import Application, ApplicationBatch, Resident
from registry.protection import blind_lookup
from registry.scope import scope_queryset, user_scope_prefix

APPLICATION_RELATED = ("resident", "region", "batch", "medical_institution", "financial_institution")


def application_list(*, user, filters: dict | None = None) -> QuerySet[Application]:
    queryset = scope_queryset(Application.objects.select_related(*APPLICATION_RELATED), user)
    return ApplicationFilterSet(filters or {}, queryset=queryset).qs


def application_batch_list(*, user, filters: dict | None = None) -> QuerySet[ApplicationBatch]:
    queryset = (
        scope_queryset(
            ApplicationBatch.objects.select_related("region", "medical_institution", "financial_institution"),
            user,
        )
        .annotate(
            application_count=Count("applications"),
            waiting_count=Count("applications", filter=Q(applications__status__in=WAITING_STATUSES)),
        )
        .order_by("-created_at", "-id")
    )  # a GROUP BY drops the model's default ordering
    return ApplicationBatchFilterSet(filters or {}, queryset=queryset).qs


def review_level_of(user) -> str | None:
    """The review a user gives on this node: a province-wide reviewer the province review, a city (or
    narrower-than-province) one the city review; None for a user who sees nothing."""
    prefix = user_scope_prefix(user)
    if prefix is None:
        return None
    return ReviewLevel.PROVINCE if len(prefix) <= 2 else ReviewLevel.CITY


def applications_waiting_for(*, user, batch: ApplicationBatch | None = None) -> QuerySet[Application]:
    """Applications waiting for the review `user` gives (city: submitted; province: approved by the city)."""
    level = review_level_of(user)
    if level is None:
        return Application.objects.none()
    status = ApplicationStatus.CITY_APPROVED if level == ReviewLevel.PROVINCE else ApplicationStatus.SUBMITTED
    queryset = scope_queryset(Application.objects.select_related(*APPLICATION_RELATED), user).filter(
        status=status
    )
    return queryset.filter(batch=batch) if batch is not None else queryset


def holder_by_document(
    *, user, document_number: str, document_type: str = DocumentType.ID_CARD
) -> Resident | None:
    """The holder with exactly this document number in the user's scope (blind index), or None."""
    number = (document_number or "").strip()
    if not number:
        return None
    queryset = scope_queryset(Resident.objects.select_related("region"), user)
    lookup = blind_lookup(Resident, "document_number", number)
    if document_type:
        # An ID number is the same on the household register: look both up when either is named.
        if document_type in (DocumentType.ID_CARD, DocumentType.HOUSEHOLD):
            return queryset.filter(
                document_type__in=(DocumentType.ID_CARD, DocumentType.HOUSEHOLD), **lookup
            ).first()
        return queryset.filter(document_type=document_type, **lookup).first()
    return queryset.filter(**lookup).first()


def application_history(*, application: Application):
    """The case history of one application: its own events and those of the cards made for it, oldest first."""
    from cards.models import CardEvent

    return (
        CardEvent.objects.filter(Q(application=application) | Q(card__application=application))
        .select_related("card", "application", "user")
        .order_by("at", "id")
    )
