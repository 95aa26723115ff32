"""What a page of the student's site runs in the browser, read without running it.

Checkers judge a page's polling by reading its JavaScript (a student needs no browser or Node to
be checked); their messages say so.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["page_scripts", "no_comments", "code_only"]


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
