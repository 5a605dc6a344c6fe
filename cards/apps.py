from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Cards")

    def ready(self) -> None:
        # Fills institutions' PRODUCTION_SOURCE hook (a card maker's figures on its admin page).
        from cards.selectors import production  # noqa: F401
