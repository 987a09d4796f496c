"""Two-way sync of defects with an external tracker (a connector).

**Out.** ``on_record_audited`` / ``on_record_commented`` (``core.events``, in the action's
transaction) write outbox rows on the ``connector`` channel for a linked work item (or a
new defect of a mapped project), one ``order_key`` per record. ``connector_send`` (the
channel's sender) reads the record *when it sends*, so a row never pushes a stale value:
only the fields of the connector's field map with direction out/both leave (the
allowlist), and only those that differ from what both sides last agreed on. A remote
create is made at most once: the issue carries the link's marker label
(``RemoteLink.create_label``), and a try whose link holds no issue id yet searches for
it first and takes the issue an earlier, failed try made.

**In.** A webhook (``webhook_receive``) or the catch-up poll (``connector_poll``) applies
a remote issue (``issue_apply``) and its comments (``comment_apply``) through the same
services as a user (``work_item_create``, ``work_item_update``, the work item's
transitions, ``work_comment``) as the connector's user, in one transaction, inside
``applying_remote(connector)`` so that nothing it changes is sent back (no echo).

**Conflicts.** Per field, the link keeps the value both sides last agreed on (in the
remote's terms) and when the remote last changed it; Tandem's side is its audit trail
(when the field last changed). A side whose value differs from the agreed one has
changed it since; when both have, to different values, the update is stale and the rule
decides: **the remote wins for status** (the tracker's workflow drives the development
work), **the later change wins for every other field** (the remote's ``updated`` against
the time of Tandem's last change of that field). The conflict is written to the record's
timeline: an audit row ``sync_conflict`` with both values and the winner.
"""

from integrations.services.connectors.common import (  # noqa: F401
    CONFLICT_ACTION,
    POLL_LIMIT,
    SYNCED_FIELDS,
    Conflict,
    _active_mappings,
    applying_remote,
    connectors_in_use,
    is_applying_remote,
    link_for,
    local_changed_at,
    local_value,
)
from integrations.services.connectors.inbound import (  # noqa: F401
    Applied,
    PollResult,
    WebhookAnswer,
    comment_apply,
    connector_poll,
    connectors_poll_all,
    inbound_deliveries_purge,
    issue_apply,
    webhook_receive,
)
from integrations.services.connectors.outbound import (  # noqa: F401
    can_resync,
    comment_may_leave,
    connector_after,
    connector_send,
    on_record_audited,
    on_record_commented,
    remote_link_resync,
)
