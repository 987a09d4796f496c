"""Tandem's brokers: kombu's transports with two fixes.

Redis (issue 10 #6). On a lost connection Celery 5.7's consumer first collects the connection
(which drops the transport's link to its kombu Connection, ``transport.client = None``) and
then closes it. Closing a channel that still holds unacknowledged messages (a task running,
acks_late) restores them through a fresh Redis client, whose parameters kombu reads from
``transport.client``: ``AttributeError: 'NoneType' object has no attribute 'hostname'``. That
is not a connection error, so it escapes Celery's recovery and the worker exits
("Unrecoverable error"). The same happens when such a task finishes and acknowledges its
message on the old channel. Here a channel keeps its connection's parameters, so those calls
reach Redis (or fail with a connection error, which Celery handles) instead.

The embedded default's broker: kombu's filesystem transport, with atomic writes.

kombu writes a message file in place, and a worker listing the folder can take it before
the writer has finished: it reads half a JSON document and the worker dies
("Unrecoverable error: JSONDecodeError", seen in Tandem's own test runs). Here a message
is written to a hidden temporary name and renamed into place, which is atomic on POSIX,
so a reader only ever sees whole messages.
"""

from __future__ import annotations

import os
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "tandemfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):  # type: ignore[no-untyped-def]
        name = f"{int(round(filesystem.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = os.path.join(self.data_folder_out, f".{uuid.uuid4().hex}.part")
        try:
            with open(temporary, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


class RedisChannel(kombu_redis.Channel):
    def __init__(self, connection, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._connection_info = connection.client  # the kombu Connection: URL, options
        super().__init__(connection, *args, **kwargs)

    def _connparams(self, asynchronous=False):  # type: ignore[no-untyped-def]
        if self.connection.client is None:  # collected after a connection loss
            self.connection.client = self._connection_info
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


def register() -> None:
    TRANSPORT_ALIASES[SCHEME] = "core.broker:Transport"
    for scheme in ("redis", "rediss"):  # REDIS_URL stays redis://…
        TRANSPORT_ALIASES[scheme] = "core.broker:RedisTransport"
