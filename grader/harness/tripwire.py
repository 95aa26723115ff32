"""Tripwires for one graded run: what the student's code does to the harness, told at once.

Student code shares this interpreter, so nothing here is a wall: a student who finds this module
in memory can work around it. These tripwires make the easy ways loud, and tell the parent
*while it happens* over a pipe of their own (written with ``os.write``, not through anything
Python code could replace), so a run that then silences them has already been reported:

- an audit hook (``sys.addaudithook``: it cannot be removed) installed before the project loads,
  reporting the student's own code when it opens the checker's or the harness's files or
  ``/proc/*/fd``, imports pytest or the grader, walks frames (``sys._getframe``, ``f_code``,
  ``tb_frame``...), asks the garbage collector for objects, loads ctypes, sets a trace
  function, compiles or executes text, or swaps a function's code or an object's class;
- a snapshot of the harness's, the checkers' and pytest's modules and classes (their functions
  and the modules they hold: a checker's `time`), taken before the project loads,
  compared each time a check is reported: anything replaced (``_record``, ``runtest``,
  ``emit``...) is reported;
- ``guard``: when a record is signed (plugin._signing), whether the student's code is on the
  stack, or another thread, and whether the harness's emit is what asked;
- what a checker carries from one check to the next (a module-level ``posted = {}``: the
  valid POST's outbox, the task's id): each such dict is swapped for a ``Carried`` before the
  project loads, which keeps its items where only the checker's own code, called by pytest
  (or the harness), can write them. A view that put a made-up outbox in checker 02's
  ``posted`` passed "the worker sends one email" with no email sent.

"Student code" is a frame whose file lies in the project or another folder the run may write
(code written there and imported), or code without a file (``exec``) run from there. Code the
student calls (Django, logging, pathlib) is not theirs: an honest project using those never
trips a wire.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import MutableMapping
import sysconfig
import threading
import types

__all__ = ["Carried", "Tripwires"]

_FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames", "gc.get_objects",
                           "gc.get_referrers", "gc.get_referents", "sys.settrace",
                           "sys.setprofile", "exec", "compile", "ctypes.dlopen",
                           "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof",
                           "ctypes.call_function", "ctypes.string_at", "ctypes.PyObj_FromPtr",
                           "code.__new__", "function.__new__"})
_PATH_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_WATCHED = _FRAME_EVENTS | _PATH_EVENTS | {"import", "object.__getattr__", "object.__setattr__"}
_SECRET_ATTRS = frozenset({"f_code", "tb_frame", "gi_frame", "cr_frame", "ag_frame", "gi_code",
                           "cr_code", "ag_code", "f_locals"})
_DESCRIPTORS = (property, classmethod, staticmethod)
# Opening a file through pathlib, io or shutil is the caller's doing; through the harness is not.
_STDLIB = tuple(sorted({sysconfig.get_paths()["stdlib"] + "/", "inspect.py"}))
_OURS = ("grader", "pytest", "_pytest", "pluggy")
# What Python itself adds to a class as it is used: copy and pickle cache __slotnames__.
_CACHED_BY_PYTHON = frozenset({"__slotnames__"})
# The harness's run object and its watch of the tasks: swapped for fakes, they would lie.
_HELD = frozenset({"_run", "_watch"})
# Modules whose code a forger would replace to change a verdict (and every grader.harness
# module loaded by then: the watch's judge, the clock, the broker's helpers...).
SNAPSHOT = ("grader.harness.plugin", "grader.harness.fixtures", "grader.harness.failures",
            "grader.harness.tracebacks", "grader.harness.tripwire", "pytest", "_pytest.runner",
            "_pytest.python", "_pytest.reports", "_pytest.main", "_pytest.skipping",
            "_pytest.outcomes", "_pytest.fixtures", "_pytest.nodes", "pluggy._callers",
            "pluggy._hooks", "pluggy._manager", "json", "json.encoder", "builtins", "os",
            "threading", "time")


def _writes(args: tuple) -> bool:
    """Whether an "open" audit event (path, mode, flags) opens for writing."""
    mode, flags = (args + (None, None))[1:3]
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))


def _impls(caller) -> list[tuple]:
    """A pytest hook's implementations, in the order they are called, with what each calls."""
    return [(impl, impl.function, impl.plugin) for impl in caller.get_hookimpls()]


