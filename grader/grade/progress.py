"""A progress line for a grading run: counts, and an estimate of the time left."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """A bar redrawn in place on a terminal; a plain line every ``every`` seconds otherwise."""

    def __init__(self, total: int, stream=None, every: float = 5.0):
        self.total, self.stream, self.every = total, stream or sys.stderr, every
        self.tty = self.stream.isatty()
        self.done = self.cached = self.trouble = 0
        self.started = self._last = time.monotonic()

    def advance(self, cached: bool = False, trouble: bool = False) -> None:
        self.done += 1
        self.cached += cached
        self.trouble += trouble
        now = time.monotonic()
        if self.tty or now - self._last >= self.every or self.done == self.total:
            self._last = now
            self._show(now)

    def _eta(self, now: float) -> str:
        graded = self.done - self.cached
        left = self.total - self.done
        if not left:
            return f"done in {_clock(now - self.started)}"
        if graded < 2:
            return "estimating time left"
        return f"about {_clock((now - self.started) / graded * left)} left"

    def line(self, now: float | None = None) -> str:
        now = now or time.monotonic()
        extra = [f"{self.cached} from cache"] if self.cached else []
        extra += [f"{self.trouble} stopped or crashed"] if self.trouble else []
        text = f"graded {self.done}/{self.total} runs"
        return " · ".join([text, *extra, self._eta(now)])

    def _show(self, now: float) -> None:
        if self.tty:
            width = 24
            filled = int(width * self.done / max(self.total, 1))
            bar = "█" * filled + "·" * (width - filled)
            end = "\n" if self.done == self.total else ""
            self.stream.write(f"\r[{bar}] {self.line(now)}\033[K{end}")
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
