"""summary.html: the class at a glance, for the instructor. A pure function of the class view
(results.class_view, itself made from results.json's data): score distribution and pass rates
drawn in plain inline SVG, the students to look at first, each a link to their feedback page."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from ..html_report import number, page, percent, tidy

__all__ = ["summary_page", "first_to_look_at"]

CSS = """
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.75rem;
margin:1rem 0}
.glance div{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:.6rem .8rem}
.glance strong{display:block;font-size:1.6rem;line-height:1.2}
figure{margin:0}svg.hist{width:100%;max-width:34rem;height:auto;display:block}
.card h3{margin:1rem 0 .25rem}
svg text{font-family:system-ui,sans-serif;fill:#1f2328}
.rates{list-style:none;padding:0;margin:.5rem 0 1rem}
.rates li{padding:.35rem 0;border-top:1px solid #eaeef2}
.rates .row{display:flex;align-items:center;gap:.6rem}
.rates svg{flex:1 1 auto;min-width:4rem;height:.8rem}
.rates .num{white-space:nowrap;font-variant-numeric:tabular-nums;min-width:6.5rem;text-align:right}
rect.track{fill:#eaeef2}rect.bar.good{fill:#1a7f37}rect.bar.mid{fill:#9a6700}
rect.bar.low{fill:#cf222e}
.scroll{overflow-x:auto}
ol.people{padding-left:1.25rem}ol.people li{margin:.35rem 0}
"""

_BINS = 10


def first_to_look_at(view: dict, lowest: int = 5) -> list[tuple[dict, str]]:
    """(student, why) for the students to read first: results the grader could not back or
    suspicious code, then not gradable, partly graded, notes, then the lowest scores."""
    most = view["max_total"] or 1
    order = []
    for student in view["students"]:
        status = student["status"]
        flagged = [e["number"] for e in student["exercises"]
                   if (e.get("integrity") or {}).get("flagged")]
        if status.startswith("needs a look") or flagged:
            order.append((0, student, status))
        elif status.startswith("not gradable"):
            order.append((1, student, status))
        elif status != "graded":
            order.append((2, student, status))
        elif student.get("integrity") or student.get("notes") or any(
                e.get("notes") for e in student["exercises"]):
            notes = student.get("notes", []) + [n for e in student["exercises"]
                                                for n in e.get("notes", [])]
            why = "; ".join(notes) or "checker files differ from yours"
            order.append((3, student, why))
    listed = {id(s) for _, s, _ in order}
    rest = sorted((s for s in view["gradable"] if id(s) not in listed),
                  key=lambda s: (s["total"], s["name"]))
    order += [(4, s, "among the lowest scores")
              for s in rest[:lowest] if s["total"] < most * 0.6]
    return [(s, why) for _, s, why in sorted(order, key=lambda o: o[0])]


def _feedback(student: dict) -> str:
    return f"feedback/{quote(student['key'])}.html"


def _histogram(view: dict) -> str:
    """Students per tenth of the points, as SVG columns with their counts written on them."""
    most = view["max_total"] or 1
    counts = [0] * _BINS
    for student in view["gradable"]:
        counts[min(int(student["total"] / most * _BINS), _BINS - 1)] += 1
    width, height, left, bottom, top, right = 360, 200, 24, 36, 22, 24
    step = (width - left - right) / _BINS
    tallest = max(counts) or 1
    scale = (height - bottom - top) / tallest
    parts = []
    for n, count in enumerate(counts):
        h = count * scale
        x, y = left + n * step + 2, height - bottom - h
        parts.append(f'<rect class="col" x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" '
                     f'height="{h:.1f}" fill="#0969da"/>')
        if count:
            parts.append(f'<text x="{x + (step - 4) / 2:.1f}" y="{y - 5:.1f}" '
                         f'text-anchor="middle" font-size="15">{count}</text>')
    base = height - bottom
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" '
                 'stroke="#57606a"/>')
    for tick in range(0, 101, 20):
        x = left + tick / 100 * (width - left - right)
        parts.append(f'<text x="{x:.1f}" y="{base + 17}" text-anchor="middle" '
                     f'font-size="14">{tick} %</text>')
    parts.append(f'<text x="{(width + left) / 2:.0f}" y="{height - 2}" text-anchor="middle" '
                 'font-size="12" fill="#57606a">share of the points</text>')
    desc = "; ".join(f"{n * 10}–{n * 10 + 10} %: {c}" for n, c in enumerate(counts) if c)
    return (f'<svg class="hist" viewBox="0 0 {width} {height}" role="img" '
            'aria-labelledby="hist-t hist-d"><title id="hist-t">Students by share of the '
            f'points</title><desc id="hist-d">{escape(desc or "no graded student")}</desc>'
            + "".join(parts) + "</svg>")


def _rate_class(share: float) -> str:
    return "good" if share >= 0.8 else "mid" if share >= 0.5 else "low"


def _rates(view: dict) -> str:
    out = []
    for exercise in view["rates"]:
        rows = []
        for check in exercise["checks"]:
            share = check["passed"] / check["seen"] if check["seen"] else 0
            rows.append(
                f'<li><span>{escape(tidy(check["title"]))}</span><span class="row">'
                '<svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" '
                'focusable="false"><rect class="track" width="100" height="10"/>'
                f'<rect class="bar {_rate_class(share)}" width="{100 * share:.1f}" '
                'height="10"/></svg>'
                f'<span class="num">{check["passed"]}/{check["seen"]} · '
                f'{percent(check["passed"], check["seen"])} %</span></span></li>')
        title = f'{exercise["number"]} · {exercise["title"]}'.strip(" ·")
        out.append(f"<h3>Exercise {escape(title)}</h3>"
                   + (f'<ul class="rates">{"".join(rows)}</ul>' if rows
                      else "<p>No check ran.</p>"))
    return "".join(out)


def _people(view: dict) -> str:
    items = [f'<li><a href="{escape(_feedback(s))}">{escape(s["name"])}</a>: '
             f'{escape(tidy(why))}' + (f' <span class="muted">({number(s["total"])} points)'
                                        "</span>" if s["exercises"] else "") + "</li>"
             for s, why in first_to_look_at(view)]
    return f'<ol class="people">{"".join(items)}</ol>' if items else "<p>No one: all clear.</p>"


def _failures(view: dict) -> str:
    items = [f'<li><strong>{f["count"]}×</strong> {escape(f["text"])} <span class="muted">'
             f'({len(f["students"])} student{"s" if len(f["students"]) != 1 else ""}; '
             f'exercise{"s" if len(f["exercises"]) > 1 else ""} '
             f'{escape(", ".join(f["exercises"]))})</span></li>' for f in view["failures"][:10]]
    return f'<ol>{"".join(items)}</ol>' if items else "<p>None.</p>"


def _table(view: dict) -> str:
    numbers = [e["number"] for e in view["exercises"]]
    head = ('<tr><th scope="col">Student</th>'
            + "".join(f'<th scope="col" class="num">{escape(n)}</th>' for n in numbers)
            + '<th scope="col" class="num">Total</th><th scope="col">Status</th></tr>')
    rows = []
    for student in view["students"]:
        scores = {e["number"]: e["score"] for e in student["exercises"]}
        rows.append(f'<tr><th scope="row"><a href="{escape(_feedback(student))}">'
                    f'{escape(student["name"])}</a></th>'
                    + "".join(f'<td class="num">{number(scores[n]) if n in scores else "–"}'
                              "</td>" for n in numbers)
                    + f'<td class="num">{number(student.get("total", 0))}</td>'
                    f'<td>{escape(tidy(student["status"]))}</td></tr>')
    return (f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody>'
            "</table></div>")


def summary_page(view: dict, document: dict | None = None) -> str:
    document = document or {}
    students, gradable = view["students"], view["gradable"]
    totals = sorted(s["total"] for s in gradable)
    median = (totals[len(totals) // 2] if len(totals) % 2 else
              (totals[len(totals) // 2 - 1] + totals[len(totals) // 2]) / 2) if totals else 0
    look = first_to_look_at(view)
    glance = [("submissions", len(students)), ("graded", len(gradable)),
              ("not gradable", len(students) - len(gradable)),
              ("median", f"{number(median)}/{number(view['max_total'])}"),
              ("to look at first", len(look))]
    cards = "".join(f"<div><strong>{escape(str(v))}</strong>{escape(k)}</div>" for k, v in glance)
    seed = f" Seed {document['seed']}." if "seed" in document else ""
    body = [f'<h1>Class report</h1><p class="lede">{len(students)} '
            f"submissions, {len(view['exercises'])} exercises, "
            f"{number(view['max_total'])} points in all.{seed} Every name links to that "
            "student's feedback page; summary.md and results.json hold the same and more.</p>",
            f'<div class="glance">{cards}</div>',
            '<section class="card" aria-labelledby="look-h"><h2 id="look-h">Look at these '
            f"first</h2>{_people(view)}</section>",
            '<section class="card" aria-labelledby="dist-h"><h2 id="dist-h">Score '
            f"distribution</h2><figure>{_histogram(view)}<figcaption class=\"muted\">"
            f"{len(gradable)} graded students by their share of the points; median "
            f"{number(median)} of {number(view['max_total'])}.</figcaption></figure></section>",
            '<section class="card" aria-labelledby="rate-h"><h2 id="rate-h">Pass rate per '
            f"check</h2>{_rates(view)}</section>",
            '<section class="card" aria-labelledby="fail-h"><h2 id="fail-h">Most common '
            f"failure messages</h2>{_failures(view)}</section>",
            '<section class="card" aria-labelledby="all-h"><h2 id="all-h">Every student</h2>'
            f"{_table(view)}</section>"]
    return page("Class report", "\n".join(body), brand="Encore · grading results",
                footer="Written by python -m grader grade.", css=CSS)
