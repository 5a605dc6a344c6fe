"""`manage.py data_keys status|add|rotate`: personal-data keys and their rotation."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.actions import data_keys_rotate, data_keys_status
from registry.actors import Actor
from registry.choices import Channel
from registry.protection import key_file_add, keyring


class Command(BaseCommand):
    help = (
        "status: which key sealed how many values; add: add a new key to the key file and make it active; "
        "rotate: re-seal every value with the active key (resumable)."
    )

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["status", "add", "rotate"])
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, verb, batch_size, **options):
        if verb == "add":
            if settings.HC_DATA_KEYS:
                raise CommandError(
                    "Keys come from HC_DATA_KEYS: add the new key there and set HC_DATA_KEY_ACTIVE, then run rotate."
                )
            kid = key_file_add(settings.HC_DATA_KEYS_FILE)
            self.stdout.write(
                self.style.SUCCESS(f"New active key {kid} / 新密钥已启用; now run `data_keys rotate`")
            )
            return
        if verb == "rotate":
            rotated = data_keys_rotate(
                actor=Actor.system(channel=Channel.COMMAND, label="data_keys rotate"), batch_size=batch_size
            )
            for label, count in rotated.items():
                self.stdout.write(f"{label}: {count} rows re-sealed")
        self.stdout.write(f"active key: {keyring().active}")
        for label, tally in data_keys_status().items():
            self.stdout.write(f"{label}: " + (", ".join(f"{k}={v}" for k, v in tally.items()) or "no values"))