def _carrying(owner: str, allowed: tuple, refuse, getframe):
    """A checker's carried items, in this generator's frame (reaching it sets off the audit
    hook): ``("get", None)`` answers them all (a copy); ``("set", {key: value})`` and
    ``("del", key)`` change them, when the code asking is the checker's own, called by pytest
    or the harness, on the thread the run started on."""
    kept, main, ident, helpers = {}, threading.get_ident(), threading.get_ident, _CARRIED_HELPERS
    answer = None
    while True:
        verb, what = yield answer
        answer = None
        if verb == "get":
            answer = dict(kept)
            continue
        # 0: this generator, 1: a Carried method (_ask is the generator's send), then helpers
        frame = getframe(1)
        while frame is not None and frame.f_code.co_filename.endswith(helpers):
            frame = frame.f_back
        ok = frame is not None and frame.f_code.co_filename == owner and ident() == main
        while ok and frame is not None and frame.f_code.co_filename == owner:
            frame = frame.f_back  # the checker's own frames: the test, its helpers
        while ok and frame is not None:  # the rest: pytest, pluggy and the grader only
            ok = frame.f_code.co_filename.startswith(allowed)
            frame = frame.f_back
        if not ok:
            refuse()
        elif verb == "set":
            kept.update(what)
        elif verb == "del":
            kept.pop(what, None)


# Frames between a Carried method and whoever asked: its own, and MutableMapping.update's.
_CARRIED_HELPERS = ("/grader/harness/tripwire.py", "/_collections_abc.py")


class Carried(MutableMapping):
    """What a checker keeps for its later checks (``posted = {}``), writable by it alone.

    A dict at module level of a checker is readable and writable by the student's code (through
    sys.modules); this one refuses a write that does not come from the checker's own code as
    pytest (or the harness) runs it, and the tripwires report it. Reads are as a dict's."""

    __slots__ = ("_ask", "_name")

    def __init__(self, ask, name: str):
        self._ask, self._name = ask, name

    def __getitem__(self, key):
        return self._ask(("get", None))[key]

    def __setitem__(self, key, value):
        self._ask(("set", {key: value}))

    def __delitem__(self, key):
        self._ask(("del", key))

    def __iter__(self):
        return iter(self._ask(("get", None)))

    def __len__(self):
        return len(self._ask(("get", None)))

    def update(self, *args, **kwargs):
        self._ask(("set", dict(*args, **kwargs)))

    def clear(self):
        for key in list(self):
            del self[key]

    def __repr__(self):
        return f"Carried({self._ask(('get', None))!r})"


