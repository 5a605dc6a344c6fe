"""Scoped reads of the registry. Every list a user sees starts here (or in a filterset built on these)."""

from __future__ import annotations

from django.db.models import QuerySet

from registry.models import AuditEntry, Region, RegistrationCentre
from registry.models.regions import region_prefix
from registry.scope import scope_queryset


def centre_list(*, user, filters: dict | None = None) -> QuerySet[RegistrationCentre]:
    from registry.filtersets import CentreFilterSet

    queryset = scope_queryset(RegistrationCentre.objects.select_related("region"), user)
    return CentreFilterSet(filters or {}, queryset=queryset).qs


def centre_subordinates(*, user, centre: RegistrationCentre) -> QuerySet[RegistrationCentre]:
    """The centres directly below a centre: a province's cities, the ministry's provinces."""
    return scope_queryset(RegistrationCentre.objects.select_related("region"), user).filter(
        region__parent=centre.region
    )


def region_search(*, term: str = "", under: str | None = None, limit: int = 20) -> QuerySet[Region]:
    """Regions for pickers (autocomplete): by code prefix or name fragment, optionally under a region."""
    queryset = Region.objects.all()
    if under:
        queryset = queryset.filter(code__startswith=region_prefix(under))
    if term:
        queryset = (
            queryset.filter(code__startswith=term)
            if term.isdigit()
            else queryset.filter(full_name__contains=term)
        )
    return queryset.order_by("code")[:limit]


def audit_list(*, user) -> QuerySet[AuditEntry]:
    return scope_queryset(AuditEntry.objects.select_related("user"), user)
