"""Telling whether two Redis URLs name the same server (and database), however they are spelt.

``redis://localhost`` and ``redis://127.0.0.1:6379/`` are the same place; a URL a project
wrote into its code is not the one this run's broker has (its port is random).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = ["Location", "first_url", "location", "same_database", "same_server"]

_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_SCHEMES = {"redis": 6379, "rediss": 6379}


@dataclass(frozen=True)
class Location:
    scheme: str
    hosts: frozenset[str]  # every address the host name stands for
    port: int
    db: str
    password: str | None


def first_url(value) -> str | None:
    """The URL Celery connects to first: a broker setting may be a list or ``a;b`` failover."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if not value:
        return None
    return str(value).split(";")[0].strip() or None


def _hosts(host: str) -> frozenset[str]:
    host = host.lower().strip("[]")
    if host in ("", "localhost", "localhost.localdomain"):
        return _LOOPBACK
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return frozenset({host})  # a name: the same only when spelt the same
    return frozenset({str(address)})


def location(url) -> Location | None:
    """Where a Redis URL points, or None when it is not a Redis URL at all."""
    url = first_url(url)
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _SCHEMES:
        return None
    # As kombu reads it: "", "/" and "/0" are database 0; "/0/" is no database at all.
    db = parts.path[1:] if parts.path.startswith("/") else parts.path
    db = db or "0"
    if not db.isdigit():
        return None
    db = str(int(db))
    password = unquote(parts.password) if parts.password else None
    return Location(parts.scheme, _hosts(parts.hostname or ""),
                    port or _SCHEMES[parts.scheme], db, password)


def same_server(a, b) -> bool:
    """Whether two Redis URLs reach the same server (any database)."""
    first, second = location(a), location(b)
    return bool(first and second and first.scheme == second.scheme
                and first.hosts & second.hosts and first.port == second.port)


def same_database(a, b) -> bool:
    """Whether two Redis URLs reach the same database of the same server."""
    return same_server(a, b) and location(a).db == location(b).db
