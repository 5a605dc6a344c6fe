from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SamConfig(AppConfig):
    name = "sam"
    verbose_name = _("SAM cards")

    def ready(self) -> None:
        # Fills institutions' EQUIPMENT_SOURCES hook (the SAM panel of an institution's page).
        from sam import selectors  # noqa: F401
