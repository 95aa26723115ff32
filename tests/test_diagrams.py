"""The lessons' Mermaid diagrams have up-to-date images, and the lessons show them.

GitHub draws a ```mermaid block itself; other places (an editor's preview, a PDF, another forge)
show the source text. So each block also has an SVG drawn from it by `make diagrams`, and the
lesson shows that image above the block, which is folded into <details>. These tests need no
browser: they read the hash each image keeps of the source it was drawn from.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import diagrams

BLOCKS = diagrams.all_blocks()
IMAGES = diagrams.LESSONS / diagrams.IMAGES
IDS = [f"{b.lesson.name}:{b.index}" for b in BLOCKS]


def _svg(block) -> str:
    target = IMAGES / block.name
    return target.read_text(encoding="utf-8") if target.is_file() else ""


def test_the_lessons_have_diagrams():
    assert BLOCKS, "no ```mermaid block in lessons/*.md: has the fence syntax changed?"


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_every_diagram_has_an_image_of_its_current_source(block):
    svg = _svg(block)
    assert svg, (f"{block.where} has no image: lessons/{diagrams.IMAGES}/{block.name} is "
                 "missing. Run `make diagrams` and commit the SVG.")
    drawn_from = diagrams.svg_attribute(svg, "data-source-sha256")
    assert drawn_from == block.sha256, (
        f"{block.where} changed since lessons/{diagrams.IMAGES}/{block.name} was drawn: "
        "run `make diagrams` and commit the new SVG.")


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_every_lesson_shows_the_image_above_its_diagram(block):
    lines = block.lesson.read_text(encoding="utf-8").splitlines()
    first, last = diagrams.wrapper_span(lines, block)
    shown = first < block.start and lines[last].strip() == "</details>"
    assert shown, (
        f"{block.where} is not shown as an image: run `make diagrams WRAP=1`, which puts "
        f"{diagrams.IMAGES}/{block.name} above it and folds the block into <details>.")
    expected = diagrams.image_line(block, diagrams.svg_attribute(_svg(block), "data-alt") or "")
    assert lines[first] == expected, (
        f"{block.where}: the image link above it is out of date (file name or alt text): run "
        f"`make diagrams`.\n  has:  {lines[first]}\n  want: {expected}")


def test_no_image_is_left_without_its_diagram():
    wanted = {block.name for block in BLOCKS}
    stray = sorted(p.name for p in IMAGES.glob("*.svg") if p.name not in wanted)
    assert not stray, (f"lessons/{diagrams.IMAGES} has images that no ```mermaid block draws: "
                       f"{', '.join(stray)}. `make diagrams` removes them; commit that.")


# ---- the wrapping itself, on a made-up lesson ------------------------------------------------

LESSON = """# Lesson 99 · Made up

Before the diagram:
```mermaid
flowchart LR
    a[Start] --> b["The [end]"]
```
After it.

````markdown
```mermaid
graph LR
    not --> a_diagram
```
````

```mermaid
sequenceDiagram
    A->>B: hi
```
"""


def _fake_images(lesson: Path, out: Path) -> list:
    """An SVG for each block of ``lesson``, as `make diagrams` writes them (no drawing)."""
    out.mkdir(parents=True)
    blocks = diagrams.find_blocks(lesson)
    for block in blocks:
        (out / block.name).write_text(
            f'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'data-source-sha256="{block.sha256}" data-alt="A [{block.name}] diagram"></svg>\n')
    return blocks


def test_wrapping_shows_the_image_and_keeps_the_source(tmp_path):
    lesson = tmp_path / "99-made-up.md"
    lesson.write_text(LESSON)
    blocks = _fake_images(lesson, tmp_path / diagrams.IMAGES)
    assert [b.name for b in blocks] == ["99-made-up-flowchart.svg", "99-made-up-sequence.svg"]

    assert diagrams.wrap(lesson, tmp_path / diagrams.IMAGES, everywhere=True)
    text = lesson.read_text()
    assert ("Before the diagram:\n\n"
            "![A \\[99-made-up-flowchart.svg\\] diagram](images/diagrams/99-made-up-flowchart.svg)"
            "\n\n<details><summary>Diagram source (Mermaid)</summary>\n\n```mermaid\n"
            "flowchart LR\n") in text
    assert '```\n\n</details>\n\nAfter it.' in text
    assert text.count("<details>") == 2 and text.endswith("</details>\n")
    assert [(b.source, b.name) for b in diagrams.find_blocks(lesson)] == [
        (b.source, b.name) for b in blocks]

    assert not diagrams.wrap(lesson, tmp_path / diagrams.IMAGES, everywhere=True)
    assert not diagrams.wrap(lesson, tmp_path / diagrams.IMAGES, everywhere=False)
    assert lesson.read_text() == text


def test_a_run_without_wrap_only_updates_what_is_wrapped(tmp_path):
    lesson = tmp_path / "99-made-up.md"
    lesson.write_text(LESSON)
    out = tmp_path / diagrams.IMAGES
    _fake_images(lesson, out)
    assert not diagrams.wrap(lesson, out, everywhere=False)
    assert lesson.read_text() == LESSON

    diagrams.wrap(lesson, out, everywhere=True)
    svg = out / "99-made-up-sequence.svg"
    svg.write_text(svg.read_text().replace('data-alt="A [', 'data-alt="Another ['))
    assert diagrams.wrap(lesson, out, everywhere=False)
    assert "![Another \\[99-made-up-sequence.svg\\] diagram]" in lesson.read_text()


def test_wrapping_refuses_a_stale_image(tmp_path):
    lesson = tmp_path / "99-made-up.md"
    lesson.write_text(LESSON)
    _fake_images(lesson, tmp_path / diagrams.IMAGES)
    lesson.write_text(LESSON.replace("A->>B: hi", "A->>B: hello"))
    with pytest.raises(diagrams.DiagramError, match="stale"):
        diagrams.wrap(lesson, tmp_path / diagrams.IMAGES, everywhere=True)
    assert "hello" in lesson.read_text() and "<details>" not in lesson.read_text()
