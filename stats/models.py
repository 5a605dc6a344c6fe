"""What stats owns: daily counts folded from the case history (with their weekly and monthly roll-ups, the
by-region forms and the rolling windows), the fold's checkpoint, assessment targets."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from stats.choices import TargetMeasure


class FactCount(models.Model):
    """One period's count of one measure at one county, institution and card maker.

    Measures are case-history event kinds (cards.choices.CardEventKind), so every kind a later issue adds
    (loss, replacement, cancellation) is counted without a change here. Figures sum these rows; they never
    scan the card or event tables.
    """

    REGION_SCOPE_FIELD = "region"
    KEY = ("day", "region", "institution_code", "card_maker_code", "measure")

    day = models.DateField(_("day"))
    # The county code (six digits); a province or city is a prefix of it.
    region = models.CharField(_("region code"), max_length=6)
    institution_code = models.CharField(_("institution code"), max_length=18, blank=True, default="")
    card_maker_code = models.CharField(_("card maker code"), max_length=18, blank=True, default="")
    measure = models.CharField(_("measure"), max_length=32)
    count = models.BigIntegerField(_("count"), default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} {self.region} {self.measure} {self.count}"


def fact_keys(period: str) -> tuple[list, list]:
    """The constraints and indexes of one fact table (daily, weekly, monthly): its key, unique, and a covering
    index of every column a figure reads, so a figure by institution or card maker is read from the index alone
    (an index-only scan) instead of visiting a heap page for each of its many rows."""
    constraints = [
        models.UniqueConstraint(
            fields=["day", "region", "institution_code", "card_maker_code", "measure"],
            name=f"stats_{period}count_key",
        )
    ]
    indexes = [
        models.Index(
            fields=["measure", "day", "region", "institution_code", "card_maker_code", "count"],
            name=f"stats_{period}_measure_day_all",
        ),
        models.Index(fields=["measure", "region", "day"], name=f"stats_{period}_measure_region"),
    ]
    return constraints, indexes


class DailyCount(FactCount):
    """The fact table: one row per day and key."""

    class Meta:
        verbose_name = _("figure")
        verbose_name_plural = _("figures")
        constraints, indexes = fact_keys("daily")


class WeeklyCount(FactCount):
    """The same counts per ISO week (`day` is its Monday): the days a range has left over at either end of its
    whole months are read as whole weeks plus at most six days a side, so a figure by institution or card maker
    reads a handful of rows per key, not one per day."""

    class Meta:
        verbose_name = _("weekly figure")
        verbose_name_plural = _("weekly figures")
        constraints, indexes = fact_keys("weekly")


class MonthlyCount(FactCount):
    """The same counts per month (`day` is the month's first day): a year's figure reads 12 rows, not 365."""

    class Meta:
        verbose_name = _("monthly figure")
        verbose_name_plural = _("monthly figures")
        constraints, indexes = fact_keys("monthly")


class WindowCount(FactCount):
    """The same counts summed over each rolling window (the last 30 days, the last 365 days, each ending today;
    `day` is the window's first day, StatsWindow says which are current): a report by institution over a window
    reads one row per institution and measure, not one per week and edge day, so a province's ranking of its
    institutions costs what their number costs, whatever the data behind them. The fold adds each event to the
    windows its day falls in; the first fold of a new day rolls the windows forward from the roll-ups."""

    class Meta:
        verbose_name = _("rolling-window figure")
        verbose_name_plural = _("rolling-window figures")
        constraints, indexes = fact_keys("window")


class StatsWindow(models.Model):
    """One rolling window as the fold keeps it now: its days (first_day..last_day, both counted) in WindowCount
    rows whose `day` is first_day."""

    days = models.PositiveSmallIntegerField(_("days"), primary_key=True)
    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"))
    rolled_at = models.DateTimeField(_("rolled at"))

    class Meta:
        verbose_name = _("rolling window")
        verbose_name_plural = _("rolling windows")

    def __str__(self) -> str:
        return f"{self.days} d: {self.first_day}..{self.last_day}"


class RegionFact(models.Model):
    """The same counts without institution: bounded by days x counties x card makers x measures however many
    cards there are, so the dashboard and the figures by region, period or card maker stay fast as the data
    grows. (Only production events name a card maker, and a province has a handful.)"""

    REGION_SCOPE_FIELD = "region"
    KEY = ("day", "region", "card_maker_code", "measure")

    day = models.DateField(_("day"))
    region = models.CharField(_("region code"), max_length=6)
    card_maker_code = models.CharField(_("card maker code"), max_length=18, blank=True, default="")
    measure = models.CharField(_("measure"), max_length=32)
    count = models.BigIntegerField(_("count"), default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} {self.region} {self.card_maker_code} {self.measure} {self.count}"


def region_fact_keys(period: str) -> tuple[list, list]:
    """The key of a by-region table, and an index covering what its figures read (by region, period or maker)."""
    constraints = [
        models.UniqueConstraint(
            fields=["day", "region", "card_maker_code", "measure"], name=f"stats_region{period}_key"
        )
    ]
    indexes = [
        models.Index(
            fields=["measure", "day", "region", "card_maker_code", "count"], name=f"stats_region{period}_all"
        )
    ]
    return constraints, indexes


class RegionDailyCount(RegionFact):
    class Meta:
        verbose_name = _("daily figure by region")
        verbose_name_plural = _("daily figures by region")
        constraints, indexes = region_fact_keys("day")


class RegionMonthlyCount(RegionFact):
    class Meta:
        verbose_name = _("monthly figure by region")
        verbose_name_plural = _("monthly figures by region")
        constraints, indexes = region_fact_keys("month")


class FoldCheckpoint(models.Model):
    """How far a source has been folded into DailyCount (the journal sequence), and when."""

    source = models.CharField(_("source"), max_length=40, primary_key=True)
    seq = models.BigIntegerField(_("last journal sequence folded"), default=0)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("fold checkpoint")
        verbose_name_plural = _("fold checkpoints")

    def __str__(self) -> str:
        return f"{self.source} @ {self.seq}"


class AssessmentTarget(models.Model):
    """A yearly target a centre sets for one subordinate region (centre) or one institution in its area."""

    REGION_SCOPE_FIELD = "region__code"

    year = models.PositiveSmallIntegerField(_("year"))
    region = models.ForeignKey("registry.Region", verbose_name=_("region"), on_delete=models.PROTECT)
    institution_code = models.CharField(
        _("institution code"),
        max_length=18,
        blank=True,
        default="",
        help_text=_("Empty: the target of the region's centre as a whole."),
    )
    measure = models.CharField(_("measure"), max_length=20, choices=TargetMeasure.choices)
    value = models.DecimalField(_("target"), max_digits=12, decimal_places=1)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    set_at = models.DateTimeField(_("set at"), null=True, blank=True)

    class Meta:
        verbose_name = _("assessment target")
        verbose_name_plural = _("assessment targets")
        ordering = ["-year", "region", "institution_code", "measure"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "region", "institution_code", "measure"], name="stats_target_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.region_id} {self.institution_code or '-'} {self.get_measure_display()}"
