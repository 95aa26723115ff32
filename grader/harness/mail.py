"""The outbox: emails the project sends, captured with Django's locmem backend."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from .senders import ThreadName, sealed

__all__ = ["CapturingBackend", "Outbox", "SentEmail", "BACKEND"]

BACKEND = "grader.harness.mail.CapturingBackend"

_lock = threading.Condition()


@dataclass
class SentEmail:
    message: mail.EmailMessage
    thread: ThreadName  # its name, and which thread it was

    @property
    def from_worker(self) -> bool:
        return self.thread != threading.main_thread().name


class CapturingBackend(EmailBackend):
    """Django's locmem backend that also notes which thread sent each email."""

    def send_messages(self, messages):
        count = super().send_messages(messages)
        thread = threading.current_thread()
        with _lock:
            for message in messages:
                _sent((message, thread.name, thread.ident))
            _lock.notify_all()
        return count


# What was sent, as (message, thread name, thread ident): only send_messages adds, so a
# project cannot add an email "sent" by another thread, nor change who sent one.
_sent = sealed(CapturingBackend.send_messages)


def _emails(start: int) -> list[SentEmail]:
    return [SentEmail(message, ThreadName(name, ident))
            for message, name, ident in _sent()[start:]]


class Outbox:
    """The emails sent since this outbox was opened.

    Opening one clears nothing: an email sent between two checks is never lost, and a check
    that needs an earlier check's emails keeps that check's outbox.
    """

    def __init__(self):
        with _lock:
            self._start = len(_sent())

    def _since(self) -> list[SentEmail]:
        return _emails(self._start)

    @property
    def sent(self) -> list[SentEmail]:
        with _lock:
            return list(self._since())

    @property
    def messages(self) -> list[mail.EmailMessage]:
        return [s.message for s in self.sent]

    def __len__(self) -> int:
        return len(self.sent)

    def wait_for(self, count: int = 1, within: float = 5.0) -> list[SentEmail]:
        """Wait until at least ``count`` emails were sent, or ``within`` seconds pass.

        Returns what was sent by then; the caller judges whether that is enough.
        """
        deadline = time.monotonic() + within
        with _lock:
            while len(self._since()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                _lock.wait(left)
            return list(self._since())

    def settle(self, quiet: float = 0.3, within: float = 5.0) -> list[SentEmail]:
        """Wait until no new email has arrived for ``quiet`` seconds (at most ``within``)."""
        deadline = time.monotonic() + within
        seen = -1
        with _lock:
            while len(self._since()) != seen and time.monotonic() < deadline:
                seen = len(self._since())
                _lock.wait(min(quiet, max(0.0, deadline - time.monotonic())))
            return list(self._since())
