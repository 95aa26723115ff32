"""A fake playlist API on loopback: slow, with genres drawn from the run's seed, and a memory.

It answers ``GET /genres?url=<playlist URL>`` like the starter's ``manage.py playlist_api``:
``{"genres": [...]}`` after ``delay`` seconds. Each playlist URL gets its own genres, chosen at
random from the seed, so a hard-coded answer fails. Every question is recorded: when it came,
which URL, and when the answer left.

A playlist can also follow a script, one step per question (``scripted(503, 503, 200)``): a
status code (200 answers its genres at once, anything else an error), ``HANG`` (answers only
after ``hang_for`` seconds, longer than any sane client timeout) or ``DROP`` (closes the
connection without answering). The last step repeats, so ``scripted(503)`` always fails.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .fake import Fake

__all__ = ["DROP", "HANG", "Asked", "PlaylistAPI"]

HANG = "hang"
DROP = "drop"


@dataclass
class Asked:
    playlist_url: str | None  # None when the url parameter was missing or blank
    at: float  # time.monotonic() when the question arrived
    answered: float | None = None  # time.monotonic() when the answer left


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def do_GET(self):
        api = self.server.api
        parts = urlsplit(self.path)
        urls = parse_qs(parts.query).get("url")
        asked = api._note(urls[0] if urls else None)
        step = api._step(urls[0]) if urls else None
        if step == DROP:
            self.close_connection = True
            asked.answered = time.monotonic()
            return  # no status line at all: the client sees the connection closed
        if parts.path.rstrip("/") != "/genres":
            status, payload = 404, {"error": "Not found. Try /genres?url=..."}
        elif not urls:
            status, payload = 400, {"error": "The url parameter is missing."}
        elif step == HANG:
            api._stopping.wait(api.hang_for)
            status, payload = 200, {"genres": api.genres_for(urls[0])}
        elif isinstance(step, int) and step != 200:
            status, payload = step, {"error": f"Scripted answer {step}."}
        else:
            # An event, not time.sleep(): stop() ends the wait at once.
            api._stopping.wait(api.delay if step is None else 0)
            status, payload = 200, {"genres": api.genres_for(urls[0])}
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the caller gave up (its timeout): nothing to answer
        asked.answered = time.monotonic()

    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close() must not wait for a slow answer


class PlaylistAPI:
    """The fake API, served from a thread; use it as a context manager.

    ``url`` is what SPOTIFY_API_URL should be; ``new_playlist()`` makes a playlist URL whose
    genres the API will answer; ``asked`` lists every question so far.
    """

    def __init__(self, seed: int, delay: float = 1.0, hang_for: float = 5.0):
        self.delay = delay
        self.hang_for = hang_for
        self.asked: list[Asked] = []
        self._scripts: dict[str, list] = {}
        self._fake = Fake(seed)
        self._genres: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/genres"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="playlist-api", daemon=True)

    def new_playlist(self) -> str:
        """A playlist URL nobody has asked about yet, with its genres chosen now."""
        with self._lock:
            url = f"https://open.spotify.com/playlist/{self._fake.token(22)}"
            self._genres[url] = self._fake.genres()
            return url

    def scripted(self, *steps) -> str:
        """A new playlist URL whose n-th question gets ``steps[n]`` (the last one repeats)."""
        url = self.new_playlist()
        with self._lock:
            self._scripts[url] = list(steps)
        return url

    def asked_about(self, playlist_url: str) -> list[Asked]:
        with self._lock:
            return [a for a in self.asked if a.playlist_url == playlist_url]

    def _step(self, playlist_url: str):
        """The scripted step for this question (already noted), or None for the default."""
        with self._lock:
            steps = self._scripts.get(playlist_url)
            if not steps:
                return None
            done = sum(1 for a in self.asked if a.playlist_url == playlist_url) - 1
            return steps[min(done, len(steps) - 1)]

    def genres_for(self, playlist_url: str) -> list[str]:
        """The genres the API answers for ``playlist_url`` (chosen on first use)."""
        with self._lock:
            if playlist_url not in self._genres:
                self._genres[playlist_url] = self._fake.genres()
            return list(self._genres[playlist_url])

    def asked_since(self, moment: float) -> list[Asked]:
        with self._lock:
            return [a for a in self.asked if a.at >= moment]

    def _note(self, playlist_url: str | None) -> Asked:
        asked = Asked(playlist_url or None, time.monotonic())
        with self._lock:
            self.asked.append(asked)
        return asked

    def start(self) -> "PlaylistAPI":
        self._thread.start()
        return self

    def stop(self, within: float = 2.0) -> None:
        """Stop serving; never waits longer than ``within`` seconds."""
        self._stopping.set()
        stopper = threading.Thread(target=self._server.shutdown, daemon=True)
        stopper.start()
        stopper.join(within)
        self._server.server_close()
        self._thread.join(max(0.0, within - 0.1))

    def __enter__(self) -> "PlaylistAPI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
