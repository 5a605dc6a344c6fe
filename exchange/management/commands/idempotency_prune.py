"""Delete the stored answers of idempotent writes past their time (HC_IDEMPOTENCY_TTL_HOURS); run daily."""

from django.core.management.base import BaseCommand

from exchange.hospital.idempotency import prune


class Command(BaseCommand):
    help = "Delete idempotency records older than HC_IDEMPOTENCY_TTL_HOURS."

    def handle(self, *args, **options):
        self.stdout.write(f"{prune()} idempotency records deleted")
