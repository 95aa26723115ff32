"""What a page of the student's site runs in the browser, read without running it.

Checkers judge a page's polling by reading its JavaScript (a student needs no browser or Node to
be checked); their messages say so.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["page_scripts", "no_comments", "code_only", "names_state", "waits_on"]


def page_scripts(client, path: str) -> tuple[str, str, list[str]]:
    """(the page's HTML, the JavaScript it runs: its <script src> static files and inline
    scripts, joined; the static file names)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    html = client.get(path).content.decode()
    parts, names = [], []
    for attributes, inline in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
        src = re.search(r"""src=["']?([^"' >]+)""", attributes)
        if not src:
            parts.append(inline)
            continue
        path = urlsplit(src.group(1)).path
        prefix = urlsplit(settings.STATIC_URL).path
        found = path.startswith(prefix) and finders.find(path[len(prefix):])
        if found:
            names.append(path[len(prefix):])
            with open(found, encoding="utf-8") as file:
                parts.append(file.read())
    return html, "\n".join(parts), names


def no_comments(script: str) -> str:
    """The script without its comments: words there are not what the code does."""
    return re.sub(r"/\*.*?\*/|(?<![:\\])//[^\n]*", " ", script, flags=re.S)


def code_only(script: str) -> str:
    """The script without its comments and string contents (they hold words, not logic)."""
    return re.sub(r"""(["'`])(?:\\.|(?!\1).)*\1""", '""', no_comments(script), flags=re.S)


_QUOTED = r"""["']{}["']"""


def names_state(script: str, state: str) -> bool:
    """Whether the script names ``state``: as a string ("REVOKED"), or as the key of an object
    literal ({REVOKED: "Cancelled"}), where a script keeps what to do in each state."""
    return bool(re.search(_QUOTED.format(state), script)
                or re.search(rf"(?:^|[{{,\s]){state}\s*:(?!:)", script, re.M))


def waits_on(script: str, *states: tuple[str, ...]) -> bool:
    """Whether the script polls again only while the state is a waiting one, naming each of
    ``states`` (each a tuple of alternatives, ("STARTED", "PROGRESS")) as such, and so stops on
    any other state, finished ones included, without naming them.

    The ways students write it: a list (["PENDING", "STARTED"].includes(state)), tests that
    the state is not one (state !== "PENDING" && ...), one condition joining equality tests
    (state === "PENDING" || state === "STARTED"), a switch whose waiting cases fall through
    together beside a default, or the keys of an object tested with ``in`` (state in WAITING).
    ``script`` is the page's script without its comments (``no_comments``).
    """
    def covers(found) -> bool:
        return all(any(name in found for name in alternatives) for alternatives in states)

    def listed(name: str) -> bool:
        quoted = _QUOTED.format(name)
        return bool(re.search(rf"\[[^\]]*{quoted}[^\]]*\]", script)
                    or re.search(rf"!==?\s*{quoted}|{quoted}\s*!==?", script))

    if all(any(listed(name) for name in alternatives) for alternatives in states):
        return True
    equal = re.compile(r"""===?\s*["'](\w+)["']|["'](\w+)["']\s*===?""")
    for condition in re.split(r"[;{}]", script):
        if "||" in condition and covers({a or b for a, b in equal.findall(condition)}):
            return True
    if re.search(r"\bdefault\s*:", script):
        for run in re.finditer(r"""(?:\bcase\s*["']\w+["']\s*:\s*)+""", script):
            if covers(set(re.findall(r"""["'](\w+)["']""", run.group(0)))):
                return True
    for name, body in re.findall(
            r"\b(?:const|let|var)\s+(\w+)\s*=\s*(?:Object\.freeze\(\s*)?\{([^{}]*)\}", script):
        keys = set(re.findall(r"""(?:^|[{,\s])["']?(\w+)["']?\s*:""", body))
        tested = re.search(rf"\bin\s+{name}\b|\bhasOwn(?:Property)?\(\s*{name}\b|"
                           rf"\b{name}\s*\.\s*hasOwnProperty\(|"
                           rf"\bkeys\(\s*{name}\s*\)\s*\.\s*includes\(", script)
        if tested and covers(keys):
            return True
    return False
