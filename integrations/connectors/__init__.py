"""The connector framework: one adapter per kind of remote tracker (``base.TrackerAdapter``),
chosen by the connector's ``kind``. The sync itself (what goes out, what comes in,
conflicts) is kind-independent: ``integrations.services.connectors``."""

from __future__ import annotations

from typing import Any

from integrations.connectors.base import TrackerAdapter


def adapter_for(connector: Any) -> TrackerAdapter:
    from integrations.connectors.jira import JiraAdapter

    adapters: dict[str, type[TrackerAdapter]] = {"jira": JiraAdapter}
    try:
        return adapters[connector.kind](connector)
    except KeyError:
        raise ValueError(f"No adapter for connectors of kind {connector.kind!r}.") from None
