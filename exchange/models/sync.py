"""Tier sync bookkeeping: checkpoints, runs, received bundles (quarantine), reconciliation, conflicts."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from exchange.choices import BundleStatus, ConflictStatus, Direction, RunStatus, RunTrigger


class SyncCheckpoint(models.Model):
    """How far this node is with one peer in one direction.

    Up: the last own journal sequence the parent acknowledged. Down: the parent's last journal sequence this
    node applied (or skipped as not for it). Moves only after a durable commit at the receiver.
    """

    peer = models.CharField(_("peer node"), max_length=6)
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    position = models.BigIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("sync checkpoint")
        verbose_name_plural = _("sync checkpoints")
        constraints = [models.UniqueConstraint(fields=["peer", "direction"], name="sync_checkpoint_unique")]

    def __str__(self) -> str:
        return f"{self.direction} {self.peer} @{self.position}"


class SyncRun(models.Model):
    """One run of the sync (a push, a pull, a file upload): what moved and what went wrong."""

    REGION_SCOPE_FIELD = "peer"

    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    peer = models.CharField(_("peer node"), max_length=6, blank=True)
    trigger = models.CharField(_("trigger"), max_length=10, choices=RunTrigger.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True
    )
    started_at = models.DateTimeField(_("started at"), db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    bundles = models.PositiveIntegerField(_("bundles"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    bytes = models.PositiveBigIntegerField(_("bytes"), default=0)
    errors = models.PositiveIntegerField(_("errors"), default=0)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at"]
        permissions = [
            ("run_sync", _("Can run the sync now")),
            ("transfer_bundle_files", _("Can download and upload sync bundle files")),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.started_at:%Y-%m-%d %H:%M}"


class InboundBundle(models.Model):
    """A bundle this node received: applied, quarantined (kept, with its reason, for re-apply) or refused."""

    sha256 = models.CharField(_("SHA-256 of the body"), max_length=64, db_index=True)
    sender = models.CharField(_("sender"), max_length=6, blank=True)
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices)
    first_seq = models.BigIntegerField(_("first sequence"), null=True, blank=True)
    last_seq = models.BigIntegerField(_("last sequence"), null=True, blank=True)
    count = models.PositiveIntegerField(_("rows"), default=0)
    applied_rows = models.PositiveIntegerField(_("rows applied"), default=0)
    duplicate_rows = models.PositiveIntegerField(_("rows already here"), default=0)
    size = models.PositiveIntegerField(_("bytes"), default=0)
    status = models.CharField(_("status"), max_length=12, choices=BundleStatus.choices, db_index=True)
    reason = models.TextField(_("reason"), blank=True)
    received_at = models.DateTimeField(_("received at"), db_index=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # The bundle as received (its body encrypted to this node's key), kept while it waits for re-apply.
    data = models.BinaryField(_("bundle"), blank=True, default=b"")

    class Meta:
        verbose_name = _("received bundle")
        verbose_name_plural = _("received bundles")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.sender} #{self.first_seq}-{self.last_seq} ({self.get_status_display()})"


class ReconcileReport(models.Model):
    """A comparison of per-kind counts and digests between this node and its parent."""

    peer = models.CharField(_("peer node"), max_length=6)
    at = models.DateTimeField(_("time"), db_index=True)
    drift = models.JSONField(_("drift"), default=list, blank=True)
    local = models.JSONField(_("here"), default=dict)
    remote = models.JSONField(_("at the peer"), default=dict)

    class Meta:
        verbose_name = _("reconciliation report")
        verbose_name_plural = _("reconciliation reports")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.peer} {self.at:%Y-%m-%d %H:%M}"

    @property
    def in_step(self) -> bool:
        return not self.drift


class UniquenessConflict(models.Model):
    """A card number active under two origins: listed for a person to resolve, nothing overwritten."""

    card_index = models.CharField(_("card number (blind index)"), max_length=40, db_index=True)
    origins = models.JSONField(_("origins"), default=list)
    records = models.JSONField(_("records"), default=list)
    status = models.CharField(
        _("status"), max_length=10, choices=ConflictStatus.choices, default=ConflictStatus.OPEN, db_index=True
    )
    detected_at = models.DateTimeField(_("detected at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.CharField(_("resolution"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("uniqueness conflict")
        verbose_name_plural = _("uniqueness conflicts")
        ordering = ["-detected_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["card_index"],
                condition=models.Q(status="open"),
                name="conflict_open_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.card_index[:8]}… {', '.join(self.origins)}"
