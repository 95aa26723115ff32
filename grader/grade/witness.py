"""The run's broker, served by the keeper: a witness the student's process cannot touch.

The checker process makes the listening socket inside its own network namespace (loopback
only) and hands it to the keeper over a Unix socket; the keeper serves the embedded fakeredis
on it from its own threads. Every command the run sends crosses the keeper, which notes the
task messages published (their task names, with the time they crossed); verdict.py compares
them with what the run's records claim.

Cost: the broker's work moves out of the checker's interpreter into the keeper's, so it no
longer competes with the run for one GIL; the extra is a thread per connection in the keeper.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time

from ..harness.broker import _server_class

__all__ = ["Witness", "hand_over"]

_TASK = re.compile(rb'"task": "([^"]{1,200})"')
_ID = re.compile(rb'"id": "([^"]{1,200})"')  # the message's headers (not root_id, parent_id)
MAX_EVENTS = 5000
MAX_IDS = 100_000


def hand_over(channel: socket.socket) -> str:
    """In the checker process: a listening socket for the broker, given to the keeper.
    Returns the URL the harness connects to."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    socket.send_fds(channel, [b"b"], [listener.fileno()])
    listener.close()
    channel.close()
    return f"redis://127.0.0.1:{port}/9"  # any database but 0: the harness empties it


# Commands that put a task message on a queue (or a fanout channel). The worker's own
# bookkeeping of a message it received (HSET unacked ...) carries the same text, but when it
# crosses depends on how fast the worker picks the message up, so it is left out: counting it
# made a check's count change from run to run (an honest run once "had none" where the
# reference had one).
_PUBLISHING = frozenset({b"LPUSH", b"RPUSH", b"PUBLISH"})


class _Tee:
    """The handler's input stream, with each task message published shown to the witness.

    It follows the Redis protocol's framing (``*N``, then N × ``$len`` and the bytes), so that
    it knows which command each argument belongs to.
    """

    def __init__(self, raw, note):
        self._raw, self._note = raw, note
        self._args = 0  # arguments of the current command still to come
        self._need = -1  # bytes of the current argument still to come; -1: its $len line next
        self._index = 0  # which argument of the command this is
        self._command = b""

    def readline(self, *args):
        line = self._raw.readline(*args)
        if line:
            self._follow(line)
        return line

    def _follow(self, line: bytes) -> None:
        if self._args <= 0:
            if line[:1] == b"*":
                try:
                    self._args = int(line[1:].strip())
                except ValueError:
                    self._args = 0
                self._need, self._index, self._command = -1, 0, b""
            return  # an inline command (no framing) or a stray line: not a publication
        if self._need < 0:
            try:
                self._need = int(line[1:].strip()) + 2 if line[:1] == b"$" else -1
            except ValueError:
                self._args = 0
            return
        if self._index == 0 and self._need == len(line):
            self._command = line.strip().upper()
        elif self._command in _PUBLISHING and b'"task": "' in line:
            self._note(line)
        self._need -= len(line)
        if self._need <= 0:
            self._args -= 1
            self._index += 1
            self._need = -1

    def __getattr__(self, name):
        return getattr(self._raw, name)


def message_key(line: bytes) -> str | None:
    """``"task name|task id"`` of a task message as it crosses the broker (kombu's envelope:
    protocol 2 carries both in its headers, protocol 1 in its body); None if it has no id."""
    names, ids = _TASK.findall(line), _ID.findall(line)
    if not ids:
        try:  # protocol 1: {"task": ..., "id": ...} is the body, base64 in the envelope
            body = json.loads(line).get("body", "")
            decoded = base64.b64decode(body) if isinstance(body, str) else b""
            names, ids = _TASK.findall(decoded), _ID.findall(decoded)
        except (ValueError, TypeError, AttributeError):
            return None
    if not ids:
        return None
    name = names[0] if names else b""
    return (name + b"|" + ids[0]).decode(errors="replace")


class Witness:
    """Receives the run's listening socket and serves the broker on it until ``stop``."""

    def __init__(self, channel: socket.socket):
        self.channel = channel
        self.published: list[list] = []
        self.ids: set[str] = set()  # "task|id" of every task message that crossed
        self.overflowed = False  # more than MAX_IDS: then the ids prove nothing either way
        self._server = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="witness", daemon=True)
        self._thread.start()

    def _note(self, line: bytes) -> None:
        now = time.monotonic()
        key = message_key(line)
        with self._lock:
            for name in _TASK.findall(line):
                if len(self.published) < MAX_EVENTS:
                    self.published.append([now, name.decode(errors="replace")])
            if key is not None:
                if len(self.ids) < MAX_IDS:
                    self.ids.add(key)
                else:
                    self.overflowed = True

    def _serve(self) -> None:
        try:
            self.channel.settimeout(30)
            _, fds, _, _ = socket.recv_fds(self.channel, 16, 1)
        except OSError:
            return
        finally:
            self.channel.close()
        if not fds:
            return
        listener = socket.socket(fileno=fds[0])
        base = _server_class()
        server = base(("127.0.0.1", 0))  # binds a throwaway port; replaced just below
        server.socket.close()
        server.socket = listener
        handler = server.RequestHandlerClass
        note = self._note

        class Watched(handler):
            def setup(self):
                super().setup()
                self.rfile = _Tee(self.rfile, note)

        server.RequestHandlerClass = Watched
        self._server = server
        server.serve_forever(poll_interval=0.05)

    def stop(self) -> dict:
        """Stop serving; what the witness saw."""
        if self._server is not None:
            threading.Thread(target=self._server.shutdown, daemon=True).start()
        with self._lock:
            return {"published": list(self.published), "served": self._server is not None,
                    "ids": sorted(self.ids), "overflowed": self.overflowed}
