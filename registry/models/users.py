"""Staff users: each has a scope region that bounds every list they see."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.protection import BlindIndexField, EncryptedTextField


class User(AbstractUser):
    scope_region = models.ForeignKey(
        "registry.Region",
        verbose_name=_("scope region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text=_("The user sees only rows of this region and below. Empty: the node's whole region."),
    )
    real_name = EncryptedTextField(_("real name"), blank=True)
    id_number = EncryptedTextField(
        _("ID number"), blank=True, help_text=_("The staff member's identity document.")
    )
    id_number_index = BlindIndexField(source="id_number")
    phone = EncryptedTextField(_("phone"), blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("view_personal_data", _("Can view unmasked personal data"))]
