"""The rows behind the node's numbered, signed lists (blacklist and whitelist): one row per entry's life."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from registry.choices import EntryType, ListName, ListReason


class ListEntry(models.Model):
    """A subject on a list from `added_number` until `removed_number` (open while it is still listed).

    Rows are never deleted or reopened: a subject listed again gets a new row. So the list at any number N,
    and the delta between two numbers, follow from the two numbers alone (registry.lists).
    """

    REGION_SCOPE_FIELD = "region__code"

    list_name = models.CharField(_("list"), max_length=10, choices=ListName.choices)
    entry_type = models.CharField(_("entry type"), max_length=8, choices=EntryType.choices)
    # The published identifier (docs/lists.md): the first 8 bytes of a SHA-256 over the subject, stored as a
    # signed 64-bit integer with the top bit flipped, so that the database's order is the unsigned order.
    subject = models.BigIntegerField(_("subject"))
    reason = models.CharField(_("reason"), max_length=16, choices=ListReason.choices)
    permanent = models.BooleanField(_("permanent"), default=False)
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    label = models.CharField(_("subject (masked)"), max_length=80, blank=True)
    object_ref = models.CharField(_("source object"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    origin_node = models.CharField(_("origin node"), max_length=6)
    added_number = models.BigIntegerField(_("added in list number"))
    added_at = models.DateTimeField(_("added at"))
    added_by = models.CharField(_("added by"), max_length=150, blank=True)
    removed_number = models.BigIntegerField(_("removed in list number"), null=True, blank=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    removed_by = models.CharField(_("removed by"), max_length=150, blank=True)
    removed_note = models.CharField(_("removal note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("list entry")
        verbose_name_plural = _("list entries")
        ordering = ["-added_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["list_name", "subject"],
                condition=Q(removed_number__isnull=True),
                name="list_entry_current_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["list_name", "added_number"], name="list_entry_added"),
            models.Index(fields=["list_name", "removed_number"], name="list_entry_removed"),
            models.Index(fields=["region", "list_name"], name="list_entry_region"),
        ]

    def __str__(self) -> str:
        return f"{self.get_list_name_display()} #{self.added_number} {self.label or self.subject_hex}"

    @property
    def subject_hex(self) -> str:
        from registry.lists import subject_to_hex

        return subject_to_hex(self.subject)

    @property
    def is_current(self) -> bool:
        return self.removed_number is None
