"""The lessons' Mermaid diagrams as SVG images, so they show outside GitHub: `make diagrams`.

Each ```mermaid block in lessons/*.md stays the one source of truth. This script draws it with
Mermaid's own JavaScript (the pinned npm package, unpacked into .cache/npm) in Debian's Chromium,
driven by Playwright, and writes lessons/images/diagrams/<lesson>-<kind>.svg: plain SVG text
(no HTML inside), a white background, Arial-sized text, and the sha256 of the block's source in
a data-source-sha256 attribute, so tests/test_diagrams.py can tell when an image is stale. A
block whose image is already up to date is not drawn again.

`--wrap` also puts each image in its lesson, just above the block, and folds the block into
<details><summary>Diagram source (Mermaid)</summary>. Running it again changes nothing; once a
block is wrapped, every run keeps its image link and alt text up to date. The alt text is the
block's accTitle/accDescr when it has them, else a one-line summary made from the diagram.

Needs: npm (Node.js), `apt-get install chromium`, and requirements-browser.txt in .venv (`make
diagrams` installs that).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import signal
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The same Chromium, with the same switches, as the screenshots.
from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

LESSONS = REPO / "lessons"
IMAGES = "images/diagrams"  # under the lessons' folder, as the lessons link it
CACHE = REPO / ".cache" / "npm"

MERMAID_VERSION = "12.3.0"
# What `npm pack mermaid@12.3.0` reports: a republished or altered package is refused.
MERMAID_INTEGRITY = ("sha512-4113TdXeLAsMruJ79OpFL5O8+LTFXhQqZ260rF3tgUmiNAtRm4Uume04I+65PRN6"
                     "yZ69J4f8rVYWW8zRk65UYw==")
BUNDLE = CACHE / f"mermaid-{MERMAID_VERSION}" / "mermaid.min.js"

# Arial's metrics: what most viewers have (Liberation Sans has the same widths on Linux), so
# text measured here fits its boxes there too.
FONT = 'Arial, "Liberation Sans", Helvetica, sans-serif'
CONFIG = {
    "startOnLoad": False,
    "securityLevel": "strict",
    "theme": "default",
    "htmlLabels": False,  # SVG text, not HTML in a foreignObject: shows in any SVG viewer
    "fontFamily": FONT,
    "themeVariables": {"fontFamily": FONT, "background": "#ffffff"},
    "deterministicIds": True,
    "look": "classic",
    "handDrawnSeed": 1,  # some shapes are drawn by rough.js, which is random without a seed
    "flowchart": {"htmlLabels": False, "useMaxWidth": False},
    "sequence": {"useMaxWidth": False},
}
# Change this when the drawing changes in a way CONFIG does not show: every image is redrawn.
DRAWING = "1"
RENDERER = hashlib.sha256(json.dumps([MERMAID_VERSION, CONFIG, DRAWING], sort_keys=True)
                          .encode()).hexdigest()[:12]
RENDER_SECONDS = 30  # for one diagram

SUMMARY = "<details><summary>Diagram source (Mermaid)</summary>"
_OPEN = re.compile(r"^(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_IMAGE_LINE = re.compile(r"^!\[(?:[^\]\\]|\\.)*\]\((?:\.?/)?" + re.escape(IMAGES)
                         + r"/[^)\s]+\.svg\)\s*$")
_KINDS = {"graph": "flowchart", "flowchart-elk": "flowchart", "sequencediagram": "sequence",
          "classdiagram": "class", "statediagram": "state", "statediagram-v2": "state",
          "erdiagram": "er", "journey": "journey", "gitgraph": "git"}


class DiagramError(Exception):
    """Something a person must fix; the message says what."""


@dataclass
class Block:
    lesson: Path
    index: int  # 1 for the lesson's first mermaid block
    start: int  # 0-based line of the opening fence
    end: int  # 0-based line of the closing fence
    source: str  # the lines between the fences, each ending in "\n"
    name: str  # the image's file name, without a folder

    @property
    def sha256(self) -> str:
        return source_sha256(self.source)

    @property
    def where(self) -> str:
        return f"{shown(self.lesson)}, diagram {self.index} (line {self.start + 1})"


def shown(path: Path) -> Path:
    """``path`` as a person reads it: from the repository when it is in it."""
    try:
        return path.relative_to(REPO)
    except ValueError:
        return path


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def kind(source: str) -> str:
    """The diagram's type as a short word for its file name: flowchart, sequence, state..."""
    lines = iter(source.splitlines())
    for line in lines:
        text = line.strip()
        if text == "---":  # front matter (a title, a config): skip to its end
            for inner in lines:
                if inner.strip() == "---":
                    break
            continue
        if not text or text.startswith("%%"):
            continue
        word = text.split()[0].lower()
        return _KINDS.get(word, re.sub(r"[^a-z0-9]+", "-", word.replace("diagram", "")).strip("-")
                          or "diagram")
    return "diagram"


