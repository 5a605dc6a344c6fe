"""manage.py stats fold|rebuild: fold new case-history events into the daily counts, or recompute them all."""

from django.core.management.base import BaseCommand

from registry.actors import Actor
from registry.choices import Channel
from stats.actions import stats_fold, stats_rebuild


class Command(BaseCommand):
    help = (
        "Statistics: fold new events into the daily counts (fold) or recompute them from the rows (rebuild)."
    )

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["fold", "rebuild"])

    def handle(self, *args, what: str, **options):
        if what == "fold":
            count = stats_fold()
            self.stdout.write(f"folded {count} events")
        else:
            rows = stats_rebuild(actor=Actor.system(channel=Channel.COMMAND, label="manage.py stats rebuild"))
            self.stdout.write(f"rebuilt {rows} daily count rows")
