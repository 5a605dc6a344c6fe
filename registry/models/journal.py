"""The journal (outbox) that exchange reads, and the named counters that number it and the lists."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choices import JournalOp


class Counter(models.Model):
    """A named gap-free counter. Taking a number locks the row until commit, so numbers commit in order."""

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    value = models.BigIntegerField(_("value"), default=0)

    class Meta:
        verbose_name = _("counter")
        verbose_name_plural = _("counters")

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class JournalEntry(models.Model):
    """One change, append-only. Local rows have origin = this node; applied rows keep their origin."""

    seq = models.BigIntegerField(_("sequence"), unique=True)
    kind = models.CharField(_("kind"), max_length=60, db_index=True)
    key = models.CharField(_("key"), max_length=120)
    op = models.CharField(_("operation"), max_length=10, choices=JournalOp.choices, default=JournalOp.UPSERT)
    payload = models.JSONField(_("payload"), default=dict)
    origin_node = models.CharField(_("origin node"), max_length=6)
    origin_seq = models.BigIntegerField(_("origin sequence"))
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["origin_node", "origin_seq"], name="journal_origin_unique"),
        ]
        indexes = [models.Index(fields=["kind", "key", "seq"], name="journal_object_history")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.key}"
