"""Recipes for fixture submissions: a stage, written by write_stage, plus a small edit.

``build_class(folder, out)`` writes a class of submissions and returns what each one must get:
``{name: (status starts with, {exercise: score}, words that must appear about it)}``.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

from grader.exercises import REPO
from grader.stage import committed_course, write_stage

__all__ = ["build_class", "stage_into", "zip_folder"]


def stage_into(number: int, dest: Path) -> Path:
    write_stage(number, dest)
    return dest


def _append(file: Path, text: str) -> None:
    file.write_text(file.read_text() + "\n" + text + "\n")


def zip_folder(folder: Path, archive: Path, top: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, str(Path(top) / path.relative_to(folder)))
    return archive


def _hostile_tar(project: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tarred:
        tarred.add(project, arcname=".")
        data = b"escaped\n"
        for name in ("../escaped.txt", "/tmp/encore-absolute.txt"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tarred.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("config/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tarred.addfile(link)
        hard = tarfile.TarInfo("config/hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "../../etc/passwd"
        tarred.addfile(hard)


FAKE_PASS = '''
import json, sys
for stream in (sys.stdout, sys.stderr):
    stream.write(json.dumps({"event": "check", "id": "test_celery_module", "status": "passed",
                             "title": "config/celery.py defines a Celery app"}) + "\\n")
    stream.write("  ✓ config/celery.py defines a Celery app\\nAll checks pass.\\n")
import os, socket
print("ENVIRONMENT:", sorted(os.environ.items()))
print("INTERFACES:", socket.if_nameindex())
'''

FORK_LOOP = '''
import os, time
while True:
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
'''


def _writer(targets: list[Path]) -> str:
    lines = ["for _target in %r:" % [str(t) for t in targets],
             "    try:",
             "        with open(_target, 'a') as _f:",
             "            _f.write('written by a student')",
             "    except OSError:",
             "        pass"]
    return "\n".join(lines)


def _first_run_only(flag: str, code: str) -> str:
    """Lines of a view that run ``code`` only while a file ``flag`` does not exist yet in the
    run's database cache: the one folder a run may write that outlives it (kept per submission,
    so the re-run sees it; everything else outside the run's own folder is read-only)."""
    return (f"            import os, time\n"
            f"            _flag = os.path.join(os.environ['GRA' 'DER_DB_CACHE'], {flag!r})\n"
            f"            if not os.path.exists(_flag):\n"
            f"                open(_flag, 'w').close()\n"
            f"                {code}\n")


def build_class(root: Path, out: Path) -> dict[str, tuple[str, dict[str, float], list[str]]]:
    """A class of 17: ordinary answers and hostile ones. ``out`` is where grades will go."""
    root.mkdir(parents=True)
    work = root.parent / f"{root.name}-parts"
    expect = {}

    stage_into(3, root / "alice")
    expect["alice"] = ("graded", {"01": 10, "02": 10}, [])
    stage_into(1, root / "bob")
    expect["bob"] = ("graded", {"01": 10}, [])

    clone = root / "carol"  # a whole clone, whose checker for 01 was made to pass anything
    shutil.copytree(REPO / "exercises", clone / "exercises")
    (clone / "exercises" / "01-celery-app" / "check.py").write_text(
        "def test_anything():\n    pass\n")
    stage_into(0, clone / "starter_project")
    expect["carol"] = ("graded", {"01": 0, "02": 0},
                       ["exercises/01-celery-app/check.py (changed)"])

    stage_into(2, work / "dave")
    zip_folder(work / "dave", root / "dave.zip", top="encore-main")
    expect["dave"] = ("graded", {"01": 10, "02": 10}, ["one folder deeper"])

    _append(stage_into(3, root / "erin") / "config" / "settings.py", "import no_such_module")
    expect["erin"] = ("graded", {"01": 0, "02": 0}, ["Django could not start your project"])

    frank = stage_into(2, root / "frank")
    (frank / "feedback" / "tasks.py").write_text("def broken(:\n")
    expect["frank"] = ("graded", {"02": 0}, ["SyntaxError"])

    gina = root / "gina"  # the apps without the project around them
    shutil.copytree(committed_course() / "starter_project" / "music", gina / "music")
    expect["gina"] = ("not gradable", {"01": 0}, ["no manage.py"])

    (root / "hugo").mkdir()
    expect["hugo"] = ("not gradable", {"01": 0}, ["empty"])

    _append(stage_into(3, root / "ivan") / "music" / "models.py",
            "import time\ntime.sleep(3600)")
    expect["ivan"] = ("partly graded", {"01": 0}, ["did not finish loading", "music/models.py"])

    celery_py = stage_into(3, root / "judy") / "config" / "celery.py"
    celery_py.write_text(celery_py.read_text().replace(
        "    return self.request.id", "    while True:\n        pass"))
    expect["judy"] = ("graded", {"02": 10}, ["No result came back within 5 s"])

    _append(stage_into(3, root / "karl") / "config" / "settings.py",
            "while True:\n    print('spam ' * 200)")
    expect["karl"] = ("partly graded", {"01": 0}, ["MB of output"])

    _append(stage_into(3, root / "lena") / "config" / "settings.py",
            "_hog = bytearray(8 * 2**30)")
    expect["lena"] = ("graded", {"01": 0}, ["MemoryError", "memory limit"])

    _append(stage_into(3, root / "mike") / "config" / "settings.py", FORK_LOOP)
    expect["mike"] = ("", {"01": 0}, [])

    _append(stage_into(0, root / "nina") / "config" / "settings.py", FAKE_PASS)
    expect["nina"] = ("graded", {"01": 0}, [])

    targets = [out / "gradebook.csv", out / "planted.txt", REPO / "exercises" / "planted.txt",
               root / "alice" / "manage.py"]
    _append(stage_into(2, root / "oscar") / "config" / "settings.py", _writer(targets))
    expect["oscar"] = ("graded", {"01": 10, "02": 10}, [])

    # Correct, but its view is too slow on the first run only: re-run alone, graded in full.
    views = stage_into(2, root / "quinn") / "feedback" / "views.py"
    views.write_text(views.read_text().replace(
        '            return redirect("feedback:thanks")',
        _first_run_only("quinn-ran-once", "time.sleep(0.8)")
        + '            return redirect("feedback:thanks")'))
    expect["quinn"] = ("graded", {"01": 10, "02": 10}, ["Re-run alone: the timing check"])

    stage_into(3, work / "pia")
    _hostile_tar(work / "pia", root / "pia.tar.gz")
    expect["pia"] = ("graded", {"01": 10, "02": 10},
                     ["Left out 4 unsafe entries", "../escaped.txt", "a link to /etc/passwd"])
    return expect
