"""manage.py generate --cards N: realistic holders, cards, events, use records and blacklist entries, fast."""

import os
import time

from django.core.management.base import BaseCommand

from stats.generate import generate


class Command(BaseCommand):
    help = (
        "Benchmark data: holders with valid ID numbers, their cards (sealed, with chip serials and blind indexes), "
        "case events, card use records and blacklist entries (COPY on PostgreSQL). Not journaled; not folded into "
        "the statistics (run `manage.py stats rebuild` for that)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cards", type=int, required=True)
        parser.add_argument("--holders", type=int, default=None, help="default: as many as cards")
        parser.add_argument("--institutions", type=int, default=20)
        parser.add_argument("--uses", type=int, default=0)
        parser.add_argument("--blacklist", type=int, default=0)
        parser.add_argument("--region", default="", help="a region code prefix (default: the node's region)")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, **options):
        began = time.perf_counter()
        timings = {}
        counts = generate(
            cards=options["cards"],
            holders=options["holders"],
            institutions=options["institutions"],
            uses=options["uses"],
            blacklist=options["blacklist"],
            region=options["region"],
            workers=options["workers"],
            seed=options["seed"],
            timings=timings,
        )
        seconds = time.perf_counter() - began
        rate = counts["cards"] / seconds if seconds else 0
        written = ", ".join(f"{count} {name}" for name, count in counts.items())
        stages = ", ".join(f"{name} {value:.1f} s" for name, value in timings.items())
        self.stdout.write(f"wrote {written} in {seconds:.1f} s ({rate:,.0f} cards/s; {stages})")
