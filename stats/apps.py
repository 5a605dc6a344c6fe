from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatsConfig(AppConfig):
    name = "stats"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from cards.models import CardEvent
        from stats.signals import card_event_saved

        # Single actions fold right after they commit; bulk inserts (no signal) by the scheduled fold, which
        # also catches anything a failed fold left behind. The fold reads the journal, so nothing counts twice.
        post_save.connect(card_event_saved, sender=CardEvent, dispatch_uid="stats.card_event_saved")
