"""Demo: the business calendar knows this year's and next year's English bank holidays."""

from __future__ import annotations

from io import StringIO
from typing import TextIO

from django.core.management import call_command


def seed(stdout: TextIO) -> None:
    out = StringIO()
    call_command(
        "sla_import_holidays", "Business hours", "--country", "GB", "--subdiv", "ENG", stdout=out
    )
    stdout.write(f"  {out.getvalue().strip()}")
