"""Registered terminals: the reader/writers at counters, kiosks and hospitals, each bound to one SAM."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.lifecycle import Transitions
from terminals.choices import TerminalKind, TerminalStatus


class Terminal(models.Model):
    TRANSITIONS = Transitions(
        {
            TerminalStatus.ACTIVE: [TerminalStatus.SUSPENDED, TerminalStatus.RETIRED],
            TerminalStatus.SUSPENDED: [TerminalStatus.ACTIVE, TerminalStatus.RETIRED],
            TerminalStatus.RETIRED: [],
        }
    )
    REGION_SCOPE_FIELD = "region__code"

    kind = models.CharField(_("type"), max_length=12, choices=TerminalKind.choices, db_index=True)
    serial = models.CharField(_("serial number"), max_length=40, unique=True)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    medical_institution = models.ForeignKey(
        "institutions.MedicalInstitution",
        verbose_name=_("medical institution"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="terminals",
    )
    financial_institution = models.ForeignKey(
        "institutions.FinancialInstitution",
        verbose_name=_("financial institution"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="terminals",
    )
    # The SAM app binds a SAM to a terminal by this serial (3F00/0015 of the PSAM in the terminal's slot).
    sam_serial = models.CharField(_("bound SAM serial"), max_length=20, blank=True, db_index=True)
    terminal_number = models.CharField(
        _("terminal number"), max_length=12, blank=True, help_text=_("From the SAM's file 0016.")
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=TerminalStatus.choices,
        default=TerminalStatus.ACTIVE,
        db_index=True,
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_reason = models.CharField(_("reason of last status change"), max_length=200, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"))
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("terminal")
        verbose_name_plural = _("terminals")
        ordering = ["region_id", "serial"]
        permissions = [("use_terminal", _("Can read and write cards at a terminal"))]

    def __str__(self) -> str:
        return self.serial

    @property
    def institution(self):
        return self.medical_institution or self.financial_institution

    def journal_payload(self) -> dict:
        return {
            "kind": self.kind,
            "serial": self.serial,
            "region": self.region_id,
            "medical_institution": self.medical_institution.code if self.medical_institution else "",
            "financial_institution": self.financial_institution.code if self.financial_institution else "",
            "sam_serial": self.sam_serial,
            "terminal_number": self.terminal_number,
            "status": self.status,
            "status_reason": self.status_reason,
            "registered_at": self.registered_at.isoformat(),
        }
