"""The feedback view's latency before and after exercise 02, as one picture: what `make bench`
writes to docs/images/feedback-latency.svg from the posts it has just timed.

Every number drawn comes from the measurements passed in: one dot per POST, the medians and
their ratio, the date, the Python version and the CPU count. Needs matplotlib
(requirements-bench.txt, which `make bench` installs). The figure is drawn without pyplot, on a
plain Figure, so no window or display is ever involved, and with matplotlib's own defaults and
fonts (not the machine's matplotlibrc), so the same figures draw the same file anywhere; the SVG
has no date stamp and fixed ids, so drawing the same measurements again writes the same bytes.
"""

from __future__ import annotations

import datetime
from pathlib import Path

try:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("matplotlib is not installed: `make bench` installs it "
                      "(requirements-bench.txt), or run `make .venv/.bench`.") from exc

from . import median
from .feedback import FeedbackTimes

SIZE = (800, 450)  # pixels, as a browser shows the SVG (96 per inch)
BEFORE_COLOUR, AFTER_COLOUR = "#d55e00", "#0072b2"  # orange and blue: told apart by everyone
INK, MUTED, GRID = "#222222", "#5f5f5f", "#e4e4e4"
SPREAD = 0.16  # half the width of a group of dots, in groups (the groups are 1 apart)


def milliseconds(seconds: float) -> str:
    """``2.0034`` → ``"2,003 ms"``; ``0.00482`` → ``"4.8 ms"``: enough digits, never too many."""
    ms = seconds * 1000
    return f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def times(ratio: float) -> str:
    """``415.3`` → ``"415 times"``, ``2.46`` → ``"2.5 times"``."""
    return f"{ratio:,.0f} times" if ratio >= 10 else f"{ratio:.1f} times"


def posts(count: int) -> str:
    return f"{count} post" if count == 1 else f"{count} posts"


def _offsets(count: int) -> list[float]:
    """Where each dot of a group sits across it, in the order the posts were made."""
    if count == 1:
        return [0.0]
    return [-SPREAD + 2 * SPREAD * i / (count - 1) for i in range(count)]


def _tick(value: float, _position) -> str:
    return f"{value:,.0f} ms" if value >= 1 else f"{value:g} ms"


def draw(before: FeedbackTimes, after: FeedbackTimes, path: Path, *, python: str,
         cpus: int | None, day: datetime.date) -> Path:
    """Draw ``before`` (stage 00) and ``after`` (stage 02) into the SVG file ``path``.

    ``python`` ("3.12"), ``cpus`` and ``day`` say where and when they were measured.
    """
    if not before.latencies or not after.latencies:
        raise ValueError("Both stages need at least one measured POST to draw.")
    groups = [
        (before, BEFORE_COLOUR, "Before exercise 02",
         "the view sends the email itself"),
        (after, AFTER_COLOUR, "After exercise 02",
         "the view hands the email to Celery"),
    ]
    before_median, after_median = median(before.latencies), median(after.latencies)
    ratio = before_median / after_median
    verdict = (f"{times(ratio)} shorter" if ratio >= 1 else f"{times(1 / ratio)} longer")
    every = [seconds * 1000 for seconds in before.latencies + after.latencies]

    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # not this machine's matplotlibrc
        matplotlib.rcParams.update({
            "svg.hashsalt": "encore-bench",  # the same ids in every file, not random ones
            "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs anywhere
            "axes.edgecolor": MUTED, "xtick.color": MUTED, "ytick.color": MUTED,
            "axes.labelcolor": INK, "text.color": INK,
        })
        figure = Figure(figsize=(SIZE[0] / 96, SIZE[1] / 96), dpi=96)
        title = "POST /feedback/: how long the visitor waits"
        summary = (f"The middle post (the median) took {milliseconds(before_median)} before "
                   f"exercise 02 and {milliseconds(after_median)} after: {verdict}.")
        figure.text(0.025, 0.955, title, fontsize=15, fontweight="bold", va="top")
        figure.text(0.025, 0.875, summary, fontsize=10.5, va="top")
        axes = figure.add_axes((0.15, 0.255, 0.82, 0.555))

        for x, (measured, colour, name, how) in enumerate(groups):
            values = [seconds * 1000 for seconds in measured.latencies]
            middle = median(measured.latencies) * 1000
            axes.plot([x - SPREAD - 0.06, x + SPREAD + 0.06], [middle, middle], color=INK,
                      linewidth=2, solid_capstyle="butt", zorder=3)
            axes.scatter([x + dx for dx in _offsets(len(values))], values, s=42,
                         color=colour, alpha=0.85, edgecolors="white", linewidths=0.8,
                         zorder=4)
            axes.annotate(f"median\n{milliseconds(middle / 1000)}", (x + SPREAD + 0.1, middle),
                          va="center", ha="left", fontsize=10, fontweight="bold", zorder=4)

        axes.set_yscale("log")
        axes.set_ylim(min(every) / 2.5, max(every) * 2.5)
        axes.yaxis.set_major_locator(LogLocator(base=10))
        axes.yaxis.set_major_formatter(FuncFormatter(_tick))
        axes.yaxis.set_minor_formatter(NullFormatter())
        axes.set_ylabel("Time until the page answers\n(each line up: 10 times longer)",
                        fontsize=9.5)
        axes.grid(axis="y", which="major", color=GRID, linewidth=0.8, zorder=0)
        axes.set_axisbelow(True)

        axes.set_xlim(-0.5, 1.65)
        axes.set_xticks(range(len(groups)))
        axes.set_xticklabels([f"{name}\n{how}\n({posts(len(measured.latencies))})"
                              for measured, _, name, how in groups], fontsize=9.5)
        for label, (_, colour, _, _) in zip(axes.get_xticklabels(), groups):
            label.set_color(colour)
        axes.tick_params(axis="x", length=0, pad=6)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)

        caption = (f"Each dot is one post, measured by make bench on {day.day} {day:%B %Y} "
                   f"(Python {python}, {cpus or 'unknown'} CPUs).")
        if after.waiting is not None:
            caption += (f"\nAfter exercise 02 the emails still go out, a little later: "
                        f"{after.waiting} were waiting for the worker when the last post "
                        "was answered.")
        figure.text(0.025, 0.025, caption, fontsize=8, color=MUTED, va="bottom",
                    linespacing=1.5)

        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="svg",
                       metadata={"Date": None, "Title": title, "Description": summary})
    return path
