"""`manage.py terminal_agent`: the counter PC's bridge between the clerk's browser and the card reader."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from terminals.agent import Devices, new_token, start_agent


class Command(BaseCommand):
    help = "Serve the card reader (or the emulator) to the terminal page on 127.0.0.1, paired by a token."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--origin",
            default=getattr(settings, "HC_PLATFORM_ORIGIN", "") or "http://127.0.0.1:8000",
            help="the platform's origin (scheme://host:port): the only one allowed by CORS",
        )
        parser.add_argument("--emulator", action="store_true", help="an in-process emulated card and SAM")
        parser.add_argument("--card-reader", default="PICC", help="part of the contactless reader's name")
        parser.add_argument("--sam-reader", default="SAM", help="part of the SAM slot's name")
        parser.add_argument("--token", default="", help="pairing token (default: a new random one)")

    def handle(self, *args, port, origin, emulator, card_reader, sam_reader, token, **options):
        devices = Devices(emulator=emulator, card_reader=card_reader, sam_reader=sam_reader)
        server = start_agent(devices, origin=origin, token=token or new_token(), port=port)
        self.stdout.write(f"terminal agent on http://127.0.0.1:{server.port} for {origin}")
        self.stdout.write(f"pairing token: {server.token}")
        self.stdout.flush()  # the demo and service managers read this from a pipe
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            server.shutdown()