def find_blocks(lesson: Path, text: str | None = None) -> list[Block]:
    """The ```mermaid blocks of one lesson, in order; fences inside other fences don't count."""
    if text is None:
        text = lesson.read_text(encoding="utf-8")
    lines = text.splitlines()
    blocks: list[Block] = []
    taken: dict[str, int] = {}
    i = 0
    while i < len(lines):
        opening = _OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, language = opening[1], opening[2].lower()
        close = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), len(lines))
        if language == "mermaid":
            source = "".join(f"{line}\n" for line in lines[i + 1:end])
            base = f"{lesson.stem.lower()}-{kind(source)}"
            taken[base] = taken.get(base, 0) + 1
            name = base if taken[base] == 1 else f"{base}-{taken[base]}"
            blocks.append(Block(lesson, len(blocks) + 1, i, end, source, f"{name}.svg"))
        i = end + 1
    return blocks


def all_blocks(lessons: Path = LESSONS) -> list[Block]:
    return [block for lesson in sorted(lessons.glob("*.md")) for block in find_blocks(lesson)]


def svg_attribute(svg: str, name: str) -> str | None:
    """An attribute of an SVG file's root element, unescaped; None when it has none."""
    root = re.search(r"<svg\b[^>]*>", svg)
    found = root and re.search(rf'\s{re.escape(name)}="([^"]*)"', root[0])
    return html.unescape(found[1]) if found else None


def markdown_alt(text: str) -> str:
    """Text that Markdown shows as it is inside ![...]: one line, brackets and marks escaped."""
    text = " ".join(text.split())
    return re.sub(r"([\\\[\]*`<])", r"\\\1", text)


def image_line(block: Block, alt: str) -> str:
    """The Markdown that shows ``block``'s image, from its lesson (lessons/*.md)."""
    return f"![{markdown_alt(alt or 'Diagram')}]({IMAGES}/{block.name})"


# ---- getting Mermaid -----------------------------------------------------------------------

