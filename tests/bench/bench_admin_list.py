"""Benchmark: the admin card list page (first page, default ordering, and a status filter) at N cards. Not a test.

Tops the database up to N cards with `manage.py generate` (stats.generate), then requests the card changelist as
a national administrator through Django's test client; prints p50/p95 per page (target: under 1 s at 10,000,000).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/hc_bench HC_VAR_DIR=var/bench \\
        .venv/bin/python tests/bench/bench_admin_list.py [cards=1000000] [repeat=10]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_dashboard import out, setup  # noqa: E402

PAGES = (
    ("card list, first page", "/admin/cards/card/"),
    ("card list, status=lost", "/admin/cards/card/?status__exact=lost"),
    ("card list, page 50", "/admin/cards/card/?p=50"),
    # A city's clerk drilling down: the region tree filter (a code prefix) with a status.
    ("card list, lost in a city", "/admin/cards/card/?status__exact=lost&region_tree=610100"),
)


def main(cards: int = 1_000_000, repeat: int = 10) -> dict:
    setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cards.models import Card
    from stats.generate import generate

    have = Card.objects.count()
    if have < cards:
        began = time.perf_counter()
        generate(cards=cards - have, institutions=0, workers=2)
        out(f"generated {cards - have:,} cards in {time.perf_counter() - began:.1f} s")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    figures = {"cards": Card.objects.count()}
    for label, url in PAGES:
        client.get(url)  # warm-up
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        figures[label] = {"p50_ms": statistics.median(times), "p95_ms": p95}
        out(f"{label:<28} p50 {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms")
    figures["worst_p95_ms"] = max(
        value["p95_ms"] for key, value in figures.items() if isinstance(value, dict)
    )
    return figures


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:] if not a.startswith("--")]
    main(*arguments)
