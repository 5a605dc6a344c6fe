from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerminalsConfig(AppConfig):
    name = "terminals"
    verbose_name = _("Terminals")

    def ready(self):
        from institutions.selectors import EQUIPMENT_SOURCES

        def terminals_of(institution) -> dict:
            rows = list(
                institution.terminals.order_by("serial").values("serial", "kind", "sam_serial", "status")
            )
            return {"count": len(rows), "rows": rows}

        EQUIPMENT_SOURCES["terminals"] = terminals_of
