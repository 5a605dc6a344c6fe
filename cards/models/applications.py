"""Applications (申领): who asks for a card, through which channel, and the review chain of batch ones."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards.choices import (
    ApplicantKind,
    ApplicationChannel,
    ApplicationStatus,
    ContactRelation,
    DocumentType,
    ReviewDecision,
    ReviewLevel,
)
from registry.lifecycle import Transitions
from registry.protection import EncryptedTextField

S = ApplicationStatus


class ApplicationBatch(models.Model):
    """A service point's batch application (a school, a village, a company applies for many at once)."""

    REGION_SCOPE_FIELD = "region__code"

    number = models.CharField(_("batch number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=100)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    medical_institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("applying medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    financial_institution = models.ForeignKey(
        "institutions.FinancialInstitution",
        verbose_name=_("applying bank"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("application batch")
        verbose_name_plural = _("application batches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class Application(models.Model):
    TRANSITIONS = Transitions(
        {
            S.SUBMITTED: [S.CITY_APPROVED, S.APPROVED, S.REJECTED, S.WITHDRAWN],
            S.CITY_APPROVED: [S.APPROVED, S.REJECTED, S.WITHDRAWN],
            S.APPROVED: [S.IN_PLAN, S.COMPLETED, S.WITHDRAWN],
            S.IN_PLAN: [S.PRODUCED, S.FAILED],
            S.FAILED: [S.IN_PLAN, S.WITHDRAWN],
            S.PRODUCED: [S.COMPLETED],
            S.REJECTED: [],
            S.COMPLETED: [],
            S.WITHDRAWN: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    number = models.CharField(_("application number"), max_length=40, unique=True)
    resident = models.ForeignKey(
        "cards.Resident", verbose_name=_("holder"), on_delete=models.PROTECT, related_name="applications"
    )
    channel = models.CharField(
        pgettext_lazy("application", "channel"),
        max_length=10,
        choices=ApplicationChannel.choices,
        db_index=True,
    )
    applicant_kind = models.CharField(
        _("applicant"), max_length=10, choices=ApplicantKind.choices, default=ApplicantKind.HOLDER
    )
    guardian_name = EncryptedTextField(_("guardian name"), blank=True)
    guardian_document_type = models.CharField(
        _("guardian document type"), max_length=2, choices=DocumentType.choices, blank=True
    )
    guardian_document_number = EncryptedTextField(_("guardian document number"), blank=True)
    guardian_relation = models.CharField(
        _("guardian relation"), max_length=1, choices=ContactRelation.choices, blank=True
    )
    # The service point that took the application (a hospital, a kiosk's hospital, a bank branch).
    medical_institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("applying medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    financial_institution = models.ForeignKey(
        "institutions.FinancialInstitution",
        verbose_name=_("applying bank"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
    )
    batch = models.ForeignKey(
        ApplicationBatch,
        verbose_name=_("batch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"), max_length=15, choices=ApplicationStatus.choices, default=S.SUBMITTED, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), db_index=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    # A replacement application (补换卡): the card it replaces; the card produced for it links back to it.
    replaces = models.ForeignKey(
        "cards.Card",
        verbose_name=_("replaces card"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacement_applications",
    )

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-submitted_at"]
        permissions = [("review_application", _("Can review application"))]
        indexes = [models.Index(fields=["region", "status"], name="application_region_status")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(medical_institution__isnull=False, financial_institution__isnull=False),
                name="application_one_service_point",
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def needs_batch_review(self) -> bool:
        return self.channel == ApplicationChannel.BATCH


class ApplicationReview(models.Model):
    application = models.ForeignKey(
        Application, verbose_name=_("application"), on_delete=models.CASCADE, related_name="reviews"
    )
    level = models.CharField(_("level"), max_length=10, choices=ReviewLevel.choices)
    decision = models.CharField(_("decision"), max_length=10, choices=ReviewDecision.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reviewer"), null=True, blank=True, on_delete=models.PROTECT
    )
    reviewer_label = models.CharField(_("reviewer"), max_length=150)
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("application review")
        verbose_name_plural = _("application reviews")
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.application} {self.get_level_display()} {self.get_decision_display()}"
