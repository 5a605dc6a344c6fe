"""`manage.py sync push|pull|status|reconcile|retry|trust`: run the tier sync now, or see where it stands."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from exchange.choices import RunStatus, RunTrigger
from registry.actors import Actor
from registry.choices import Channel
from registry.errors import DomainError


class Command(BaseCommand):
    help = (
        "Sync with the parent node: push (journal up), pull (lists, filings, centres down), status, "
        "reconcile (compare counts and digests), retry (quarantined bundles now), trust (register a peer's key)."
    )

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["push", "pull", "status", "reconcile", "retry", "trust", "loop"])
        parser.add_argument("region", nargs="?", help="trust: the peer's region code")
        parser.add_argument("--key", help="trust: the peer's public key (PEM file)")
        parser.add_argument("--url", default="", help="trust: the peer's base URL")
        parser.add_argument("--limit", type=int, default=None, help="rows per bundle")
        parser.add_argument("--every", type=int, default=300, help="loop: seconds between runs")

    def handle(self, *args, verb, **options):
        try:
            return getattr(self, f"do_{verb}")(**options)
        except DomainError as error:
            raise CommandError(error.message_en) from None

    def _report_run(self, run):
        line = (
            f"{run.get_direction_display()} {run.peer}: {run.get_status_display()}, {run.bundles} bundles, "
            f"{run.rows} rows, {run.bytes} bytes, {run.errors} errors"
        )
        self.stdout.write(line)
        if run.message:
            self.stdout.write(run.message)
        if run.status == RunStatus.FAILED:
            raise CommandError("the sync run failed")

    def do_push(self, **options):
        from exchange.sync.runner import sync_push

        kwargs = {"limit": options["limit"]} if options["limit"] else {}
        self._report_run(sync_push(trigger=RunTrigger.COMMAND, **kwargs))

    def do_pull(self, **options):
        from exchange.sync.runner import sync_pull

        kwargs = {"limit": options["limit"]} if options["limit"] else {}
        self._report_run(sync_pull(trigger=RunTrigger.COMMAND, **kwargs))

    def do_status(self, **options):
        from exchange.sync.runner import sync_status

        self.stdout.write(json.dumps(sync_status(), indent=2, ensure_ascii=False))

    def do_reconcile(self, **options):
        from exchange.sync.runner import sync_reconcile

        report = sync_reconcile()
        if not report.drift:
            self.stdout.write(f"in step with {report.peer}: no drift")
            return
        for item in report.drift:
            self.stdout.write(
                f"DRIFT {item['kind']} ({item['measure']}): here {item['here']}, parent {item['parent']}"
            )
        raise CommandError(f"{len(report.drift)} kinds drift from {report.peer}")

    def do_loop(self, *, every, **options):
        """Push, pull and retry quarantine every `every` seconds, in this process: the schedule of a node
        without a Celery beat (the demo). Stop it with Ctrl-C / SIGTERM."""
        import signal
        import time

        from exchange.sync.apply import quarantine_retry_due
        from exchange.sync.runner import sync_pull, sync_push

        stopping = []
        signal.signal(signal.SIGTERM, lambda *args: stopping.append(True))
        while not stopping:
            for run in (sync_push(trigger=RunTrigger.SCHEDULE), sync_pull(trigger=RunTrigger.SCHEDULE)):
                self.stdout.write(
                    f"{run.started_at:%H:%M:%S} {run.direction} {run.get_status_display()}: {run.bundles} bundles, "
                    f"{run.rows} rows, {run.bytes} bytes {run.message[:200]}"
                )
            quarantine_retry_due()
            self.stdout.flush()
            for _ in range(every * 10):
                if stopping:
                    break
                time.sleep(0.1)

    def do_retry(self, **options):
        from exchange.sync.apply import quarantine_retry_due

        self.stdout.write(f"{quarantine_retry_due(now=None)} quarantined bundles applied")

    def do_trust(self, *, region, key, url, **options):
        """Register (or update) a peer's centre record with its public key: how a parent learns a child's key
        and a child its parent's, compared by fingerprint over the phone."""
        from registry.actions import centre_register, centre_update
        from registry.models import Region, RegistrationCentre
        from registry.node import public_key_fingerprint

        if not region or not key:
            raise CommandError("usage: sync trust REGION --key PEMFILE [--url URL]")
        pem = Path(key).read_text()
        actor = Actor.system(channel=Channel.COMMAND, label="sync trust")
        centre = RegistrationCentre.objects.filter(region_id=region).first()
        if region == settings.HC_REGION:
            raise CommandError("this is the node's own region: use `manage.py node init`")
        if centre is None:
            target = Region.objects.filter(code=region).first()
            if target is None:
                raise CommandError(f"unknown region {region}")
            centre = centre_register(
                actor=actor,
                region=target,
                name=f"{target.name}居民健康卡注册管理中心",
                base_url=url,
                public_key=pem,
            )
        elif centre.public_key != pem or (url and centre.base_url != url):
            centre = centre_update(
                actor=actor,
                centre=centre,
                public_key=pem,
                base_url=url or centre.base_url,
                reason="sync trust",
            )
        self.stdout.write(f"{region} trusted, key {public_key_fingerprint(pem)}")
