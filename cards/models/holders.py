"""Holders (居民个人数据): the card's identity and demographic groups. Personal fields are sealed."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cards.choices import AddressType, DocumentType, Education, Ethnicity, MaritalStatus, Sex
from registry.protection import BlindIndexField, EncryptedJSONField, EncryptedTextField


class Resident(models.Model):
    REGION_SCOPE_FIELD = "region__code"

    # Identity (sealed, with blind indexes for equality lookups).
    name = EncryptedTextField(pgettext_lazy("holder", "name"))
    document_type = models.CharField(
        _("document type"), max_length=2, choices=DocumentType.choices, default=DocumentType.ID_CARD
    )
    document_number = EncryptedTextField(_("document number"))
    # Indexed by the unique constraint below, whose leading column it is (lookups by the index alone use it).
    # None, not False: BlindIndexField defaults db_index to True, and False would not survive a migration.
    document_index = BlindIndexField(source="document_number", family="id_number", db_index=None)
    # Plain for statistics, as the design says: region, sex and birth date are not sealed.
    # No index of its own: two values; the statistics index below leads with the region.
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    ethnicity = models.CharField(
        _("ethnicity"), max_length=2, choices=Ethnicity.choices, default=Ethnicity.HAN
    )
    birth_date = models.DateField(_("birth date"), db_index=True)
    region = models.ForeignKey(
        "registry.Region",
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        help_text=_("The county of residence; by default the one the ID number names."),
    )
    # Contact and demographic data.
    address1_type = models.CharField(
        _("address 1 type"), max_length=1, choices=AddressType.choices, blank=True
    )
    address1 = EncryptedTextField(_("address 1"), blank=True)
    address2_type = models.CharField(
        _("address 2 type"), max_length=1, choices=AddressType.choices, blank=True
    )
    address2 = EncryptedTextField(_("address 2"), blank=True)
    phone1 = EncryptedTextField(_("phone 1"), blank=True)
    phone2 = EncryptedTextField(_("phone 2"), blank=True)
    # Up to three emergency contacts: [{"name": ..., "relation": ContactRelation, "phone": ...}].
    contacts = EncryptedJSONField(_("emergency contacts"), blank=True, default=list)
    education = models.CharField(_("education"), max_length=1, choices=Education.choices, blank=True)
    marital_status = models.CharField(
        _("marital status"), max_length=1, choices=MaritalStatus.choices, blank=True
    )
    occupation = models.CharField(
        _("occupation code"), max_length=3, blank=True, help_text=_("GB/T 6565 code.")
    )
    health_record_no = EncryptedTextField(_("health record number"), blank=True)
    rural_coop_no = EncryptedTextField(_("rural co-operative insurance number"), blank=True)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("holder")
        verbose_name_plural = _("holders")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document_index", "document_type"], name="resident_document_unique"
            ),
        ]
        indexes = [models.Index(fields=["region", "sex", "birth_date"], name="resident_stats")]

    def __str__(self) -> str:
        from registry.protection import mask_id_number, mask_name

        return f"{mask_name(self.name)} {mask_id_number(self.document_number)}"

    @property
    def masked_name(self) -> str:
        from registry.protection import mask_name

        return mask_name(self.name)

    @property
    def masked_document_number(self) -> str:
        from registry.protection import mask_id_number

        return mask_id_number(self.document_number)

    PERSONAL_FIELDS = (
        "name",
        "document_number",
        "address1",
        "address2",
        "phone1",
        "phone2",
        "contacts",
        "health_record_no",
        "rural_coop_no",
    )
