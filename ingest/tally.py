"""Counter additions a service holds until the store has them, each added once: save tokens.

A service adds to its counters in the store (``Store.add_counts``, and with the snapshots
they count, ``Store.save_states``). A write whose commit the server made durable, but
whose answer a crash cut off, fails with a ``StoreError`` all the same, and the service
writes what it holds again. So that those counts are not added a second time, a
:class:`Tally` holds them in batches numbered one after the other (their save tokens)
under a writer id of its own, unique to this run of the service. Every write sends all
the batches held, and the store, in the same transaction as the additions, keeps the
writer's last token it added (table ``save_tokens``) and adds only the batches numbered
above it. Since all held batches commit together, the batches a writer had added are
always its first ones, and one number per writer says which:

>>> tally = Tally("worker", "w1#0")
>>> tally.hold({("d1", "packets"): 20})
>>> tally.hold({("d1", "packets"): 0})  # nothing to add: no batch
>>> tally.hold({("d1", "packets"): 5, ("*", "evicted"): 1})
>>> [b.token for b in tally.held]
[1, 2]
>>> tally.written()
{('d1', 'packets'): 25, ('*', 'evicted'): 1}
>>> tally.held
()
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CountBatch", "Tally", "writer_id"]


@dataclass(frozen=True, slots=True)
class CountBatch:
    """Counter additions held under one save token.

    Attributes:
        token: The batch's number among its writer's, from 1.
        counts: ``{(device_id, name): n}``, ``device_id`` ``"*"`` for the service itself.
    """

    token: int
    counts: Mapping[tuple[str, str], int]


def writer_id(name: str) -> str:
    """A writer id for one run of a service: ``name`` and a random part no other run has.

    A restarted service numbers its batches from 1 again, so it must not take over the
    tokens its last run left in the store.
    """
    return f"{name}#{uuid.uuid4().hex}"


class Tally:
    """The counter additions of one writer not yet confirmed by the store, in numbered batches.

    Hold counts with :meth:`hold`, pass the tally to the store's write, and once that
    returned call :meth:`written`. If it raised, keep the tally as it is: the next write
    sends the same batches under the same tokens (with any held since), and the store
    adds those it has not added.

    Args:
        service: The service whose counters these are.
        writer: Unique to this run of the service (:func:`writer_id`).
    """

    def __init__(self, service: str, writer: str) -> None:
        self.service = service
        self.writer = writer
        self._next_token = 1
        self._held: list[CountBatch] = []

    @property
    def held(self) -> tuple[CountBatch, ...]:
        """The batches held, in token order (consecutive tokens)."""
        return tuple(self._held)

    def hold(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Hold the non-zero counts of ``counts`` as a batch under the next token (none if all are zero)."""
        kept = {key: n for key, n in counts.items() if n}
        if kept:
            self._held.append(CountBatch(self._next_token, kept))
            self._next_token += 1

    def counts_after(self, token: int) -> Mapping[tuple[str, str], int]:
        """The sum of the batches held whose token is above ``token`` (0: all of them)."""
        new = [batch.counts for batch in self._held if batch.token > token]
        return new[0] if len(new) == 1 else sum(map(Counter, new), Counter())

    def written(self) -> dict[tuple[str, str], int]:
        """Let go of the batches held, which the store has now; return their sum (for the metrics)."""
        total = dict(self.counts_after(0))
        self._held.clear()
        return total
