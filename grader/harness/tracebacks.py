"""Tracebacks trimmed to the student's own files."""

from __future__ import annotations

import traceback
from pathlib import Path

__all__ = ["student_frames", "student_traceback"]


def _inside(filename: str, root: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(root)
    except ValueError:
        return False
    return True


def student_frames(tb, root: Path) -> list[traceback.FrameSummary]:
    """The frames of ``tb`` that lie in files under ``root``."""
    root = Path(root).resolve()
    return [f for f in traceback.extract_tb(tb) if _inside(f.filename, root)]


def format_frames(frames, root: Path) -> str:
    root = Path(root).resolve()
    lines = []
    for frame in frames:
        rel = Path(frame.filename).resolve().relative_to(root)
        lines.append(f'  File "{rel}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    return "\n".join(lines)


def student_traceback(exc: BaseException, root: Path, tb=None) -> str:
    """The exception and the part of its traceback that runs through the student's files.

    A syntax error in one of their files is shown as Python shows it: the file, the line and a
    caret. When none of it runs through their files, the whole traceback: then the fault is
    more likely ours. ``tb`` is the traceback when it is not (or no longer) ``exc``'s own.
    """
    tb = tb or exc.__traceback__
    last = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, SyntaxError) and exc.filename and _inside(exc.filename, Path(root).resolve()):
        rel = Path(exc.filename).resolve().relative_to(Path(root).resolve())
        return last.replace(f'File "{exc.filename}"', f'File "{rel}"')
    frames = student_frames(tb, root)
    if not frames:
        return "".join(traceback.format_exception(type(exc), exc, tb)).strip()
    return f"Traceback (your files only):\n{format_frames(frames, root)}\n{last}"
