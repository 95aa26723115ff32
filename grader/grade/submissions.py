"""Finding the submissions of a class, unpacking them safely, and finding the project in each.

A submission is a folder or an archive (.zip, .tar.gz, .tgz, .tar) per student, holding a
whole clone of the workshop repository (the project in starter_project/) or just the project
(manage.py at the top). Each is copied or unpacked into the grader's work folder first: links
and entries that point outside are left out, sizes and file counts are capped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..exercises import REPO

__all__ = ["Submission", "Limits", "find_submissions", "materialize", "read_roster",
           "archive_project", "content_hash", "unpack_project"]

ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache",
                ".mypy_cache", "__MACOSX", ".cache", ".idea", ".vscode"}
SKIPPED_FILES = re.compile(r"(\.pyc|\.pyo|db\.sqlite3|celerybeat-schedule.*|\.DS_Store)$")
# What a whole clone holds that the checkers depend on: compared with the instructor's copy.
WATCHED = ("exercises", "grader", "tests")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 100 * 2**20
    max_files: int = 5000


@dataclass
class Submission:
    source: Path
    name: str  # the student, as the instructor reads it
    key: str  # the same, safe in a file name
    student_id: str = ""
    project: Path | None = None
    layout: str = ""  # "project", "repository", or "" when not gradable
    problem: str = ""  # why it cannot be graded, in plain words
    notes: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    content_hash: str = ""

    @property
    def gradable(self) -> bool:
        return self.project is not None


class _Refused(Exception):
    pass


def _stem(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def safe_key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"


def read_roster(path: Path) -> dict[str, tuple[str, str]]:
    """folder or archive name → (student name, student id), from a CSV with a header row.

    Columns: ``submission`` (or ``folder``), ``name``, and optionally ``id``.
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    roster = {}
    for row in rows:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        folder = row.get("submission") or row.get("folder")
        if not folder:
            raise ValueError(f"{path} needs a column named 'submission' (or 'folder') "
                             "holding each folder or archive name, and a column 'name'.")
        roster[_stem(Path(folder))] = (row.get("name") or folder, row.get("id", ""))
    return roster


