"""bench/plot.py: the picture `make bench` draws of the feedback view's latency, drawn here from
made-up measurements so that every number in it is known.

Needs matplotlib (requirements-bench.txt): without it these tests are skipped, except in CI,
where .ci/run installs it."""

from __future__ import annotations

import datetime
import os

import pytest

from bench.feedback import FeedbackTimes

try:
    from bench import plot
except ImportError as exc:
    if os.environ.get("CI"):
        raise
    pytest.skip(str(exc), allow_module_level=True)

# Medians: 2,016 ms before (of 3 posts) and 4.8 ms after (of 5): 2016 / 4.8 = 420 times.
BEFORE = FeedbackTimes(0, [2.0010, 2.0160, 2.0300], None)
AFTER = FeedbackTimes(2, [0.0052, 0.0046, 0.0048, 0.0061, 0.0039], 6)
DAY = datetime.date(2031, 3, 7)


def draw(path, before=BEFORE, after=AFTER):
    return plot.draw(before, after, path, python="3.12", cpus=4, day=DAY)


def test_the_plot_is_an_svg_with_every_figure_from_the_measurements(tmp_path):
    svg = draw(tmp_path / "images" / "feedback-latency.svg")
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    # matplotlib draws letters as shapes and keeps each text beside them as a comment.
    for words in ("POST /feedback/: how long the visitor waits",
                  "Before exercise 02", "After exercise 02", "(3 posts)", "(5 posts)",
                  "2,016 ms", "4.8 ms", "420 times shorter",
                  "measured by make bench on 7 March 2031 (Python 3.12, 4 CPUs)",
                  "6 were waiting for the worker"):
        assert words in text, f"the plot does not say {words!r}"
    assert text.count("median") >= 2  # both medians are labelled
    assert "<dc:date>" not in text  # no date stamp: see the next test


def test_drawing_the_same_measurements_again_writes_the_same_bytes(tmp_path):
    first, second = draw(tmp_path / "first.svg"), draw(tmp_path / "second.svg")
    assert first.read_bytes() == second.read_bytes()


def test_a_slower_after_says_longer_and_one_post_per_stage_is_enough(tmp_path):
    svg = draw(tmp_path / "slow.svg", FeedbackTimes(0, [0.010], None),
               FeedbackTimes(2, [0.025], 0))
    text = svg.read_text()
    assert "10 ms before exercise 02 and 25 ms after: 2.5 times longer" in text
    assert "(1 post)" in text and "(1 posts)" not in text


def test_no_posts_is_refused_in_plain_words(tmp_path):
    with pytest.raises(ValueError, match="at least one measured POST"):
        draw(tmp_path / "empty.svg", after=FeedbackTimes(2, [], 0))