def ensure_mermaid() -> Path:
    """The pinned mermaid.min.js, fetched with npm into .cache/npm the first time."""
    if BUNDLE.is_file():
        return BUNDLE
    npm = shutil.which("npm")
    if not npm:
        raise DiagramError("npm is missing: install Node.js and npm (`sudo apt-get install npm`), "
                           "then run `make diagrams` again.")
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"Fetching mermaid {MERMAID_VERSION} with npm into {shown(CACHE)}...")
    with tempfile.TemporaryDirectory(prefix="mermaid-", dir=CACHE) as tmp:
        try:
            done = subprocess.run([npm, "pack", f"mermaid@{MERMAID_VERSION}", "--json",
                                   "--pack-destination", tmp, "--fetch-retries=1",
                                   "--fetch-retry-mintimeout=2000",
                                   "--fetch-retry-maxtimeout=5000"],
                                  capture_output=True, text=True, timeout=300, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise DiagramError(f"npm took more than 5 minutes to fetch mermaid@{MERMAID_VERSION}"
                               ": are you offline? Try again when the npm registry answers.")
        tarball = Path(tmp) / f"mermaid-{MERMAID_VERSION}.tgz"
        if done.returncode or not tarball.is_file():
            noise = ("complete log", "proxy", "npm help", "A complete")
            said = [line for line in done.stderr.splitlines()
                    if line.strip() not in ("", "npm error", "npm ERR!")
                    and not any(word in line for word in noise)][:4]
            raise DiagramError(f"npm could not fetch mermaid@{MERMAID_VERSION} (offline?):\n  "
                               + "\n  ".join(said or ["(npm said nothing)"]))
        digest = hashlib.sha512(tarball.read_bytes()).digest()
        if f"sha512-{base64.b64encode(digest).decode()}" != MERMAID_INTEGRITY:
            raise DiagramError(f"mermaid-{MERMAID_VERSION}.tgz from npm is not the package this "
                               "script was pinned to (its sha512 differs): not using it.")
        with tarfile.open(tarball) as archive:
            script = archive.extractfile("package/dist/mermaid.min.js")
            licence = archive.extractfile("package/LICENSE")
            BUNDLE.parent.mkdir(parents=True, exist_ok=True)
            (BUNDLE.parent / "LICENSE").write_bytes(licence.read())
            partial = BUNDLE.with_suffix(".partial")
            partial.write_bytes(script.read())
            partial.replace(BUNDLE)
    return BUNDLE


# ---- drawing -------------------------------------------------------------------------------

# In the page: draw one diagram, make the SVG stand alone, and sum it up in one line.
_DRAW = """
async ({id, text, config, sha256, renderer, made_by, seconds}) => {
  let plain = false;  // set by describe() when the alt text says no more than the type
  const deadline = new Promise((_, fail) => setTimeout(
    () => fail(new Error(`Mermaid took more than ${seconds} s`)), seconds * 1000));
  const draw = async () => {
    mermaid.initialize({...config, deterministicIDSeed: id});
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const {svg} = await mermaid.render(id, text);
    const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
    const root = doc.documentElement;
    if (root.nodeName !== 'svg') throw new Error('Mermaid did not return an SVG');
    const box = (root.getAttribute('viewBox') || '').split(/[\\s,]+/).map(Number);
    if (box.length !== 4 || box.some(isNaN)) throw new Error('the SVG has no viewBox');
    const [x, y, w, h] = box;
    const round = (n) => String(Math.ceil(n));
    // A fixed size (an <img> of width="100%" has none) and a white background, so it reads on
    // a dark page too.
    root.setAttribute('width', round(w));
    root.setAttribute('height', round(h));
    root.style.removeProperty('max-width');
    root.style.setProperty('background-color', 'white');
    const ns = 'http://www.w3.org/2000/svg';
    const paper = doc.createElementNS(ns, 'rect');
    for (const [k, v] of [['x', x], ['y', y], ['width', w], ['height', h]])
      paper.setAttribute(k, String(v));
    paper.setAttribute('fill', '#ffffff');
    root.insertBefore(paper, root.firstChild);  // first: under everything, whatever the type
    // Mermaid puts each word of a label in a <tspan> of its own (" run", " this"). Browsers keep
    // the space at the start of each; other renderers (librsvg: Inkscape, pandoc's PDFs, many
    // viewers) drop it and run the words together. Join neighbours that look the same.
    const same = (a, b) => a.attributes.length === b.attributes.length &&
      [...a.attributes].every((at) => b.getAttribute(at.name) === at.value);
    for (const span of [...root.getElementsByTagNameNS(ns, 'tspan')]) {
      const next = span.nextSibling;
      if (!next || next.nodeName !== 'tspan' || !same(span, next)) continue;
      if ([span, next].some((t) => [...t.childNodes].some((c) => c.nodeType !== 3))) continue;
      next.textContent = span.textContent + next.textContent;
      span.remove();
    }
    for (const text of root.getElementsByTagNameNS(ns, 'text'))
      if ([...text.getElementsByTagNameNS(ns, 'tspan')]
          .some((t) => !t.firstElementChild && /^\\s|\\s$/.test(t.textContent)))
        text.setAttributeNS('http://www.w3.org/XML/1998/namespace', 'xml:space', 'preserve');
    const alt = describe(diagram);
    if (!root.querySelector(':scope > title')) {
      const title = doc.createElementNS(ns, 'title');
      title.textContent = alt;
      root.insertBefore(title, root.firstChild);
    }
    root.setAttribute('data-source-sha256', sha256);
    root.setAttribute('data-renderer', renderer);
    root.setAttribute('data-alt', alt);
    root.insertBefore(doc.createComment(made_by), root.firstChild);
    const html = root.getElementsByTagNameNS('*', 'foreignObject').length;
    return {svg: new XMLSerializer().serializeToString(doc), alt, html, plain};
  };
  try {
    return await Promise.race([draw(), deadline]);
  } catch (error) {
    return {error: String(error && error.message || error)};
  }

  function clean(label) {
    return String(label ?? '').replace(/<br\\s*\\/?>/gi, ', ').replace(/<[^>]*>/g, '')
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
      .replace(/\\s+/g, ' ').trim();
  }
  function first(label) {
    return clean(String(label ?? '').split(/<br\\s*\\/?>/i)[0]);
  }
  function list(items) {
    return items.length < 2 ? items.join('')
      : items.slice(0, -1).join(', ') + ' and ' + items[items.length - 1];
  }
  function describe(diagram) {
    const db = diagram.db;
    const given = [db.getAccTitle?.(), db.getAccDescription?.()].map(clean).filter(Boolean);
    if (given.length) return given.join(': ');
    const type = String(diagram.type || '');
    if (type.startsWith('flowchart') && db.getVertices && db.getEdges) {
      const vertices = db.getVertices();
      const node = (id) => first((vertices.get ? vertices.get(id) : vertices[id])?.text ?? id);
      const groups = (db.getSubGraphs?.() || []).filter((g) => g.nodes && g.nodes.length);
      if (groups.length) {
        const order = [...(vertices.keys ? vertices.keys() : Object.keys(vertices))];
        const parts = groups.map((g) => `${clean(g.title || g.id)} (` +
          g.nodes.filter((n) => !groups.some((o) => o.id === n))
            .sort((a, b) => order.indexOf(a) - order.indexOf(b)).map(node).join(', ') + ')');
        return `Flowchart in ${groups.length} groups: ${parts.join('; ')}`;
      }
      const edges = db.getEdges().map((e) => `${node(e.start)} → ${node(e.end)}` +
        (clean(e.text) ? `: “${clean(e.text)}”` : ''));
      return `Flowchart: ${edges.join('; ')}`;
    }
    if (type === 'sequence' && db.getActorKeys && db.getMessages) {
      const actors = db.getActorKeys().map((k) => clean(db.getActor(k).description || k));
      const steps = db.getMessages();
      const notes = steps.filter((m) => m.type === 2).map((m) => clean(m.message));
      const said = steps.filter((m) => m.type !== 2 && clean(m.message));
      let text = `Sequence diagram between ${list(actors)}`;
      if (notes.length > 1) return `${text}, in ${notes.length} parts: “${notes.join('”; “')}”`;
      if (notes.length) return `${text}: “${notes[0]}”`;
      if (said.length === 1) text += `, one message: “${clean(said[0].message)}”`;
      if (said.length > 1) text += `, ${said.length} messages from “${clean(said[0].message)}”` +
        ` to “${clean(said[said.length - 1].message)}”`;
      return text;
    }
    const names = {er: 'Entity-relationship diagram', pie: 'Pie chart', gantt: 'Gantt chart',
                   gitGraph: 'Git graph', mindmap: 'Mind map', xychart: 'Chart'};
    const name = type.replace(/[-_]?v\\d+$/, '').replace(/diagram$/i, '');
    plain = true;
    return names[name] || `${name.charAt(0).toUpperCase()}${name.slice(1)} diagram`;
  }
}
"""

# In the page: does Chromium have a font with Arial's widths? Without one, boxes are sized for
# another font and text spills out of them in viewers that have Arial.
_HAS_ARIAL = """() => {
  const width = (font) => { const c = document.createElement('canvas').getContext('2d');
    c.font = font; return c.measureText('Encore diagrams WWW iii 0123').width; };
  return ['monospace', 'serif'].every((f) => width(`16px Arial, ${f}`) !== width(`16px ${f}`));
}"""


def up_to_date(block: Block, out: Path) -> bool:
    target = out / block.name
    if not target.is_file():
        return False
    svg = target.read_text(encoding="utf-8")
    return (svg_attribute(svg, "data-source-sha256") == block.sha256
            and svg_attribute(svg, "data-renderer") == RENDERER)


def _stop_chromium(stopped: threading.Event) -> None:
    """Kill the Chromium processes this process started (the watchdog of a hung drawing)."""
    stopped.set()
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            children.setdefault(int(rest.rsplit(")", 1)[1].split()[1]), []).append(int(pid))
        except (OSError, ValueError, IndexError):
            continue
    family, todo = [], [os.getpid()]
    while todo:
        kids = children.get(todo.pop(), [])
        family += kids
        todo += kids
    for pid in family:
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _draw_one(browser, bundle: Path, block: Block) -> dict:
    """Mermaid's drawing of ``block`` in a page of its own: {svg, alt, html, plain} or {error}.

    A fresh page each time: Mermaid numbers some ids with counters that live as long as the
    page, so a diagram's SVG would depend on those drawn before it.
    """
    page = browser.new_page()
    try:
        page.set_default_timeout(RENDER_SECONDS * 1000)
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(path=str(bundle))
        if not page.evaluate(_HAS_ARIAL):
            raise DiagramError("Chromium has no font with Arial's widths, so the text would not "
                               "fit its boxes elsewhere: `sudo apt-get install fonts-liberation`.")
        made_by = (f" Drawn by scripts/diagrams.py (mermaid {MERMAID_VERSION}) from "
                   f"{block.lesson.name}, diagram {block.index}: edit the lesson, then run "
                   "`make diagrams`. ")
        return page.evaluate(_DRAW, {
            "id": f"mermaid-{Path(block.name).stem}",  # a CSS id can't start with a digit
            "text": block.source, "config": CONFIG, "sha256": block.sha256,
            "renderer": RENDERER, "made_by": made_by, "seconds": RENDER_SECONDS})
    finally:
        if not page.is_closed():
            page.close()


def draw(blocks: list[Block], out: Path) -> tuple[list[Path], list[str]]:
    """Draw ``blocks`` into ``out``; (files written, one message per diagram that failed)."""
    if not Path(CHROMIUM).is_file():
        raise DiagramError(f"No Chromium at {CHROMIUM}: `sudo apt-get install chromium` "
                           "(or set CHROMIUM=).")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise DiagramError("Playwright is missing: `make diagrams` installs "
                           "requirements-browser.txt.")
    bundle = ensure_mermaid()
    written, failed = [], []
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     timeout=60_000)
        try:
            for block in blocks:
                # The page's own deadline can't end a script that never yields: this one can.
                stopped = threading.Event()
                watchdog = threading.Timer(RENDER_SECONDS + 15, _stop_chromium, [stopped])
                watchdog.daemon = True
                watchdog.start()
                try:
                    result = _draw_one(browser, bundle, block)
                except PlaywrightError as error:
                    if stopped.is_set():
                        raise DiagramError(f"{block.where}: Chromium was still drawing it after "
                                           f"{RENDER_SECONDS + 15} s, and was stopped.")
                    result = {"error": str(error).splitlines()[0]}
                finally:
                    watchdog.cancel()
                if "error" in result:
                    failed.append(f"{block.where}: {result['error']}")
                    continue
                if result["html"]:
                    failed.append(f"{block.where}: the drawing has HTML labels (foreignObject), "
                                  "which most SVG viewers leave blank")
                    continue
                target = out / block.name
                target.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n{result["svg"]}\n',
                                  encoding="utf-8")
                written.append(target)
                if result["plain"]:
                    print(f"tip: {block.where} gets only \"{result['alt']}\" as alt text: "
                          "say what it shows in an `accTitle:` line (and `accDescr:`)")
        finally:
            browser.close()
    return written, failed


