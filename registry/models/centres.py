"""Registration-management centres (注册管理中心) of every tier, this node's own among them."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choices import CentreStatus, Tier
from registry.lifecycle import Transitions


class RegistrationCentre(models.Model):
    TRANSITIONS = Transitions(
        {
            CentreStatus.ACTIVE: [CentreStatus.DEREGISTERED],
            CentreStatus.DEREGISTERED: [CentreStatus.ACTIVE],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, db_index=True)
    # One centre per region: the region code is the centre's natural key across nodes.
    region = models.OneToOneField("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    name = models.CharField(_("name"), max_length=100)
    contact_person = models.CharField(_("contact person"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    head = models.CharField(
        _("head"), max_length=50, blank=True, help_text=_("The person in charge (负责人).")
    )
    status = models.CharField(
        _("status"), max_length=15, choices=CentreStatus.choices, default=CentreStatus.ACTIVE, db_index=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    base_url = models.URLField(
        _("base URL"), blank=True, help_text=_("Where this centre's node answers sync calls.")
    )
    public_key = models.TextField(
        _("public key"), blank=True, help_text=_("The node's Ed25519 public key (PEM).")
    )
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("registration centre")
        verbose_name_plural = _("registration centres")
        ordering = ["region_id"]
        permissions = [("deregister_registrationcentre", _("Can deregister registration centre"))]

    def __str__(self) -> str:
        return self.name

    @property
    def key_fingerprint(self) -> str:
        from registry.node import public_key_fingerprint

        return public_key_fingerprint(self.public_key) if self.public_key else ""

    def journal_payload(self) -> dict:
        return {
            "tier": self.tier,
            "region": self.region_id,
            "name": self.name,
            "contact_person": self.contact_person,
            "phone": self.phone,
            "address": self.address,
            "head": self.head,
            "status": self.status,
            "status_reason": self.status_reason,
            "base_url": self.base_url,
            "public_key": self.public_key,
            "registered_at": self.registered_at.isoformat(),
            "changed_at": self.changed_at.isoformat(),
        }
