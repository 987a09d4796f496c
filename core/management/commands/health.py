"""``manage.py health``: the checks of /readyz, for operators and container healthchecks.

Exit code 0 when every check asked for is ok, 1 otherwise. ``--only beat`` runs one check
(repeat it for several); ``--json`` prints /readyz's body instead of the table."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core import health


class Command(BaseCommand):
    help = "Checks the database, the broker, beat's SLA sweep and the outbox; exit 1 if any fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only",
            action="append",
            choices=list(health.CHECKS),
            metavar="CHECK",
            help=f"run only this check ({', '.join(health.CHECKS)}); may be repeated",
        )
        parser.add_argument("--json", action="store_true", help="print JSON, as /readyz does")

    def handle(self, *args: Any, **options: Any) -> None:
        results = health.run_checks(options["only"])
        if options["json"]:
            self.stdout.write(json.dumps(health.report(results), indent=2))
        else:
            width = max(len(r.name) for r in results)
            for r in results:
                status = self.style.SUCCESS("ok   ") if r.ok else self.style.ERROR("error")
                self.stdout.write(f"{r.name:<{width}}  {status}  {r.detail}")
        if not all(r.ok for r in results):
            raise SystemExit(1)
