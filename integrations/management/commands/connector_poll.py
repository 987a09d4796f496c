"""``manage.py connector_poll [--connector NAME]``: the catch-up poll now (what beat runs
every CONNECTOR_POLL_SECONDS): fetch what each remote tracker changed since the last poll
and apply it as its webhooks would."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.outbox import DeliveryFailed
from integrations.connectors.base import MalformedPayload
from integrations.models import Connector
from integrations.services.connectors import connector_poll


class Command(BaseCommand):
    help = "Fetch what each connected tracker changed since the last poll and apply it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connector", help="only this connector (its name)")

    def handle(self, *args: Any, **options: Any) -> None:
        connectors = Connector.objects.filter(active=True, mappings__isnull=False).distinct()
        if options["connector"]:
            connectors = connectors.filter(name=options["connector"])
            if not connectors:
                raise CommandError(f"No active, mapped connector named {options['connector']!r}.")
        failed = False
        for connector in connectors:
            try:
                result = connector_poll(connector=connector)
            except (DeliveryFailed, MalformedPayload) as exc:
                failed = True
                self.stderr.write(f"{connector}: {exc}")
                continue
            self.stdout.write(
                f"{connector}: {result.issues} issues read, {result.changed} changed, "
                f"{result.failed} failed"
            )
            failed = failed or bool(result.failed)
        if failed:
            raise SystemExit(1)
