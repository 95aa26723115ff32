"""`make queue`: what the broker holds right now, read without changing anything.

Celery's Redis transport (kombu) keeps each queue as a Redis list named after the queue (plus one
list per priority step, the name followed by "\\x06\\x16" and the step), remembers which queues an
exchange feeds in ``_kombu.binding.<exchange>`` sets, and keeps every message a worker took but
has not acknowledged in the ``unacked`` hash, which is also where a task with an ETA or a
countdown waits: the worker holds it in memory until it is due. Results are
``celery-task-meta-<id>`` keys.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Held", "look", "render"]

_SEP = "\x06\x16"
_INTERNAL = ("celeryev", "celery.pidbox", "reply.celery.pidbox")  # events and remote control


@dataclass
class Held:
    queues: dict[str, int] = field(default_factory=dict)  # queue name → messages waiting
    unacked: list[dict] = field(default_factory=list)  # {"task", "id", "eta"} per message
    results: int = 0
    results_counted_up_to: int = 0  # a count above this is "at least"


def _queues(client) -> list[str]:
    names = set()
    for key in client.scan_iter(match="_kombu.binding.*", count=500):
        exchange = key.decode(errors="replace")[len("_kombu.binding."):]
        if exchange in _INTERNAL:
            continue
        for member in client.smembers(key):
            names.add(member.decode(errors="replace").split(_SEP)[-1])
    return sorted(names or {"celery"})


def _waiting(client, queue: str) -> int:
    keys = [queue] + [f"{queue}{_SEP}{step}" for step in range(1, 10)]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.llen(key)
        return sum(pipe.execute())


def _unacked(client) -> list[dict]:
    held = []
    for tag, raw in client.hscan_iter("unacked", count=500):
        try:
            message = json.loads(raw)[0]
            headers = message.get("headers") or {}
            held.append({"task": headers.get("task", "?"), "id": headers.get("id", "?"),
                         "eta": headers.get("eta")})
        except (ValueError, IndexError, AttributeError, TypeError):
            held.append({"task": "?", "id": tag.decode(errors="replace"), "eta": None})
    return held


def look(client, limit: int = 10_000) -> Held:
    """What the broker behind ``client`` (a redis-py client on the right database) holds."""
    held = Held(results_counted_up_to=limit)
    for queue in _queues(client):
        held.queues[queue] = _waiting(client, queue)
    held.unacked = _unacked(client)
    for _ in client.scan_iter(match="celery-task-meta-*", count=1000):
        held.results += 1
        if held.results > limit:
            break
    return held


def _when(eta: str | None) -> str:
    if not eta:
        return ""
    try:
        due = datetime.fromisoformat(eta)
        left = due.timestamp() - time.time()
        return f", due in {left:.0f} s" if left > 0 else ", due now"
    except ValueError:
        return f", due {eta}"


def render(held: Held, where: str) -> list[str]:
    """The lines `make queue` prints."""
    lines = [f"Broker: {where}"]
    for queue, count in held.queues.items():
        note = "" if count else " (a worker takes each message as soon as it is free)"
        lines.append(f"  queue {queue!r}: {count} message{'s' * (count != 1)} waiting{note}")
    lines.append(f"  taken by a worker, not yet acknowledged: {len(held.unacked)}")
    for message in held.unacked[:10]:
        lines.append(f"    {message['task']} [{message['id']}]{_when(message['eta'])}")
    if len(held.unacked) > 10:
        lines.append(f"    ... and {len(held.unacked) - 10} more")
    more = "+" if held.results > held.results_counted_up_to else ""
    lines.append(f"  results stored: {min(held.results, held.results_counted_up_to)}{more} "
                 "(each expires after result_expires, a day by default)")
    return lines
