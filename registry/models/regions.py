"""GB/T 2260 administrative divisions: the tree every row's region scope hangs from."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from registry.choices import NATION_CODE, RegionLevel


class Region(models.Model):
    # The code is the primary key, so every `region_id` column holds the code itself and
    # region scope is a prefix filter on that column, with no join.
    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=64)
    full_name = models.CharField(_("full name"), max_length=200, db_index=True)
    level = models.CharField(_("level"), max_length=10, choices=RegionLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent region"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )

    class Meta:
        # "region" alone is a filter label (地区); the model is the administrative division (行政区划).
        verbose_name = pgettext_lazy("model", "region")
        verbose_name_plural = pgettext_lazy("model", "regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.code})"

    @property
    def prefix(self) -> str:
        return region_prefix(self.code)


def region_prefix(code: str) -> str:
    """The code prefix every region under `code` shares: 100000 -> '', 610000 -> '61', 610100 -> '6101'."""
    if code == NATION_CODE:
        return ""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def region_level(code: str) -> str:
    if code == NATION_CODE:
        return RegionLevel.NATION
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.CITY
    return RegionLevel.COUNTY
