"""Issue 11 review fix: ``dev_links_from_title`` locks the items it links in primary-key
order, not in the order the title names them (two pipeline calls naming the same items
in opposite orders could deadlock)."""

from __future__ import annotations

from typing import Any

from projects import services as ps
from projects.services import dev_links


def test_items_are_locked_in_primary_key_order(org, project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="a")
    second = ps.work_item_create(actor=org.developer, kind="defect", project=project, title="b")
    locked: list[int] = []
    real_lock = dev_links.lock

    def spy(row: Any) -> Any:
        locked.append(row.pk)
        return real_lock(row)

    monkeypatch.setattr(dev_links, "lock", spy)
    result = ps.dev_links_from_title(
        url="https://github.com/acme/pay/pull/41",
        title=f"{second.key} and {first.key}",
        actor=org.developer,
    )
    assert locked == [first.pk, second.pk]
    assert [w.key for w in result.items] == [second.key, first.key]  # as the title says
    assert first.dev_links.count() == second.dev_links.count() == 1
