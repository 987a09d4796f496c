"""Pages of the integrations: outbound webhooks' subscriptions (``webhooks``) and the
tracker sync's block on a synced record (``connectors``)."""

from integrations.views.connectors import RemoteLinkResyncView, remote_link_panel
from integrations.views.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_detail,
    webhook_disable,
    webhook_edit,
    webhook_enable,
    webhook_list,
    webhook_ping,
    webhook_redeliver,
    webhook_rotate,
)

__all__ = [
    "RemoteLinkResyncView",
    "remote_link_panel",
    "webhook_create",
    "webhook_delete",
    "webhook_detail",
    "webhook_disable",
    "webhook_edit",
    "webhook_enable",
    "webhook_list",
    "webhook_ping",
    "webhook_redeliver",
    "webhook_rotate",
]
