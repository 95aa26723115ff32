"""Fencing in one checker run of a student's code: namespaces, read-only folders, limits, env.

Linux only, and each fence is optional: what this machine allows is probed once
(:func:`probe`) and what could not be applied is reported as a note on every run.

- **Network**: a new network namespace with only loopback up, so the embedded broker on
  127.0.0.1 works and nothing else is reachable.
- **Files**: a new mount namespace in which every mount is read-only (the instructor's
  repository, the submissions, the output folder, other runs' folders, but also the Python
  installation, /tmp, /dev/shm and the instructor's home): only the run's own folder and its
  database cache stay writable. The mounts are then locked by a second, nested user namespace,
  so student code cannot unmount them. (The run's user is the instructor's: without this, a
  student's code could write into the interpreter's own library and run in every later run.)
- **Processes**: a new PID namespace whose first process runs the checker: when it ends, the
  kernel ends everything it started, even processes that left its session. It mounts a /proc
  of its own, so the grader's processes (the keeper holds the run's key and the broker
  witness; /proc/PID/mem of a process of the same user is writable) are not there to find. The number of
  processes (and threads) is capped by a pids cgroup when one is writable (as root), else by
  RLIMIT_NPROC, which the kernel counts per user namespace for an ordinary user.
- **Memory, output, core files**: RLIMIT_AS, a capped log (see zygote.py), RLIMIT_CORE 0.
- **Environment**: an allow-list; nothing else of the instructor's environment is passed on.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import resource
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Fences", "PidsCgroup", "probe", "enter_namespaces", "apply_limits", "clean_env"]

_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
# statvfs flag → mount flag that a read-only remount must keep (the kernel locks them).
_KEEP = {2: 2, 4: 4, 8: 8, 1024: 1024, 2048: 2048, 4096: 1 << 21}
_PR_SET_PDEATHSIG = 1
_ENV_KEPT = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_void_p]


def _check(result: int) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@dataclass
class Fences:
    """What this machine lets the grader apply, found by :func:`probe`."""

    namespaces: bool = False
    processes: str = "none"  # "cgroup", "rlimit" or "none"
    cgroup_root: str = ""
    notes: list[str] = field(default_factory=list)


def _new_user_namespace(flags: int) -> None:
    """unshare(``flags`` | a new user namespace) mapping our own ids to 0 inside."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(_CLONE_NEWUSER | flags))
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _mount(source: str | None, target: str, flags: int) -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(), None, flags, None))


def _read_only(path: str) -> None:
    _mount(path, path, _MS_BIND | _MS_REC)
    now = os.statvfs(path).f_flag
    keep = 0
    for stat_flag, mount_flag in _KEEP.items():
        if now & stat_flag:
            keep |= mount_flag
    _mount(None, path, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | keep)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(sock, 0x8914, struct.pack("16sh", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def _mount_points() -> list[str]:
    """Every mount point of this mount namespace, parents first (/proc/self/mountinfo)."""
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
            if point not in points:
                points.append(point)
    return points


def _all_read_only(writable: list[str]) -> None:
    """Every mount read-only but ``writable`` (mounts of their own) and the kernel's own file
    systems (/proc, /sys, /dev: their files are guarded by permissions, not by the mount)."""
    for point in _mount_points():
        if point in writable or point.startswith(("/proc", "/sys")) or point in ("/dev",
                                                                                "/dev/pts"):
            continue
        try:
            now = os.statvfs(point).f_flag
        except OSError:
            continue
        keep = 0
        for stat_flag, mount_flag in _KEEP.items():
            if now & stat_flag:
                keep |= mount_flag
        try:
            _mount(None, point, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | keep)
        except OSError:
            pass  # a mount this namespace may not change: it stays as it was


def own_proc() -> None:
    """In the first process of the new PID namespace: a /proc that shows only its processes.
    Best effort: a container that hides parts of /proc does not allow a new one."""
    try:
        _check(_libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                           None))
    except OSError:
        pass


def enter_namespaces(writable: list[str], read_only: list[str]) -> None:
    """Network, mounts and PIDs of our own; every mount read-only but ``writable``.

    The next process this one forks is the first of the new PID namespace.
    """
    _new_user_namespace(_CLONE_NEWNS | _CLONE_NEWNET)
    _mount(None, "/", _MS_REC | _MS_PRIVATE)
    for path in writable:  # mounts of their own, so that they stay writable below read_only
        _mount(path, path, _MS_BIND)
    for path in read_only:
        if os.path.isdir(path):
            _read_only(path)
    _all_read_only(writable)
    _loopback_up()
    # A user namespace nested in the one that made the mounts locks them.
    _new_user_namespace(_CLONE_NEWNS | _CLONE_NEWPID)


def die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def apply_limits(memory_mb: int, processes: int, use_nproc: bool) -> None:
    limits = [(resource.RLIMIT_AS, memory_mb * 2**20), (resource.RLIMIT_CORE, 0)]
    if use_nproc:
        limits.append((resource.RLIMIT_NPROC, processes))
    for which, value in limits:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def clean_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The whole environment student code gets: an allow-list, never the instructor's own."""
    env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    env.update(PATH=f"{bin_dir}:{_SAFE_PATH}", HOME=str(home), TMPDIR=str(home),
               PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    env.update(extra)
    return env


class PidsCgroup:
    """A pids cgroup (v1) per run, under one folder per grading session: root only."""

    BASE = Path("/sys/fs/cgroup/pids")

    def __init__(self, root: str, name: str, limit: int):
        self.path = Path(root) / name
        self.path.mkdir()
        (self.path / "pids.max").write_text(str(limit))

    def join(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        """End whatever is still in the cgroup, then remove it (for at most 2 s)."""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)

    @classmethod
    def make_root(cls) -> str:
        """The session's folder, or "" when no pids cgroup can be made here."""
        if os.geteuid() != 0 or not (cls.BASE / "cgroup.procs").is_file():
            return ""
        root = cls.BASE / f"encore-grade-{os.getpid()}"
        try:
            root.mkdir(exist_ok=True)
        except OSError:
            return ""
        return str(root)


def probe() -> Fences:
    """Find out, in a throwaway child, which fences this machine allows."""
    fences = Fences()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            enter_namespaces([], [])
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, then exit
            os.write(write_fd, str(exc).encode()[:500])
        finally:
            os._exit(code)
    os.close(write_fd)
    why = os.read(read_fd, 600).decode(errors="replace")
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    fences.namespaces = os.waitstatus_to_exitcode(status) == 0
    if not fences.namespaces:
        fences.notes.append("Student code could reach the network and write outside its own "
                            "folder: this machine does not allow user namespaces "
                            f"({why or 'unshare failed'}).")
    fences.cgroup_root = PidsCgroup.make_root()
    if fences.cgroup_root:
        fences.processes = "cgroup"
    elif fences.namespaces and os.geteuid() != 0:
        fences.processes = "rlimit"  # counted per user namespace: this run's processes only
    else:
        fences.notes.append(
            "The number of processes of a run was not capped: " + (
                "running as root, without a writable pids cgroup." if os.geteuid() == 0 else
                "without a user namespace, RLIMIT_NPROC would count all of this user's "
                "processes."))
    return fences
