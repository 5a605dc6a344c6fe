"""The one filter form of every figure: date range, region at any level, institution, card maker, grouping."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models import Region
from stats.choices import Grouping


@dataclass(frozen=True)
class FigureFilters:
    date_from: dt.date
    date_to: dt.date
    region: str = ""  # a GB/T 2260 code at any level; empty: the whole scope
    institution: str = ""
    card_maker: str = ""
    by: str = Grouping.REGION
    # 0: every row (exports, the dashboard); n: the n-th page of a table ranked by institution or card maker.
    page: int = 0

    def described(self) -> list[tuple[str, str]]:
        """The filters in words, for the header of an export or printout."""
        out = [(str(_("from")), self.date_from.isoformat()), (str(_("to")), self.date_to.isoformat())]
        if self.region:
            region = Region.objects.filter(code=self.region).values_list("full_name", flat=True).first()
            out.append((str(_("region")), region or self.region))
        if self.institution:
            out.append((str(_("institution code")), self.institution))
        if self.card_maker:
            out.append((str(_("card maker code")), self.card_maker))
        out.append((str(_("grouped by")), str(Grouping(self.by).label)))
        return out


class FigureFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    region = forms.CharField(label=_("region code"), required=False, max_length=6)
    institution = forms.CharField(label=_("institution code"), required=False, max_length=18)
    card_maker = forms.CharField(label=_("card maker code"), required=False, max_length=18)
    by = forms.ChoiceField(label=_("grouped by"), choices=Grouping.choices, required=False)

    def __init__(self, *args, groupings=None, **kwargs):
        super().__init__(*args, **kwargs)
        if groupings:
            self.fields["by"].choices = [(g, Grouping(g).label) for g in groupings]

    def clean_region(self):
        code = self.cleaned_data["region"].strip()
        if code and not Region.objects.filter(code=code).exists():
            raise forms.ValidationError(_("No region has the code %(code)s."), params={"code": code})
        return code

    def filters(self) -> FigureFilters:
        """The filters chosen (defaults: the last 30 days, the whole scope, the first grouping)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        today = timezone.localdate()
        date_to = data.get("date_to") or today
        date_from = data.get("date_from") or date_to - dt.timedelta(days=29)
        by = data.get("by") or self.fields["by"].choices[0][0]
        return FigureFilters(
            date_from=date_from,
            date_to=date_to,
            region=data.get("region", ""),
            institution=data.get("institution", "").strip(),
            card_maker=data.get("card_maker", "").strip(),
            by=by,
        )
