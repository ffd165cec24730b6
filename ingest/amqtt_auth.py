"""Logins and per-device ACLs for the embedded broker's amqtt engine: two amqtt plugins.

amqtt 0.12.1's own plugins cannot carry sitless's rules: its ``FileAuthPlugin`` reads
Argon2 or ``$6$`` hashes only, not the ``$7$`` PBKDF2 hashes of mosquitto's password
file (amqtt/plugins/authentication.py), and its ``TopicAccessControlListPlugin`` lists
topics per user name, with no pattern for "the user's own device"
(amqtt/plugins/topic_checking.py). These two follow amqtt's plugin API instead (amqtt
0.12.1, amqtt/plugins/base.py and manager.py: a ``BaseAuthPlugin`` whose
``authenticate`` and a ``BaseTopicPlugin`` whose ``topic_filtering`` the broker calls,
each configured by an inner ``Config`` dataclass filled from the ``plugins`` section of
the broker configuration) and read the same files and rules as the mosquitto engine
(:mod:`ingest.broker_setup`):

* :class:`PasswordFilePlugin` accepts a client whose user name is in the password file
  and whose password matches its hash, and nobody else (no anonymous clients). It
  looks at the file at each login and reads it again when it changed, so a wearable
  added with ``mosquitto_passwd`` can log in at once, while a reconnection storm of
  many wearables does not parse a long file once per login.
* :class:`AclPlugin` applies :func:`ingest.broker_setup.may`: amqtt asks it before
  taking a publish (refused ones reach nobody), before granting a subscription (a
  refused one is answered with failure 0x80).
* :class:`SitlessBroker` is amqtt's broker answering the check before each delivery
  at once: every subscription was checked against every topic its filter matches when
  it was granted, and amqtt's own check there loses messages (below). It also keeps a
  QoS 1 message it delivers until the subscriber acknowledges it, however long that
  takes (:class:`PatientProtocolHandler`).

Only the broker process imports this module (amqtt is loaded by it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter
from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.contexts import Action
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.events import BrokerEvents
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import OUTGOING, ApplicationMessage, Session
from amqtt.utils import format_client_message, gen_client_id

from ingest.broker_setup import Access, Logins, check_password, may

__all__ = ["AMQTT_VERSION", "AclPlugin", "PasswordFilePlugin", "PatientProtocolHandler", "SitlessBroker"]

log = logging.getLogger(__name__)

#: The amqtt whose private delivery methods :class:`PatientProtocolHandler` and
#: :class:`SitlessBroker` override (pyproject.toml pins it). Another version may have
#: changed them: check them again before changing the pin.
AMQTT_VERSION = "0.12.1"

#: How often a departing client's loop looks whether its last messages have been passed on.
_DRAIN_POLL_S = 0.01

if version("amqtt") != AMQTT_VERSION:
    raise ImportError(
        f"ingest.amqtt_auth overrides amqtt {AMQTT_VERSION}'s delivery internals; amqtt {version('amqtt')} is installed"
    )


class PasswordFilePlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt has no type hints
    """Let in only the logins of a mosquitto password file (:class:`ingest.broker_setup.Logins`)."""

    @dataclass
    class Config:
        """The plugin's settings, as amqtt fills them from the broker configuration.

        Attributes:
            logins: The :class:`~ingest.broker_setup.Logins` folder.
        """

        logins: str = ""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        #: The password file's logins, with the file's (inode, size, mtime) when they were read.
        self._read: tuple[tuple[int, int, int], dict[str, str]] | None = None

    def _users(self) -> dict[str, str]:
        """The password file's logins (``Logins.users``), read again only when the file changed.

        A file replaced (``mosquitto_passwd`` writes a new one and renames it over the
        old) has another inode; one written in place another size or modification time.
        """
        logins = Logins(Path(self.config.logins))
        try:
            st = logins.passwd.stat()
        except FileNotFoundError:
            return {}
        except OSError:
            return logins.users()  # which says what is wrong with the file
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._read is None or self._read[0] != key:
            self._read = (key, logins.users())
        return self._read[1]

    async def authenticate(self, *, session: Session) -> bool:
        """Whether the session's user name and password match a login of the folder, and its will is its to send.

        amqtt 0.12.1 publishes a client's last will without asking the topic plugins
        (``Broker._broadcast_message``): a will on a topic the login may not publish to (a
        device's on another's status or commands) is refused here, with the connection,
        as mosquitto refuses it.
        """
        user = session.username if session is not None else None
        if not user:
            return False
        if session.will_flag and not may(user, session.will_topic or "", Access.WRITE):
            log.warning("refused %s: its last will is on %s, which it may not publish to", user, session.will_topic)
            return False
        hashed = self._users().get(user)
        return hashed is not None and check_password(hashed, session.password or "")


class AclPlugin(BaseTopicPlugin):  # type: ignore[misc]  # amqtt has no type hints
    """Allow each login its own topics only (:func:`ingest.broker_setup.may`)."""

    @dataclass
    class Config:
        """No settings: the rules are :data:`ingest.broker_setup.SERVICE_GRANTS` and ``DEVICE_GRANTS``."""

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        """Whether the session's login may publish to (PUBLISH) or read (SUBSCRIBE, RECEIVE) the topic."""
        user = session.username if session is not None else None
        if not user or not topic:
            return False
        return may(user, topic, Access.WRITE if action == Action.PUBLISH else Access.READ)


