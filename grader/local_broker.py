"""Which broker a student's own stack uses, as `make queue` and `make doctor` look for it.

In order: ``REDIS_URL`` in the environment; ``REDIS_URL`` in the project's ``.env``; the embedded
broker of a `make run` that is running now (it notes its URL in ``.cache/run/``); else
redis://localhost:6379/0, where the project's settings look without ``REDIS_URL``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .exercises import REPO
from .report import shown

__all__ = ["DEFAULT_REDIS", "read_dotenv", "setting", "stack_broker", "note_running_broker",
           "forget_running_broker", "NO_ANSWER", "START_A_BROKER"]

NO_ANSWER = "Nothing answers at {url} ({where})."
START_A_BROKER = ("Start Redis (`redis-cli ping` answers PONG), or `make run`, or `make broker`, "
                  "or set REDIS_URL to your broker.")

DEFAULT_REDIS = "redis://localhost:6379/0"  # what the project's settings use without REDIS_URL
_RUN_FILE = REPO / ".cache" / "run" / "embedded-broker.json"


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file; comments, blank lines and anything else are skipped."""
    values = {}
    if not path.is_file():
        return values
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if line.startswith("#") or not sep or not key.strip().isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def setting(project: Path, name: str) -> tuple[str | None, str]:
    """A variable from the environment, else from the project's .env; and where it was found."""
    if os.environ.get(name):
        return os.environ[name], "your environment"
    return read_dotenv(project / ".env").get(name) or None, shown(project / ".env")


def note_running_broker(url: str) -> None:
    """`make run` says where its embedded broker listens, for `make queue` and `make doctor`."""
    _RUN_FILE.parent.mkdir(parents=True, exist_ok=True)
    _RUN_FILE.write_text(json.dumps({"url": url, "pid": os.getpid()}))


def forget_running_broker() -> None:
    try:
        if json.loads(_RUN_FILE.read_text()).get("pid") == os.getpid():
            _RUN_FILE.unlink()
    except (OSError, ValueError):
        pass


def _running_embedded() -> str | None:
    try:
        noted = json.loads(_RUN_FILE.read_text())
        os.kill(int(noted["pid"]), 0)  # raises when that `make run` is gone
        return str(noted["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stack_broker(project: Path) -> tuple[str, str]:
    """(the broker URL the student's stack uses, where that URL comes from, in words)."""
    url, where = setting(project, "REDIS_URL")
    if url:
        return url, f"REDIS_URL in {where}"
    embedded = _running_embedded()
    if embedded:
        return embedded, "the embedded broker of the `make run` that is running"
    return DEFAULT_REDIS, "REDIS_URL is not set: the settings' default"
