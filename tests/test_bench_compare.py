"""make bench BASE=rev: its table, and a clear error for a revision that is not there."""

import pytest

from bench import BenchError, compare


def test_table_flags_a_checker_that_grew_more_than_ten_percent():
    lines = compare.table("abc1234", [compare.Pair("02", [1.0, 1.1, 0.9], [1.05, 1.0, 1.1]),
                                      compare.Pair("06", [0.5, 0.5, 0.5], [0.6, 0.6, 0.6])])
    assert "abc1234" in lines[0]
    assert lines[1].endswith("1.05  ✓")
    assert lines[2].endswith("1.20  ✗ grew more than 10 %")


def test_an_unknown_revision_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(BenchError, match="is not a commit of this repository"):
        compare.compare("no-such-revision-anywhere", 1, tmp_path)
