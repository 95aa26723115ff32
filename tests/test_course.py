"""The course holds together: every exercise has its parts, links land, lesson code is real code.

Each failure names the file, the rule and the fix.
"""

import ast
import re
import subprocess
from pathlib import Path

import pytest

from grader.exercises import REPO, all_exercises
from grader.stage import committed_course

EXERCISES = all_exercises()
IDS = [e.name for e in EXERCISES]
_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)
_LESSON_ARG = re.compile(r'lesson="([^"]+)"')
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(lesson: Path) -> set[str]:
    text = _FENCE.sub("", lesson.read_text())  # a "# comment" in code is not a heading
    return {anchor(h) for h in _HEADING.findall(text)}


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_exercise_has_its_parts(exercise):
    for part in ("exercise.toml", "check.py", "README.md", "hints.md"):
        assert (exercise.path / part).is_file(), f"{exercise.path}/{part} is missing: add it"
    assert exercise.meta.get("title"), f"{exercise.path}/exercise.toml needs a title"
    assert exercise.lesson.is_file(), f"{exercise.lesson} is missing: write the lesson"
    assert exercise.solution.is_dir(), f"{exercise.solution} is missing: add the solution"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_check_has_a_title_for_the_student(exercise):
    tree = ast.parse(exercise.checker.read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            doc = ast.get_docstring(node)
            assert doc and len(doc.splitlines()[0]) <= 90, (
                f"{exercise.checker}: {node.name} needs a one-line docstring of at most 90 "
                "characters: it is the line the student reads")


def _lesson_links():
    for file in [*REPO.glob("exercises/*/check.py"), *REPO.glob("grader/harness/*.py")]:
        for link in _LESSON_ARG.findall(file.read_text()):
            yield file, link


@pytest.mark.parametrize("file,link", list(_lesson_links()),
                         ids=lambda v: v if isinstance(v, str) else v.parent.name)
def test_lesson_links_land_on_a_heading(file, link):
    path, _, fragment = link.partition("#")
    lesson = REPO / "lessons" / (path or f"{file.parent.name}.md")
    assert lesson.is_file(), f"{file} links to {lesson.name}, which does not exist"
    if fragment:
        assert fragment in anchors(lesson), (
            f"{file} links to {lesson.name}#{fragment}, and no heading there has that anchor: "
            f"rename the heading or the link (anchors: {sorted(anchors(lesson))})")


def _code_blocks():
    """Python blocks in lessons whose first line names a file: `# config/celery.py`."""
    for exercise in EXERCISES:
        if not exercise.lesson.is_file():
            continue
        for language, body in _FENCE.findall(exercise.lesson.read_text()):
            first = body.splitlines()[0] if body.strip() else ""
            match = re.match(r"(?:#|//|\{#)\s*([\w/.]+\.(?:py|html|js))\s*(?:#\})?\s*$", first)
            if language in ("python", "py", "html", "js", "javascript") and match:
                yield pytest.param(exercise, match[1], body,
                                   id=f"{exercise.lesson.name}:{match[1]}:{len(body)}")


@pytest.mark.parametrize("exercise,name,body", list(_code_blocks()))
def test_lesson_code_is_the_solution_code(exercise, name, body, stages):
    """Every line of a file-captioned block appears in that file at the lesson's stage."""
    stage = stages[int(exercise.number)]
    target = stage / name
    assert target.is_file(), (f"{exercise.lesson.name} shows {name}, which the project at "
                              f"stage {exercise.number} does not have")
    actual = {line.strip() for line in target.read_text().splitlines()}
    for line in body.splitlines()[1:]:
        text = line.strip()
        if text and not re.match(r"^(#|//|\{#)?\s*\.\.\.", text):
            assert text in actual, (f"{exercise.lesson.name}: the block for {name} has "
                                    f"{text!r}, which is not in {name} at stage "
                                    f"{exercise.number}: copy the code from solutions/")


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_starter_marks_what_each_exercise_changes(exercise):
    starter = committed_course() / "starter_project"
    changed = [f.relative_to(exercise.solution) for f in exercise.solution.rglob("*")
               if f.is_file() and (starter / f.relative_to(exercise.solution)).is_file()]
    marker = f"TODO(exercise {exercise.number})"
    if changed:
        marked = [f for f in changed if marker in (starter / f).read_text()]
        assert marked, (f"solution {exercise.name} changes {', '.join(map(str, changed))}, "
                        f"and none of them has a {marker} comment in starter_project/")


def test_no_generated_files_are_committed():
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    stray = [name for name in tracked
             if Path(name).name in ("db.sqlite3", ".env") or name.endswith(".pyc")
             or "__pycache__" in name or Path(name).name.startswith("celerybeat-schedule")]
    assert not stray, f"these generated files are committed: git rm --cached {' '.join(stray)}"


def test_lessons_index_lists_every_lesson():
    index = (REPO / "lessons" / "README.md").read_text()
    for lesson in sorted((REPO / "lessons").glob("[0-9][0-9]-*.md")):
        assert lesson.name in index, f"lessons/README.md does not link {lesson.name}"


def test_make_help_lists_every_target():
    makefile = (REPO / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)[1].split()
    documented = set(re.findall(r"^([a-z-]+):.*## ", makefile, re.MULTILINE))
    assert set(phony) == documented, f"targets without a ## description: {set(phony) - documented}"