def find_submissions(root: Path, roster: dict | None = None) -> list[Submission]:
    """One Submission per folder or archive in ``root``, in name order; names made unique."""
    found, seen = [], set()
    for entry in sorted(root.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
            continue
        stem = _stem(entry)
        name, student_id = (roster or {}).get(stem, (stem, ""))
        key = safe_key(name)
        while key in seen:
            key += "_"
        seen.add(key)
        submission = Submission(entry, name, key, student_id)
        if roster is not None and stem not in roster:
            submission.notes.append(f"{entry.name} is not in the roster: named after itself.")
        if entry.is_file() and not entry.name.lower().endswith(ARCHIVES):
            submission.problem = (f"{entry.name} is neither a folder nor an archive this "
                                  "grader opens (.zip, .tar.gz, .tgz, .tar).")
        found.append(submission)
    return found


# -- copying and unpacking ---------------------------------------------------------------------

def _relative(name: str) -> PurePosixPath | None:
    """The entry's path inside the submission ("." for its top), or None when it would land
    outside."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        return None
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")] or ["."])


def _skipped(rel: PurePosixPath) -> bool:
    return any(p in SKIPPED_DIRS for p in rel.parts[:-1]) or bool(SKIPPED_FILES.search(rel.name))


class _Writer:
    """Writes files below ``dest``, counting files and bytes against the limits."""

    def __init__(self, dest: Path, limits: Limits):
        self.dest, self.limits = dest, limits
        self.files = self.bytes = 0
        self.left_out: list[str] = []

    def write(self, rel: PurePosixPath, source) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise _Refused(f"it holds more than {self.limits.max_files} files")
        target = self.dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            while chunk := source.read(1 << 16):
                self.bytes += len(chunk)
                if self.bytes > self.limits.max_bytes:
                    raise _Refused(f"it unpacks to more than {self.limits.max_bytes // 2**20} MB")
                out.write(chunk)


def _copy_folder(source: Path, writer: _Writer) -> None:
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
            path = Path(folder, name)
            rel = PurePosixPath(path.relative_to(source).as_posix())
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                writer.left_out.append(f"{rel} (a link)")
            elif stat.S_ISREG(info.st_mode) and not _skipped(rel):
                with open(path, "rb") as handle:
                    writer.write(rel, handle)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


def _unzip(archive: Path, writer: _Writer) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            rel = _relative(info.filename)
            mode = info.external_attr >> 16
            if rel is None:
                writer.left_out.append(f"{info.filename} (points outside the submission)")
            elif stat.S_ISLNK(mode):
                writer.left_out.append(f"{info.filename} (a link)")
            elif not info.is_dir() and str(rel) != "." and not _skipped(rel):
                with zipped.open(info) as handle:
                    writer.write(rel, handle)


def _untar(archive, writer: _Writer) -> None:
    """``archive``: a path, or a file object."""
    opened = (tarfile.open(fileobj=archive) if hasattr(archive, "read")
              else tarfile.open(archive))
    with opened as tarred:
        for member in tarred:
            rel = _relative(member.name)
            if rel is None:
                writer.left_out.append(f"{member.name} (points outside the submission)")
            elif member.issym() or member.islnk():
                writer.left_out.append(f"{member.name} (a link to {member.linkname})")
            elif member.isfile() and not _skipped(rel):
                writer.write(rel, tarred.extractfile(member))
            elif str(rel) == ".":
                continue
            elif not member.isdir() and not member.isfile():
                writer.left_out.append(f"{member.name} (not a file)")


# -- finding the project ------------------------------------------------------------------------

def _is_project(folder: Path) -> bool:
    return (folder / "manage.py").is_file()


def _locate(root: Path) -> tuple[Path | None, str, str, str]:
    """(project folder, layout, where it was found, problem)."""
    folder, hops = root, []
    for _ in range(3):
        if _is_project(folder):
            if not (folder / "config" / "settings.py").is_file():
                return None, "", "", ("It has manage.py but no config/settings.py: this is "
                                      "not the Encore project.")
            return folder, "project", "/".join(hops), ""
        if _is_project(folder / "starter_project"):
            return folder / "starter_project", "repository", "/".join(hops), ""
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir():
            hops.append(entries[0].name)
            folder = entries[0]
            continue
        break
    if not any(root.rglob("*")):
        return None, "", "", "The submission is empty."
    deeper = sorted(str(p.parent.relative_to(root)) or "." for p in root.rglob("manage.py"))
    if deeper:
        return None, "", "", (
            f"Its manage.py is in {deeper[0]}/, which is neither the top of the submission "
            "nor starter_project/. Hand in the project folder itself (manage.py at the top) or "
            "the whole repository (starter_project/manage.py).")
    top = ", ".join(sorted(p.name for p in folder.iterdir())[:6])
    return None, "", "", ("There is no manage.py in it: expected the project (manage.py at "
                          "the top) or the whole repository (starter_project/manage.py). "
                          f"It holds: {top}.")


def _integrity(clone: Path) -> list[str]:
    """Checker and test files of a whole clone that differ from the instructor's."""
    changed = []
    for top in WATCHED:
        for path in sorted((clone / top).rglob("*")) if (clone / top).is_dir() else []:
            if not path.is_file() or _skipped(PurePosixPath(path.relative_to(clone).as_posix())):
                continue
            rel = path.relative_to(clone)
            if top == "exercises" and path.name != "check.py":
                continue
            mine = REPO / rel
            if not mine.is_file():
                changed.append(f"{rel} (added)")
            elif mine.read_bytes() != path.read_bytes():
                changed.append(f"{rel} (changed)")
    return changed


def content_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(project.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(project).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def materialize(submission: Submission, dest: Path, limits: Limits = Limits()) -> None:
    """Copy or unpack ``submission`` into ``dest`` and find its project (or say why not)."""
    if submission.problem:
        return
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    writer = _Writer(dest, limits)
    source = submission.source
    try:
        if source.is_dir():
            _copy_folder(source, writer)
        elif source.name.lower().endswith(".zip"):
            _unzip(source, writer)
        else:
            _untar(source, writer)
    except _Refused as exc:
        submission.problem = f"It was not unpacked: {exc}."
        return
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        submission.problem = f"The archive cannot be opened ({exc})."
        return
    if writer.left_out:
        shown = ", ".join(writer.left_out[:5]) + (" ..." if len(writer.left_out) > 5 else "")
        submission.notes.append(f"Left out {len(writer.left_out)} unsafe entr"
                                f"{'y' if len(writer.left_out) == 1 else 'ies'}: {shown}.")
    project, layout, hops, problem = _locate(dest)
    if problem:
        submission.problem = problem
        return
    if hops:
        submission.notes.append(f"Graded from inside {hops}/ (the submission is one folder "
                                "deeper than expected).")
    submission.project, submission.layout = project, layout
    if layout == "repository":
        submission.integrity = _integrity(project.parent)
    submission.content_hash = content_hash(project)


def archive_project(project: Path) -> bytes:
    """The project as tar.gz bytes, for a grading worker on another machine."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        for path in sorted(project.rglob("*")):
            if path.is_file():
                tarred.add(path, arcname=path.relative_to(project).as_posix())
    return buffer.getvalue()


def unpack_project(data: bytes, dest: Path, limits: Limits = Limits()) -> None:
    """The other end of :func:`archive_project`, with the same care as a student's archive."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _untar(io.BytesIO(data), _Writer(dest, limits))
    except _Refused as exc:
        raise ValueError(f"The project was not unpacked: {exc}.") from None
