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
  reads the file at each login, so a wearable added with ``mosquitto_passwd`` can log
  in at once.
* :class:`AclPlugin` applies :func:`ingest.broker_setup.may`: amqtt asks it before
  taking a publish (refused ones reach nobody), before granting a subscription (a
  refused one is answered with failure 0x80).
* :class:`SitlessBroker` is amqtt's broker answering the check before each delivery
  at once: every subscription was checked against every topic its filter matches when
  it was granted, and amqtt's own check there loses messages (below).

Only the broker process imports this module (amqtt is loaded by it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from ingest.broker_setup import Access, Logins, check_password, may

__all__ = ["AclPlugin", "PasswordFilePlugin", "SitlessBroker"]


class PasswordFilePlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt has no type hints
    """Let in only the logins of a mosquitto password file (:class:`ingest.broker_setup.Logins`)."""

    @dataclass
    class Config:
        """The plugin's settings, as amqtt fills them from the broker configuration.

        Attributes:
            logins: The :class:`~ingest.broker_setup.Logins` folder.
        """

        logins: str = ""

    async def authenticate(self, *, session: Session) -> bool:
        """Whether the session's user name and password match a login of the folder."""
        user = session.username if session is not None else None
        if not user:
            return False
        hashed = Logins(Path(self.config.logins)).users().get(user)
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
    so a delivery is allowed here without a second check, and without yielding.
    """

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if action == Action.RECEIVE:
            return True
        result: bool = await super()._topic_filtering(session, topic, action)
        return result