class PatientProtocolHandler(BrokerProtocolHandler):  # type: ignore[misc]  # amqtt has no type hints
    """amqtt's handler of one client connection, waiting for each QoS 1 acknowledgement as long as it takes.

    amqtt 0.12.1 gives a subscriber 5 s to acknowledge a QoS 1 message it delivers
    (``ProtocolHandler._handle_qos1_message_flow``, a fixed ``timeout=5``), then forgets
    it, and it forgets it as well when the connection ends before the acknowledgement
    (the flow's ``finally`` removes it from the session's in-flight messages): either
    way it is never delivered again. The recorder acknowledges a packet only once it is
    stored, so a store outage longer than 5 s, or a recorder that dies, lost packets.
    MQTT 3.1.1 (section 4.4) has no such timeout: an unacknowledged QoS 1 PUBLISH is sent
    again, with DUP set, when the client reconnects with its session, as mosquitto does.

    So here an outgoing QoS 1 message leaves the session's in-flight messages only when
    its PUBACK arrives. When the connection ends first, amqtt cancels the waiter
    (``ProtocolHandler.stop``) and the message stays in the session, which amqtt keeps
    for a client with ``clean_session`` off: the next connection's handler sends it again
    (:meth:`_retry_deliveries`). Incoming messages and QoS 2 keep amqtt's own flows.
    These are private methods of amqtt 0.12.1 (:data:`AMQTT_VERSION`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redeliveries: set[asyncio.Task[None]] = set()

    async def _handle_qos1_message_flow(self, app_message: ApplicationMessage) -> None:
        if app_message.direction != OUTGOING or self.session is None or app_message.packet_id is None:
            await super()._handle_qos1_message_flow(app_message)
            return
        packet_id: int = app_message.packet_id
        self.session.inflight_out[packet_id] = app_message
        packet = app_message.build_publish_packet(dup=app_message.publish_packet is not None)
        # Waiting before sending: amqtt yields after the write (its PACKET_SENT event), and a
        # quick PUBACK read meanwhile found no waiter, was dropped, and the delivery never ended.
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._puback_waiters[packet_id] = waiter
        try:
            await self._send_packet(packet)
            app_message.publish_packet = packet
            app_message.puback_packet = await waiter  # cancelled when the connection ends
        finally:
            self._puback_waiters.pop(packet_id, None)
        del self.session.inflight_out[packet_id]

    async def _retry_deliveries(self) -> None:
        """Send the session's unacknowledged messages again, each waiting for its acknowledgement in the background.

        amqtt 0.12.1 waits here, before the connection's other traffic is handled, for
        every acknowledgement, and gives each up after 10 s.
        """
        if self.session is None:
            return
        for message in [*self.session.inflight_in.values(), *self.session.inflight_out.values()]:
            task = asyncio.create_task(self._handle_message_flow(message))
            self._redeliveries.add(task)
            task.add_done_callback(self._redelivered)

    async def wait_disconnect(self) -> Any:
        """The client's DISCONNECT or closed connection, once every message it published has been passed on.

        amqtt 0.12.1 acknowledges a QoS 1 PUBLISH as soon as it has read it into the
        session's delivered-message queue, which the broker's loop for this client then
        passes to the subscribers one message at a time. When the client left, that loop
        ended at once and dropped what was still queued, though the publisher had been
        told it arrived: a wearable ending a burst lost its tail. Here the loop learns of
        the departure only when the queue is empty, so it passes on the rest first, in order.
        """
        result = await super().wait_disconnect()
        while self.session is not None and not self.session.delivered_message_queue.empty():
            await asyncio.sleep(_DRAIN_POLL_S)
        return result

    def _redelivered(self, task: asyncio.Task[None]) -> None:
        self._redeliveries.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            log.warning("redelivery to %s failed: %s", self.session.client_id if self.session else "?", err)


class SitlessBroker(Broker):  # type: ignore[misc]  # amqtt has no type hints
    """amqtt's broker, with no plugin call between a message and its subscribers.

    amqtt 0.12.1 asks the topic plugins before each delivery from inside its loop over
    the subscriptions (``Broker._run_broadcast``). That call always yields to the event
    loop (the plugin manager runs plugins as tasks and gathers them), so a client that
    subscribes or leaves meanwhile changes the dictionary being looped over: the loop
    fails with "dictionary changed size during iteration" and the message reaches no
    one. With the logins' ACL on, held packets were lost this way under reconnections
    (``tests/e2e/test_secure_faults.py``). :class:`AclPlugin` has already checked every
    subscription against every topic its filter matches (:func:`ingest.broker_setup.may`),
    so a delivery is checked here again only by that function, without yielding (a
    session taken over by another login keeps subscriptions granted to the first). The
    loop's one other wait is for a session whose client is away (killed, reconnecting):
    amqtt keeps the message for it, then awaits the plugins' ``RETAINED_MESSAGE`` event;
    here the event is fired without waiting for it, so that a worker or recorder killed
    and subscribing again cannot make the broker drop a message for everyone else.

    Each connection is handled by a :class:`PatientProtocolHandler`, and the messages
    kept for a session while its client was away are handed to it without waiting for
    their acknowledgements (amqtt 0.12.1 waits for them all before it reads the client's
    next request, which with no time limit would stall a client that is slow to
    acknowledge). These too are private methods of amqtt 0.12.1 (:data:`AMQTT_VERSION`).
    """

    def __init__(self, config: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        #: Whether the logins' ACL is on (:func:`ingest.broker.amqtt_engine.broker_config` with logins).
        self._acl = f"{AclPlugin.__module__}.{AclPlugin.__qualname__}" in config.get("plugins", {})
        #: The user name that logged in with each client id whose session the broker holds:
        #: amqtt keeps the session of a refused login too, which must not bind its id.
        self._owners: dict[str, str | None] = {}
        #: The session :meth:`_initialize_client_session` has just let in, for amqtt's own check to pass.
        self._let_in: Session | None = None

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        if session is self._let_in:
            # Checked a moment ago, in this task: amqtt calls this first thing after
            # ``_initialize_client_session`` returns, with no wait between (amqtt 0.12.1,
            # ``Broker._handle_client_session``), so no other connection can come in between.
            self._let_in = None
            return True
        ok: bool = await super()._authenticate(session, listener)
        if ok:
            self._owners[session.client_id] = session.username
        return ok

    async def _delete_session(self, client_id: str) -> None:
        self._owners.pop(client_id, None)
        await super()._delete_session(client_id)

    async def _cleanup_session(self, client_id: str) -> None:
        self._owners.pop(client_id, None)
        await super()._cleanup_session(client_id)

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if action == Action.RECEIVE:
            # Checked again, at once: a client that took over another login's session (its
            # client id, with clean_session off) inherits its subscriptions, granted to the
            # other login. Without a yield, unlike the plugins' check (above).
            return not self._acl or may(session.username or "", topic, Access.READ)
        result: bool = await super()._topic_filtering(session, topic, action)
        return result

    async def _retain_broadcast_message(self, broadcast: dict[str, Any], qos: int, target_session: Session) -> None:
        kept = RetainedApplicationMessage(broadcast["session"], broadcast["topic"], broadcast["data"], qos)
        target_session.retained_messages.put_nowait(kept)  # an unbounded queue: never full
        event = self.plugins_manager.fire_event(
            BrokerEvents.RETAINED_MESSAGE, client_id=target_session.client_id, retained_message=kept
        )
        self._tasks_queue.append(asyncio.ensure_future(event))  # the broadcast loop logs and drops it once done

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        """As amqtt 0.12.1's own (``Broker._initialize_client_session``), but refusing a client id another login holds.

        amqtt hands a connecting client the session its client id names, kept or live,
        before it checks the login, and so to another login: one with ``clean_session``
        off took over the recorder's session with its queued packets and subscriptions,
        one with it on deleted that session, a wrong password sufficing. Here the login is
        checked first, and a client id whose session another user name logged in to is
        refused (CONNACK "not authorised"), before any session is touched; amqtt's own
        check, which follows at once, passes the session let in without reading the
        password file again. The connection gets a :class:`PatientProtocolHandler`.
        """
        self._let_in = None  # never left over from a connection amqtt did not go on with
        try:
            _, client = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        except (AMQTTError, MQTTError, NoDataError) as exc:
            log.warning(
                "no valid CONNECT from %s: %s", format_client_message(address=remote_address, port=remote_port), exc
            )
            if isinstance(exc, MQTTError):
                await writer.close()
            raise
        held = self._sessions.get(client.client_id, (None, None))[0]
        owner = self._owners.get(client.client_id) if held is not None else None
        if (owner is not None and owner != client.username) or not await self._authenticate(client, None):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            raise MQTTError(f"{client.username!r} refused, with client id {client.client_id!r}")
        handler = PatientProtocolHandler(self.plugins_manager, loop=self._loop)
        if client.clean_session:
            if client.client_id:
                await self._delete_session(client.client_id)
            else:
                client.client_id = gen_client_id()
            client.parent = 0
        elif held is not None:  # the kept session, with the settings of this connection
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive", "username", "password"):
                setattr(held, name, getattr(client, name))
            client = held
            client.parent = 1
        else:
            client.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if client.keep_alive > 0 and isinstance(delay, int):
            client.keep_alive += delay
        self._let_in = client  # checked above: amqtt's check that follows at once passes it (_authenticate)
        return handler, client

    async def _publish_session_retained_messages(self, session: Session) -> None:
        handler = self._get_handler(session)
        while handler is not None and not session.retained_messages.empty():
            kept = session.retained_messages.get_nowait()
            # The broadcast loop's tasks: it logs and drops each once it is done.
            self._tasks_queue.append(
                asyncio.ensure_future(handler.mqtt_publish(kept.topic, kept.data, kept.qos, retain=True))
            )
