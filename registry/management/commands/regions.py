"""`manage.py regions load`: refresh the GB/T 2260 tree (migrate loads it the first time)."""

from django.core.management.base import BaseCommand

from registry.actions import regions_load


class Command(BaseCommand):
    help = "Load or refresh the GB/T 2260 region tree from python-stdnum's data."

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["load"])

    def handle(self, *args, **options):
        count = regions_load()
        self.stdout.write(self.style.SUCCESS(f"{count} regions loaded / 已载入 {count} 个行政区划"))
