from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VendorsConfig(AppConfig):
    name = "vendors"
    verbose_name = _("Vendors")

    def ready(self):
        # institutions asks "has this card maker a valid filed product?" through a hook, so it never imports
        # vendors (dependencies point one way; docs/architecture.md).
        from institutions.selectors import FILING_CHECK
        from vendors.selectors import card_maker_has_valid_filing

        FILING_CHECK["check"] = card_maker_has_valid_filing