# ---- putting the images in the lessons -----------------------------------------------------

def wrapper_span(lines: list[str], block: Block) -> tuple[int, int]:
    """The lines [first, last] that the block and its image/details wrapper (if any) take."""
    first, last = block.start, block.end

    def before(i: int) -> int:
        i -= 1
        while i >= 0 and not lines[i].strip():
            i -= 1
        return i

    i = before(first)
    if i >= 0 and lines[i].strip() == SUMMARY:
        first = i
        i = before(first)
    if i >= 0 and _IMAGE_LINE.match(lines[i].strip()):
        first = i
    j = last + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    if first < block.start and j < len(lines) and lines[j].strip() == "</details>":
        last = j
    return first, last


def wrapped(lesson: Path, text: str, out: Path, everywhere: bool) -> str:
    """``text`` (the lesson's) with each block's image above it and the block in <details>.

    With ``everywhere`` false, only blocks that are already wrapped are brought up to date.
    """
    lines = text.splitlines()
    touched = False
    for block in reversed(find_blocks(lesson, text)):  # from the end: line numbers still hold
        first, last = wrapper_span(lines, block)
        if first == block.start and not everywhere:
            continue
        target = out / block.name
        svg = target.read_text(encoding="utf-8") if target.is_file() else ""
        if svg_attribute(svg, "data-source-sha256") != block.sha256:
            raise DiagramError(f"{block.where}: {target.name} is missing or stale: draw it first")
        fence = lines[block.start:block.end + 1]
        # Blank lines around it, or Markdown would run the image into the paragraph before it.
        above = [""] if first > 0 and lines[first - 1].strip() else []
        below = [""] if last + 1 < len(lines) and lines[last + 1].strip() else []
        lines[first:last + 1] = [*above, image_line(block, svg_attribute(svg, "data-alt") or ""),
                                 "", SUMMARY, "", *fence, "", "</details>", *below]
        touched = True
    if not touched:
        return text
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def wrap(lesson: Path, out: Path, everywhere: bool) -> bool:
    """Rewrite ``lesson`` as wrapped() says; True if that changed it."""
    text = lesson.read_text(encoding="utf-8")
    changed = wrapped(lesson, text, out, everywhere)
    if changed != text:
        lesson.write_text(changed, encoding="utf-8")
        return True
    return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wrap", action="store_true",
                        help="also put each image in its lesson, above the block, and fold the "
                             "block into <details>")
    parser.add_argument("--force", action="store_true", help="draw every diagram again")
    parser.add_argument("--lessons", type=Path, default=LESSONS,
                        help="the lessons' folder (default: lessons/)")
    args = parser.parse_args(argv)
    lessons = args.lessons.resolve()
    out = lessons / IMAGES
    started = time.monotonic()
    try:
        blocks = all_blocks(lessons)
        stale = [b for b in blocks if args.force or not up_to_date(b, out)]
        written, failed = draw(stale, out) if stale else ([], [])
        wanted = {b.name for b in blocks}
        removed = []
        for old in sorted(out.glob("*.svg")) if out.is_dir() else []:
            if old.name not in wanted and "data-source-sha256" in old.read_text("utf-8"):
                old.unlink()
                removed.append(old)
        for path in written:
            print(f"drew {path.relative_to(lessons.parent)}")
        for path in removed:
            print(f"removed {path.relative_to(lessons.parent)} (its block is gone)")
        if failed:
            print("\nThese diagrams could not be drawn:", file=sys.stderr)
            for message in failed:
                print(f"  {message}", file=sys.stderr)
            return 1
        wrapped = [lesson for lesson in sorted({b.lesson for b in blocks})
                   if wrap(lesson, out, args.wrap)]
    except DiagramError as error:
        print(error, file=sys.stderr)
        return 2
    for lesson in wrapped:
        print(f"linked the images in {lesson.relative_to(lessons.parent)}")
    print(f"{len(blocks)} diagrams, {len(written)} drawn, {len(blocks) - len(stale)} already up "
          f"to date ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
