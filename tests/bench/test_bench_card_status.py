"""Smoke test of tests/bench/bench_card_status.py: tiny data, a live server, every figure comes out."""

import pytest

from tests.bench import bench_card_status as bench


@pytest.mark.django_db(transaction=True)
def test_card_status_benchmark_runs(live_server, settings):
    settings.ROOT_URLCONF = "tests.bench.bench_urls"
    settings.HC_HOSPITAL_RATE_LIMITS = {"default": "1000000/min"}
    pairs, credential = bench.seed(cards=30, blacklist=0, batch=10)
    from exchange.hospital.cardstatus import card_status_check

    assert {check.code for check in card_status_check(pairs)} == {"active"}  # seeded like real cards
    from django.db import connection

    # The live server's threads share one in-memory SQLite connection, which two callers at once break ("bad
    # parameter or other API misuse"); on PostgreSQL each thread has its own, and the callers go two at a time.
    together = 2 if connection.vendor == "postgresql" else 1
    figures = bench.report(
        base_url=live_server.url,
        pairs=pairs,
        credential=credential,
        seconds=0.3,
        connections=together,
        processes=1,
        batch_connections=together,
    )
    assert figures["bare"]["requests"] and figures["status"]["requests"]
    assert figures["batch_http_cards_s"] > 0 and figures["batch_inprocess_cards_s"] > 0
    bench.print_figures(figures, connections=together)
    bench.cleanup()
    from cards.models import Card

    assert not Card.objects.filter(medical_institution__name=bench.BENCH_TAG).exists()
