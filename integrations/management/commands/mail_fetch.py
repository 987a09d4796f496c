"""Read the configured mailboxes once (``settings.MAIL_MAILBOXES``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.mail.receive import mail_fetch


class Command(BaseCommand):
    help = (
        "Read the support mailboxes (MAIL_MAILBOXES): new mail becomes incidents or service "
        "requests, replies become comments; each mail is processed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailbox", action="append", help="Only this mailbox (repeatable).")
        parser.add_argument("--limit", type=int, default=None, help="Mails per mailbox.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = mail_fetch(only=options["mailbox"], limit=options["limit"])
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items())) or "none"
        self.stdout.write(
            f"{report.processed} mail processed ({outcomes}), {report.already} seen before, "
            f"{report.failed} failed (left for the next fetch)."
        )
        if report.failed:
            self.stderr.write("Some mail failed: see the log.")
