"""Medical institutions, card makers, financial institutions and hospitals' API credentials."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from institutions.choices import (
    CredentialStatus,
    FinancialKind,
    InstitutionCategory,
    InstitutionGrade,
    InstitutionNature,
    OrganisationStatus,
)
from registry.lifecycle import Transitions
from registry.protection import EncryptedTextField


class Organisation(models.Model):
    """What every register shares: identity, place, contacts, status with history."""

    TRANSITIONS = Transitions(
        {
            OrganisationStatus.ACTIVE: [OrganisationStatus.DEREGISTERED],
            OrganisationStatus.DEREGISTERED: [OrganisationStatus.ACTIVE],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    name = models.CharField(_("name"), max_length=100, db_index=True)
    # 统一社会信用代码: the natural key across nodes and for re-imports.
    code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    head = models.CharField(
        _("head"), max_length=50, blank=True, help_text=_("The person in charge (负责人).")
    )
    status = models.CharField(
        _("status"),
        max_length=15,
        choices=OrganisationStatus.choices,
        default=OrganisationStatus.ACTIVE,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        abstract = True
        ordering = ["region_id", "name"]

    def __str__(self) -> str:
        return self.name

    JOURNAL_FIELDS = ("name", "code", "address", "contact_person", "phone", "head", "status", "status_reason")

    def journal_payload(self) -> dict:
        payload = {field: getattr(self, field) for field in self.JOURNAL_FIELDS}
        payload.update(
            region=self.region_id,
            registered_at=self.registered_at.isoformat(),
            changed_at=self.changed_at.isoformat(),
        )
        return payload


class MedicalInstitution(Organisation):
    licence_number = models.CharField(
        _("practice licence registration number"), max_length=40, blank=True, help_text=_("登记号")
    )
    nature = models.CharField(_("nature"), max_length=12, choices=InstitutionNature.choices, db_index=True)
    category = models.CharField(
        _("category"), max_length=24, choices=InstitutionCategory.choices, db_index=True
    )
    grade = models.CharField(
        _("grade"),
        max_length=8,
        choices=InstitutionGrade.choices,
        default=InstitutionGrade.UNRATED,
        db_index=True,
    )

    JOURNAL_FIELDS = (*Organisation.JOURNAL_FIELDS, "licence_number", "nature", "category", "grade")

    class Meta(Organisation.Meta):
        verbose_name = _("medical institution")
        verbose_name_plural = _("medical institutions")
        permissions = [("deregister_medicalinstitution", _("Can deregister medical institution"))]
        indexes = [models.Index(fields=["region", "category"], name="medinst_region_category")]


class CardMaker(Organisation):
    """A card maker (制卡机构): personalises cards and SAMs under plans."""

    licence_number = models.CharField(_("licence number"), max_length=40, blank=True)

    JOURNAL_FIELDS = (*Organisation.JOURNAL_FIELDS, "licence_number")

    class Meta(Organisation.Meta):
        verbose_name = _("card maker")
        verbose_name_plural = _("card makers")
        permissions = [("deregister_cardmaker", _("Can deregister card maker"))]


class FinancialInstitution(Organisation):
    """A bank or other financial institution (金融机构) whose branches issue cards with a financial function."""

    kind = models.CharField(
        _("kind"), max_length=15, choices=FinancialKind.choices, default=FinancialKind.BANK
    )
    bank_code = models.CharField(
        _("bank code"),
        max_length=20,
        blank=True,
        help_text=_("Payment system participant code (支付系统行号)."),
    )

    JOURNAL_FIELDS = (*Organisation.JOURNAL_FIELDS, "kind", "bank_code")

    class Meta(Organisation.Meta):
        verbose_name = _("financial institution")
        verbose_name_plural = _("financial institutions")
        permissions = [("deregister_financialinstitution", _("Can deregister financial institution"))]


class ApiCredential(models.Model):
    """An API key of one institution (a hospital, or a bank): key id in clear, secret sealed (HMAC needs it)."""

    REGION_SCOPE_FIELD = "region__code"

    key_id = models.CharField(_("key id"), max_length=40, unique=True)
    secret = EncryptedTextField(_("secret"))
    medical_institution = models.ForeignKey(
        MedicalInstitution,
        verbose_name=_("medical institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credentials",
    )
    financial_institution = models.ForeignKey(
        FinancialInstitution,
        verbose_name=_("financial institution"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credentials",
    )
    # Denormalised from the institution so scope is a local prefix filter.
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CredentialStatus.choices,
        default=CredentialStatus.ACTIVE,
        db_index=True,
    )
    label = models.CharField(
        _("label"), max_length=100, blank=True, help_text=_("Which system uses this key.")
    )
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_reason = models.CharField(_("revocation reason"), max_length=200, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self",
        verbose_name=_("replaced by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("API credential")
        verbose_name_plural = _("API credentials")
        ordering = ["-created_at"]
        permissions = [("revoke_apicredential", _("Can revoke API credential"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(medical_institution__isnull=False, financial_institution__isnull=True)
                | Q(medical_institution__isnull=True, financial_institution__isnull=False),
                name="credential_one_institution",
            )
        ]

    def __str__(self) -> str:
        return self.key_id

    @property
    def institution(self):
        return self.medical_institution or self.financial_institution

    @property
    def days_left(self) -> int:
        return (self.expires_at - timezone.now()).days

    @property
    def is_usable(self) -> bool:
        return self.status == CredentialStatus.ACTIVE and self.expires_at > timezone.now()
