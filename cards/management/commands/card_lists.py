"""`manage.py card_lists sync`: put every card on the blacklist / whitelist its state calls for."""

from django.core.management.base import BaseCommand

from cards.actions.maintenance import card_lists_sync
from registry.actors import Actor
from registry.choices import Channel


class Command(BaseCommand):
    help = "Whitelist active cards and blacklist lost, replaced and cancelled ones (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["sync"])

    def handle(self, *args, **options):
        count = card_lists_sync(actor=Actor.system(channel=Channel.COMMAND, label="card_lists sync"))
        self.stdout.write(self.style.SUCCESS(f"{count} cards checked / 已核对 {count} 张卡"))
