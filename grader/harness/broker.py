"""The broker a check runs against: an embedded fakeredis server, or a real Redis.

The embedded server is fakeredis's TCP server: a real Redis protocol on a loopback port, so the
worker, the web process, beat and Flower all talk to it exactly as they would to Redis.
"""

from __future__ import annotations

import functools
import select
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import redis

__all__ = ["Broker", "BrokerUnreachable", "EmbeddedRedis", "checkable", "open_broker", "ping"]

PING_TIMEOUT = 1.0


class BrokerUnreachable(Exception):
    """The Redis server a URL names does not answer."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


@functools.cache
def _server_class():
    """fakeredis's TCP server, fixed; imported on first use only (it takes ~0.1 s to import)."""
    from fakeredis import TcpFakeServer
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class _Handler(TCPFakeRequestHandler):
        # Without this each MULTI/EXEC pipeline waits ~40 ms for a delayed ACK.
        disable_nagle_algorithm = True

        def handle(self) -> None:
            # The stock loop closes the connection after any error reply (NOSCRIPT, WRONGTYPE),
            # which kombu reports as "Connection closed by server" and reconnects. A real Redis
            # answers the error and keeps the connection: so does this loop.
            # It also wakes every 10 ms per connection to look for replies the server pushes
            # (a blocked BRPOP served, a published message): here a reply pushed wakes the
            # loop itself, so an idle connection costs nothing (measured: a third of the
            # broker's CPU in a run) and a pushed reply goes out at once.
            client, server = self.current_client, self.server
            wake, woken = socket.socketpair()
            wake.setblocking(False)
            woken.setblocking(False)
            watched = None
            try:
                while not server._shutdown_event.is_set():
                    try:
                        sock = client.get_socket()
                        if sock is not watched:
                            watched = sock
                            _wake_on_reply(sock, wake)
                        if client.can_read():
                            try:
                                reply = client.read_response()
                            except ConnectionError:
                                raise
                            except Exception as exc:
                                reply = exc
                            self.writer.dump(reply)
                            continue
                        data = self.rfile.readline()
                        if data == b"":
                            readable, _, _ = select.select([self.connection, woken], [], [],
                                                           0.25)
                            if woken in readable:
                                _drain(woken)
                            if self.connection not in readable:
                                continue
                            data = self.rfile.readline()
                            if data == b"":
                                break  # the peer closed the connection
                        sock.sendall(data)
                    except (ConnectionError, OSError, ValueError):
                        break
            finally:
                wake.close()  # a reply pushed later finds it closed: see _wake_on_reply
                woken.close()

    class _Server(TcpFakeServer):
        def __init__(self, address):
            super().__init__(address)
            self.RequestHandlerClass = _Handler
            self.daemon_threads = True

    return _Server


def _wake_on_reply(sock, wake: socket.socket) -> None:
    """Make each reply put on fakeredis's socket ``sock`` also write a byte to ``wake``."""
    put = type(sock).put_response

    def put_response(msg) -> None:
        put(sock, msg)
        try:
            wake.send(b"!")
        except OSError:  # closed (the connection is over) or full (a wake-up is pending)
            pass

    sock.put_response = put_response


def _drain(woken: socket.socket) -> None:
    try:
        while woken.recv(4096):
            pass
    except OSError:
        pass


class EmbeddedRedis:
    """A fakeredis server on a free loopback port, served from a thread.

    Use it as a context manager; the server, its threads and its port are gone on exit.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._server = _server_class()((host, port))
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="embedded-redis", daemon=True,
        )

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def start(self) -> "EmbeddedRedis":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Broker:
    url: str
    label: str
    embedded: bool


def redact(url: str) -> str:
    """The URL with any password replaced by stars."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def ping(url: str, timeout: float = PING_TIMEOUT) -> redis.Redis:
    """A client for ``url`` that has answered PING within ``timeout`` seconds."""
    if not url.startswith(("redis://", "rediss://")):
        raise BrokerUnreachable(
            f"{redact(url)} is not a Redis URL.",
            "Give BROKER= (or REDIS_URL) as redis://HOST:PORT/DB, for example "
            "redis://127.0.0.1:6379/9, or leave it out to use the embedded broker.")
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise BrokerUnreachable(
            f"Nothing answered at {redact(url)} within {timeout:g} s ({exc}).",
            "Start that Redis (`redis-cli ping` answers PONG when it runs), or leave the "
            "Redis URL out to use the embedded broker.") from None
    return client


def checkable(url: str, named_by: str = "BROKER") -> str:
    """``url`` if a check may empty the database it names; else BrokerUnreachable saying which
    database to give. Database 0 (also what a URL without one means) is where a project keeps
    its own queue and results, so a check never empties it, nor guesses another one."""
    if not url.startswith(("redis://", "rediss://")):
        ping(url)  # raises, with the words for a URL that is not Redis's
    db = urlsplit(url).path.strip("/")
    if db.isdigit() and db != "0":
        return url
    server = urlunsplit(urlsplit(url)._replace(path="", query="", fragment=""))
    where = f"names database {db}" if db else "names no database, which means database 0"
    raise BrokerUnreachable(
        f"{named_by}={redact(url)} {where}, where a project keeps its own queue and results; "
        "a check empties the database it runs on first, so it will not use that one.",
        f"Name a database this check may empty, for example BROKER={redact(server)}/9"
        + (" (BROKER wins over REDIS_URL), or unset REDIS_URL" if named_by == "REDIS_URL"
           else ", or leave BROKER out") + " to use the embedded broker.")


@contextmanager
def open_broker(url: str | None = None, timeout: float = PING_TIMEOUT):
    """The broker for one check run: the embedded server, or the Redis at ``url``.

    A real Redis is used on the database the URL names, flushed first; database 0 is refused
    (see ``checkable``).
    """
    if not url:
        with EmbeddedRedis() as server:
            yield Broker(server.url(0), "embedded fakeredis", True)
        return
    url = checkable(url)
    client = ping(url, timeout)
    client.flushdb()
    client.close()
    yield Broker(url, f"Redis at {redact(url)} (database flushed for this check)", False)
