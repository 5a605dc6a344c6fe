"""`manage.py node init|show`: this node's identity (tier, region, key pair, own centre record)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.actions import node_init
from registry.actors import Actor
from registry.choices import Channel, Tier
from registry.errors import DomainError
from registry.models import RegistrationCentre


class Command(BaseCommand):
    help = (
        "Initialise this node: create its Ed25519 key pair (outside the database) and its own centre record."
    )

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["init", "show"])
        parser.add_argument("--tier", choices=Tier.values, default=None)
        parser.add_argument("--region", default=None, help="GB/T 2260 code; the nation is 100000")
        parser.add_argument("--parent", default="", help="the parent node's base URL")
        parser.add_argument("--name", default="", help="the centre's name (default: derived from the region)")
        parser.add_argument("--base-url", default="", help="this node's own base URL")

    def handle(self, *args, verb, **options):
        if verb == "show":
            return self.show()
        tier = options["tier"] or settings.HC_TIER
        region = options["region"] or settings.HC_REGION
        parent = options["parent"] or settings.HC_PARENT_URL
        if parent != settings.HC_PARENT_URL and settings.HC_PARENT_URL:
            raise CommandError(f"--parent {parent} differs from HC_PARENT_URL={settings.HC_PARENT_URL}")
        try:
            centre = node_init(
                actor=Actor.system(channel=Channel.COMMAND, label="node init"),
                tier=tier,
                region_code=region,
                parent_url=parent,
                name=options["name"],
                base_url=options["base_url"],
            )
        except DomainError as error:
            raise CommandError(f"{error.message_zh}\n{error.message_en}") from error
        self.stdout.write(self.style.SUCCESS(f"Node ready / 节点已就绪: {centre} [{tier} {region}]"))
        self.stdout.write(f"  key file: {settings.HC_NODE_KEY_FILE}")
        self.stdout.write(f"  fingerprint: {centre.key_fingerprint}")
        if parent:
            self.stdout.write(f"  parent: {parent}")

    def show(self):
        centre = RegistrationCentre.objects.filter(region_id=settings.HC_REGION).first()
        self.stdout.write(
            f"tier={settings.HC_TIER} region={settings.HC_REGION} parent={settings.HC_PARENT_URL or '-'}"
        )
        if centre:
            self.stdout.write(f"centre={centre.name} fingerprint={centre.key_fingerprint}")
        else:
            self.stdout.write("not initialised: run `manage.py node init` / 尚未初始化")
