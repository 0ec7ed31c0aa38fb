"""The event hub: numbered events out to every WebSocket subscriber.

Every stored event gets a global sequence number ``seq``. A subscriber names
topics — ``office`` (every public event), ``queue:<id>``, ``counter:<id>``,
``staff`` (full events; staff or paired displays only) and ``ticket:<token>``
(one ticket's public status). It gets a snapshot, then events in order; when
it comes back with ``since=<last seq>`` it gets exactly the events it missed
(from a ring buffer of recent events) or, when those are gone, a fresh
snapshot. Each event is serialised once per audience, not once per client
(STYLE.md 10). Each subscriber has a bounded queue; one that falls behind is
dropped and never slows the others (STYLE.md 7). A public topic's snapshot
is built once per sequence number (and at most once a second) and shared by
every subscriber that asks for it, so many clients, or one client asking
again and again, cost one build (issue 13 point 1). A subscriber remembers
whose credentials it holds (``keys``: session token hash, staff or device id);
:meth:`Hub.revoke` ends what those credentials gave at once (issue 13 point 5).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from . import views
from .core.events import FLOOR_PREFIXES
from .core.floor import Floor
from .storage.database import StoredEvent

if TYPE_CHECKING:
    from .printing import PrintService

log = logging.getLogger(__name__)
#: How long a shared snapshot of a public topic may be reused while no event
#: happens (its ``now`` and waits age; it is rebuilt after this).
SNAPSHOT_REUSE = timedelta(seconds=1)
#: Topics whose snapshots are shared: public ones, whose content is a function of
#: the floor (printers' and the staff topic's snapshots also read the print queues).
_SHARED_KINDS = ("office", "queue", "counter")


def dumps(obj: Any) -> str:
    """JSON text of ``obj`` (orjson)."""
    return orjson.dumps(obj).decode()


@dataclass(slots=True)
class Published:
    """One event as it leaves: its topics and its two serialisations."""

    seq: int
    topics: frozenset[str]
    public: str
    staff: str
    queues: tuple[str, ...]
    ticket: str | None


class Subscriber:
    """One WebSocket client's subscriptions and outgoing queue.

    ``send`` is called with each outgoing text; it must not block. ``on_drop``
    is called once when the client falls behind (queue full).
    """

    def __init__(self, send: Callable[[str], bool], on_drop: Callable[[], None], *, staff: bool = False,
                 on_revoke: Callable[[], None] | None = None) -> None:
        """``on_revoke`` is called once when :meth:`revoke` ends the credentials it holds."""
        self.send = send
        self.on_drop = on_drop
        self.on_revoke = on_revoke
        self.staff = staff
        self.topics: set[str] = set()
        self.tokens: set[str] = set()
        self.dropped = False
        #: Whose credentials this client holds (session token hash, staff id, device id).
        self.keys: frozenset[str] = frozenset()

    def revoke(self) -> None:
        """Take back at once what its credentials gave: the staff feed and printer
        topics go before anything else is published, then ``on_revoke`` runs."""
        self.staff = False
        self.keys = frozenset()
        self.topics = {t for t in self.topics if t != "staff" and not t.startswith("printer:")}
        if self.on_revoke is not None:
            self.on_revoke()

    @property
    def topic_count(self) -> int:
        """How many distinct topics it holds (``ticket:`` ones included)."""
        return len(self.topics) + len(self.tokens)

    def offer(self, text: str) -> None:
        """Queue ``text`` for the client; drop the client when its queue is full."""
        if self.dropped:
            return
        if not self.send(text):
            self.dropped = True
            self.on_drop()

    def wants(self, pub: Published) -> str | None:
        """The serialisation this client should get for ``pub``, or ``None``."""
        if "staff" in self.topics:
            return pub.staff
        if self.topics & pub.topics:
            return pub.public
        return None


class Hub:
    """Subscribers plus a ring buffer of the last ``history`` events."""

    def __init__(self, history: int = 10_000, counter_queues: dict[str, tuple[str, ...]] | None = None) -> None:
        """``counter_queues``: the queues each counter serves, so that a counter
        opening, pausing or closing carries the new status of those queues."""
        self.counter_queues = counter_queues or {}
        self.seq = 0
        self.ring: deque[Published] = deque(maxlen=history)
        self.subscribers: set[Subscriber] = set()
        self.by_token: dict[str, set[Subscriber]] = {}
        #: The print service (issue 4), for the ``printer:<id>`` topics and the
        #: printers in the staff snapshot; ``None`` until it starts.
        self.printers: PrintService | None = None
        #: topic → (seq, built at, snapshot message) for the shared public snapshots.
        self._snapshots: dict[str, tuple[int, datetime, str]] = {}

    # ------------------------------------------------------------ subscribers
    def add(self, sub: Subscriber) -> None:
        """Register a connected client."""
        self.subscribers.add(sub)

    def revoke(self, key: str | None) -> int:
        """End the privileges of every client holding credentials ``key`` (a session's
        token hash, a staff id or a device id): called when a session ends (logout,
        password change) or a device is revoked. Returns how many clients it hit."""
        if not key:
            return 0
        hit = [sub for sub in self.subscribers if key in sub.keys]
        for sub in hit:
            sub.revoke()
        return len(hit)

    def remove(self, sub: Subscriber) -> None:
        """Forget a client (called in ``finally`` when its socket ends)."""
        self.subscribers.discard(sub)
        self.unsubscribe(sub, [f"ticket:{t}" for t in list(sub.tokens)])

    def unsubscribe(self, sub: Subscriber, topics: Iterable[str]) -> None:
        """Remove ``topics`` (including ``ticket:`` topics) from ``sub``."""
        for topic in topics:
            if topic.startswith("ticket:"):
                token = topic.split(":", 1)[1]
                sub.tokens.discard(token)
                subs = self.by_token.get(token)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self.by_token[token]
            else:
                sub.topics.discard(topic)

    def subscribe(
        self, sub: Subscriber, topics: Iterable[str], since: int | None, floor: Floor, now: datetime
    ) -> dict[str, Any]:
        """Add ``topics`` to ``sub`` and queue what it needs first.

        Synchronous, so nothing is published between the snapshot and the
        subscription (STYLE.md 8). A topic named twice counts once. Stops early
        when the client is dropped meanwhile (its queue filled). Returns
        ``{"seq", "resumed"}``: ``resumed`` true when the missed events were sent
        instead of snapshots.
        """
        topics = list(dict.fromkeys(topics))
        resumable = (
            since is not None
            and since <= self.seq
            and (since >= self.seq or (self.ring and self.ring[0].seq <= since + 1))
        )
        for topic in topics:
            if topic.startswith("ticket:"):
                token = topic.split(":", 1)[1]
                sub.tokens.add(token)
                self.by_token.setdefault(token, set()).add(sub)
                ticket = floor.ticket_by_token(token)
                if ticket is not None:
                    sub.offer(
                        dumps(
                            {
                                "type": "ticket_status",
                                "seq": self.seq,
                                "ticket": views.ticket_public(ticket, floor, now),
                            }
                        )
                    )
            else:
                sub.topics.add(topic)
        plain = [t for t in topics if not t.startswith("ticket:")]
        if resumable:
            missed = [p for p in self.ring if p.seq > (since or 0)]
            for pub in missed:
                text = sub.wants(pub)
                if text is not None:
                    sub.offer(text)
            for queue in self._queues_of(plain, floor):
                sub.offer(dumps({"type": "queue_status", "seq": self.seq, **views.queue_status(floor, queue, now)}))
        else:
            for topic in plain:
                if sub.dropped:
                    break
                sub.offer(self.snapshot_message(topic, floor, now))
        return {"seq": self.seq, "resumed": bool(resumable)}

    def _queues_of(self, topics: list[str], floor: Floor) -> list[str]:
        if any(t in ("office", "staff") for t in topics):
            return list(floor.layout.queues)
        out = []
        for t in topics:
            if t.startswith("queue:"):
                out.append(t.split(":", 1)[1])
            elif t.startswith("counter:"):
                out.extend(floor.layout.counters[t.split(":", 1)[1]].queues)
        return list(dict.fromkeys(out))

    def snapshot_message(self, topic: str, floor: Floor, now: datetime) -> str:
        """The ``snapshot`` message for ``topic`` as sent; a public topic's is built
        once per sequence number (reused for up to :data:`SNAPSHOT_REUSE`) and
        shared by every client asking for it."""
        shared = topic.partition(":")[0] in _SHARED_KINDS
        if shared:
            hit = self._snapshots.get(topic)
            if hit is not None and hit[0] == self.seq and timedelta(0) <= now - hit[1] < SNAPSHOT_REUSE:
                return hit[2]
        text = dumps({"type": "snapshot", "topic": topic, "seq": self.seq, "data": self.snapshot(topic, floor, now)})
        if shared:
            self._snapshots[topic] = (self.seq, now, text)
        return text

    def snapshot(self, topic: str, floor: Floor, now: datetime) -> dict[str, Any]:
        """The snapshot for one topic (``ticket:`` topics excepted)."""
        if topic in ("office", "staff"):
            snap = views.office_snapshot(floor, now, staff=topic == "staff")
            if topic == "staff":
                snap["printers"] = self.printers.overview() if self.printers is not None else []
            return snap
        kind, _, ident = topic.partition(":")
        if kind == "printer":
            return self.printers.topic_snapshot(ident) if self.printers is not None else {}
        if kind == "queue":
            return views.queue_status(floor, ident, now)
        return {
            "counter": ident,
            **views.counter_status(floor, ident),
            "label": views.text(floor.layout.counters[ident].label()),
        }

    # ------------------------------------------------------------- publishing
    def publish(self, records: list[StoredEvent], floor: Floor, now: datetime) -> None:
        """Send ``records`` (already committed) to every interested subscriber.

        Each event goes out as one frame carrying the new status of the queues
        it touched (people waiting, expected wait) and of its counter, so a
        screen needs one message per event and no floor logic of its own;
        then every subscribed ticket in those queues gets its new status.
        """
        if not records:
            return
        statuses: dict[str, dict[str, Any]] = {}
        counter_states: dict[str, dict[str, Any]] = {}
        tickets: set[str] = set()
        for record in records:
            for q in self._queues_of_event(record):
                if q not in statuses:
                    statuses[q] = views.queue_status(floor, q, now)
            for c in _counters_of_event(record):
                if c not in counter_states:
                    counter_states[c] = views.counter_status(floor, c)
        for record in records:
            pub = self.published(record, statuses, counter_states)
            self.seq = pub.seq
            self.ring.append(pub)
            if pub.ticket:
                tickets.add(pub.ticket)
            for sub in self.subscribers:
                text = sub.wants(pub)
                if text is not None:
                    sub.offer(text)
        for token, subs in self.by_token.items():
            ticket = floor.ticket_by_token(token)
            if ticket is None or not (ticket.queue in statuses or ticket.id in tickets):
                continue
            text = dumps({"type": "ticket_status", "seq": self.seq, "ticket": views.ticket_public(ticket, floor, now)})
            for sub in list(subs):
                sub.offer(text)

    def published(
        self,
        record: StoredEvent,
        statuses: dict[str, dict[str, Any]] | None = None,
        counter_states: dict[str, dict[str, Any]] | None = None,
    ) -> Published:
        """Serialise a stored event once for each audience, with the status of
        the queues and counters it touched (from ``statuses`` and
        ``counter_states``; none for a rebuilt history)."""
        e = record.event
        queues = self._queues_of_event(record)
        topics = {"office", *(f"queue:{q}" for q in queues)}
        if not e.type.startswith(FLOOR_PREFIXES):  # printer.*, print.*: also the printer's own topic
            topics.add(f"printer:{e.data.get('printer')}")
        elif e.data.get("counter"):
            topics.add(f"counter:{e.data['counter']}")
        at = views.iso(e.at)
        status = [statuses[q] for q in queues if q in statuses] if statuses else []
        counters = (
            [counter_states[c] for c in _counters_of_event(record) if c in counter_states] if counter_states else []
        )
        public = dumps(
            {
                "type": "event",
                "seq": record.seq,
                "event": {"type": e.type, "at": at, **e.public_data()},
                "queues": status,
                "counters": counters,
            }
        )
        staff = dumps(
            {
                "type": "event",
                "seq": record.seq,
                "event": {"type": e.type, "at": at, **e.data},
                "queues": status,
                "counters": counters,
            }
        )
        return Published(record.seq, frozenset(topics), public, staff, queues, e.data.get("ticket"))

    def _queues_of_event(self, record: StoredEvent) -> tuple[str, ...]:
        d = record.event.data
        touched = [q for q in (d.get("queue"), d.get("to_queue"), d.get("next_queue")) if q]
        if record.event.type.startswith("counter.") and d.get("counter") in self.counter_queues:
            touched.extend(self.counter_queues[d["counter"]])
        return tuple(dict.fromkeys(touched))

    def has_subscriber(self, topic: str) -> bool:
        """Whether any connected client is subscribed to ``topic``."""
        return any(topic in sub.topics for sub in self.subscribers)

    def notify(self, topic: str, text: str) -> int:
        """Send ``text`` (not an event: no sequence number, not kept for
        resuming) to the subscribers of ``topic``; returns how many got it."""
        sent = 0
        for sub in list(self.subscribers):
            if topic in sub.topics:
                sub.offer(text)
                sent += 1
        return sent

    def heartbeat(self) -> str:
        """A heartbeat message carrying the latest sequence number."""
        return dumps({"type": "heartbeat", "seq": self.seq})


def _counters_of_event(record: StoredEvent) -> tuple[str, ...]:
    counter = record.event.data.get("counter")
    return (counter,) if counter else ()
