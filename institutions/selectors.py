"""Scoped reads of the institutions app."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from institutions.choices import CredentialStatus
from institutions.filtersets import (
    CardMakerFilterSet,
    FinancialInstitutionFilterSet,
    MedicalInstitutionFilterSet,
)
from institutions.models import ApiCredential, CardMaker, FinancialInstitution, MedicalInstitution
from registry.scope import scope_queryset

EXPIRY_WARNING_DAYS = (30, 15, 7)


def medical_institution_list(*, user, filters: dict | None = None) -> QuerySet[MedicalInstitution]:
    queryset = scope_queryset(MedicalInstitution.objects.select_related("region"), user)
    return MedicalInstitutionFilterSet(filters or {}, queryset=queryset).qs


def card_maker_list(*, user, filters: dict | None = None) -> QuerySet[CardMaker]:
    queryset = scope_queryset(CardMaker.objects.select_related("region"), user)
    return CardMakerFilterSet(filters or {}, queryset=queryset).qs


def financial_institution_list(*, user, filters: dict | None = None) -> QuerySet[FinancialInstitution]:
    queryset = scope_queryset(FinancialInstitution.objects.select_related("region"), user)
    return FinancialInstitutionFilterSet(filters or {}, queryset=queryset).qs


def card_maker_has_valid_filing(maker: CardMaker) -> bool:
    """Does the maker produce with at least one valid filed product? The Vendors issue answers through
    FILING_CHECK; until filings exist on this node no maker can show one, so the answer is no."""
    return bool(FILING_CHECK["check"](maker)) if FILING_CHECK.get("check") else False


def card_makers_without_filed_product(*, user) -> list[CardMaker]:
    """Active card makers with no valid filed product: flagged in the admin and in this report."""
    return [
        maker
        for maker in card_maker_list(user=user).filter(status="active")
        if not card_maker_has_valid_filing(maker)
    ]


def card_maker_work(*, maker: CardMaker) -> dict:
    """A maker's production figures (planned, produced, failed, success rate); the Cards issue supplies them
    through PRODUCTION_SOURCE. Until then every figure is zero."""
    source = PRODUCTION_SOURCE.get("figures")
    figures = source(maker) if source else {"planned": 0, "produced": 0, "failed": 0}
    done = figures["produced"] + figures["failed"]
    figures["success_rate"] = round(figures["produced"] / done * 100, 1) if done else None
    return figures


# Hooks other apps fill at start-up (this app must not import them): the Vendors issue sets
# FILING_CHECK["check"] = callable(maker) -> bool; the Cards issue sets PRODUCTION_SOURCE["figures"].
FILING_CHECK: dict = {}
PRODUCTION_SOURCE: dict = {}


def credentials_expiring(*, user, within_days: int = EXPIRY_WARNING_DAYS[0]) -> QuerySet[ApiCredential]:
    """Active keys that expire within `within_days` days (the admin warns at 30, 15 and 7)."""
    now = timezone.now()
    return scope_queryset(ApiCredential.objects.all(), user).filter(
        status=CredentialStatus.ACTIVE, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days)
    )


def institution_equipment(*, institution: MedicalInstitution) -> dict:
    """The equipment panel of an institution's detail page: its SAM cards and terminals.

    The SAM and Terminals issues add those models; each reports through `EQUIPMENT_SOURCES` so this
    app never imports them. Until then the panel shows zero of each.
    """
    return {name: source(institution) for name, source in EQUIPMENT_SOURCES.items()}


# name -> callable(institution) -> {"count": int, "rows": list}; filled by apps that own equipment.
EQUIPMENT_SOURCES: dict = {}