class Tripwires:
    """Armed once per run, before the project loads; ``fd`` is the tripwire pipe's write end.

    ``own``: the run's other writable folders (its scratch folder, its database cache): code
    written there at run time and imported is the student's too. (While grading, every other
    folder is read-only: sandbox.py.)
    """

    def __init__(self, fd: int, project: str, repo: str, own: list[str] = ()):
        self.fd, self.reported = fd, 0
        self.project = project.rstrip("/") + "/"
        self.theirs = (self.project, *(p.rstrip("/") + "/" for p in own))
        self.guarded_dirs = tuple(f"{repo}/{name}/" for name in ("grader", "exercises", "tests"))
        self.main = threading.get_ident()
        self._busy: set[int] = set()
        self._seen: set[str] = set()
        self._snapshot: dict | None = None
        self._items: list = []
        self._hooks: list = []
        self._carried: list = []  # (module namespace, name, Carried, its _ask)
        self._write = os.write  # captured: a replaced os.write does not silence us
        self._ident = threading.get_ident
        self._getframe = sys._getframe
        self._dumps = json.dumps
        sys.addaudithook(self._hook)

    # -- reporting --------------------------------------------------------------------------

    def report(self, kind: str, what: str, where: str = "") -> None:
        key = f"{kind}|{what}|{where}"
        if key in self._seen or len(self._seen) > 200:
            return
        self._seen.add(key)
        self.reported += 1
        line = self._dumps({"event": "tripwire", "kind": kind, "what": what[:300],
                            "where": where}) + "\n"
        try:
            self._write(self.fd, line.encode())
        except OSError:
            pass

    def alive(self) -> bool:
        """Whether the tripwire pipe is still ours: the harness says so in its end record."""
        try:
            self._write(self.fd, b'{"event": "alive"}\n')
            return True
        except OSError:
            return False

    # -- whose code is this? -----------------------------------------------------------------

    def _theirs(self, filename: str) -> bool:
        return filename.startswith(self.theirs)

    def _culprit(self, frame, through=("inspect.py",)):
        """The frame that caused an event, if it is the student's: the innermost frame, seen
        through code without a file (exec) and helpers like ``inspect``."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith("<frozen"):
                return None  # the import system, compiling or running a module it imports
            if not (name.startswith("<") or name.endswith(through)
                    or name.startswith(through)):
                return frame if self._theirs(name) else None
            frame = frame.f_back
        return None

    def _where(self, frame) -> str:
        name = frame.f_code.co_filename
        if name.startswith(self.project):
            name = name[len(self.project):]
        return f"{name}, line {frame.f_lineno}"

    def where(self, frame) -> str:
        """Where ``frame`` is, as a student reads it."""
        return self._where(frame)

    # -- the audit hook ------------------------------------------------------------------------

    def _hook(self, event: str, args: tuple) -> None:
        if event not in _WATCHED:
            return
        me = self._ident()
        if me in self._busy:
            return
        self._busy.add(me)
        try:
            self._check(event, args)
        except Exception:  # noqa: BLE001 - a tripwire must never break an honest run
            pass
        finally:
            self._busy.discard(me)

    def _check(self, event: str, args: tuple) -> None:
        if event == "object.__getattr__" and args[1] not in _SECRET_ATTRS:
            return
        if event == "object.__setattr__" and args[1] not in ("__code__", "__globals__",
                                                              "__class__", "__defaults__",
                                                              "__kwdefaults__"):
            return
        frame = self._getframe(2)
        if event in _PATH_EVENTS:
            path = args[0]
            if isinstance(path, int) or path is None:
                return
            if event == "open" and _writes(args):
                return  # writing there is the read-only mounts' business, not a forgery
            path = os.fsdecode(path)
            if not path.startswith("/"):
                path = os.path.join(os.getcwd(), path)
            path = os.path.normpath(path)
            secret = (path.startswith(self.guarded_dirs) or path.startswith("/proc/")
                      and path.rsplit("/", 1)[-1] in ("fd", "mem", "environ", "maps")
                      or "/fd/" in path and path.startswith(("/proc/", "/dev/fd")))
            if secret and (culprit := self._culprit(frame, through=_STDLIB)):
                self.report("file", f"{event} {path}", self._where(culprit))
            return
        if event == "import":
            name = args[0] or ""
            if name.split(".")[0] in _OURS:
                culprit = self._culprit(frame, through=("inspect.py", "importlib/__init__.py"))
                if culprit is None:  # `import x` runs through the frozen import system
                    culprit = self._importer(frame)
                if culprit:
                    self.report("import", name, self._where(culprit))
            return
        through = ("inspect.py", "ctypes/__init__.py") if event.startswith("ctypes") else \
            ("inspect.py",)
        culprit = self._culprit(frame, through)
        if culprit:
            what = event if event.startswith(("sys.", "gc.", "ctypes", "exec", "compile")) \
                else f"{event} {args[1]}"
            self.report("introspection", what, self._where(culprit))

    def _importer(self, frame):
        """The frame whose ``import`` statement started the import system (skipping it)."""
        while frame is not None and frame.f_code.co_filename.startswith(("<frozen", "<")):
            frame = frame.f_back
        if frame is not None and self._theirs(frame.f_code.co_filename):
            return frame
        return None

    # -- the snapshot ------------------------------------------------------------------------

    def take_snapshot(self, items=()) -> None:
        """Every function and class of the modules a forger would patch, as they are now, and
        what each check (pytest's ``items``) holds to run.
        (A function's code swapped in place sets off the audit hook instead.)"""
        me = self._ident()
        self._busy.add(me)
        try:
            self._items = [(item, type(item), {k: v for k, v in vars(item).items()
                                               if callable(v)}) for item in items]
            # pytest's hooks, each with its implementations in order: a plugin registered
            # later (a makereport that answers "passed") changes them.
            hooks = items[0].config.pluginmanager.hook if items else None
            self._hooks = [(hooks, name, caller, _impls(caller))
                           for name, caller in list(vars(hooks).items())
                           if hasattr(caller, "get_hookimpls")] if hooks else []
            held = []
            checkers = [n for n, m in list(sys.modules.items())
                        if "/exercises/" in (getattr(m, "__file__", None) or "")
                        or n.startswith("grader.harness.")]
            self._carry([sys.modules[n] for n in checkers if n in sys.modules
                         and "/exercises/" in (getattr(sys.modules[n], "__file__", None) or "")])
            for name in dict.fromkeys(SNAPSHOT + tuple(checkers)):
                module = sys.modules.get(name)
                if module is None:
                    continue
                for key, value in list(vars(module).items()):
                    if not (callable(value) or isinstance(value, _DESCRIPTORS)
                            or isinstance(value, types.ModuleType) or key in _HELD):
                        continue  # data may change on its own; code (and a module) may not
                    held.append((vars(module), key, value, f"{name}.{key}"))
                    if isinstance(value, type) and getattr(value, "__module__", "") == name:
                        members = value.__dict__
                        for attr, member in list(members.items()):
                            if callable(member) or isinstance(member, _DESCRIPTORS):
                                held.append((members, attr, member, f"{name}.{key}.{attr}"))
                        held.append((members, None, frozenset(members), f"{name}.{key}"))
            self._snapshot = held
        finally:
            self._busy.discard(me)

    def _carry(self, modules) -> None:
        """Swap each empty dict at module level of a checker for a ``Carried``: what a check
        keeps there for the later ones (the valid POST's outbox, the task's id)."""
        import _pytest
        import pluggy
        allowed = tuple(os.path.dirname(m.__file__) + "/" for m in (_pytest, pluggy)) + (
            self.guarded_dirs[0], os.path.dirname(os.__file__) + "/runpy.py", "<frozen runpy>")
        for module in modules:
            namespace, owner = vars(module), module.__file__
            for key, value in list(namespace.items()):
                if type(value) is not dict or value or key.startswith("__"):
                    continue
                label = f"{module.__name__}.{key}"
                refuse = (lambda label=label: self.report(
                    "tampered", f"what the checker keeps for its later checks ({label}) was "
                    "written by code other than the checker's", self._writer()))
                carrying = _carrying(owner, allowed, refuse, self._getframe)
                next(carrying)
                carried = Carried(carrying.send, label)
                namespace[key] = carried
                self._carried.append((namespace, key, carried, carried._ask))

    def _writer(self) -> str:
        """Where the student's code is on the stack, if it is."""
        frame = self._getframe(1)
        while frame is not None:
            if self._theirs(frame.f_code.co_filename):
                return self._where(frame)
            frame = frame.f_back
        return ""

    def tampered(self) -> None:
        """Report whatever was replaced or added since the snapshot (each change once)."""
        if self._snapshot is None:
            return
        for namespace, key, carried, ask in self._carried:
            if namespace.get(key) is not carried or carried._ask is not ask:
                self.report("tampered", f"what the checker keeps for its later checks "
                            f"({carried._name}) was replaced")
        for item, kind, held in self._items:  # runtest, its function... set on the item
            for key, value in list(vars(item).items()):
                if callable(value) and held.get(key) is not value:
                    self.report("tampered", f"what the check {item.name} runs ({key}) was "
                                "replaced")
            if type(item) is not kind:
                self.report("tampered", f"the check {item.name} was given another class")
        for hooks, name, caller, impls in self._hooks:
            if getattr(hooks, name, None) is not caller or _impls(caller) != impls:
                self.report("tampered", f"pytest's hook {name} was changed (a plugin added or "
                            "removed, or an implementation replaced)")
        for namespace, key, value, label in self._snapshot:
            if key is None:
                if len(namespace) != len(value):
                    added = [a for a in list(namespace)
                             if a not in value and a not in _CACHED_BY_PYTHON]
                    if added:
                        self.report("tampered", f"{label}.{added[0]} was added")
            elif namespace.get(key) is not value:
                self.report("tampered", f"{label} was replaced")

    def guard(self, frame) -> None:
        """Called when the harness signs a record (``frame``: its caller): report student code
        on the stack, or another thread."""
        me = self._ident()
        if me != self.main:
            self.report("tampered", "a record was written from a thread the harness did "
                        "not start it from")
        self._busy.add(me)
        try:
            while frame is not None:
                if self._theirs(frame.f_code.co_filename):
                    self.report("tampered", "the student's code wrote a result record",
                                self._where(frame))
                    break
                frame = frame.f_back
        finally:
            self._busy.discard(me)
