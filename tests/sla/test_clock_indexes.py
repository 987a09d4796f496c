"""Every clock the sweep moves changes ``next_check_at`` (indexed), so no update of a
clock is HOT and each index of ``sla_slaclock`` is written for every clock swept: the
table keeps only the indexes a query needs (docs/decisions.md, issue 13 session 4)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_clock_table_keeps_four_indexes() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'sla_slaclock'")
        names = {row[0] for row in cur.fetchall()}
    assert names == {
        "sla_slaclock_pkey",
        "one_clock_per_ticket_target",  # a ticket's clocks (content type, id, target)
        "sla_clock_due_idx",  # the sweep's due clocks
        "sla_clock_unhandled_idx",  # breaches whose hand-off is pending
    }
