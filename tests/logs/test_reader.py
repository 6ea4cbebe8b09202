"""Reading files: gzip by magic, damaged gzip, junk bytes, over-long lines."""

import gzip

import pytest

from sentinel.errors import InputError
from sentinel.logs.reader import MAX_LINE, Stats, read_file

LINE = b'10.0.0.%d - - [01/Jan/2021:00:00:00 +0000] "GET /%d HTTP/1.1" 200 5 "-" "ua"\n'


def run(path, fmt="auto"):
    stats, events = Stats(), []
    read_file(str(path), fmt, stats, events.append)
    return stats, events


def test_gzip_detected_by_magic_not_name(tmp_path):
    p = tmp_path / "access.log"  # no .gz suffix on purpose
    p.write_bytes(gzip.compress(b"".join(LINE % (i, i) for i in range(50))))
    stats, events = run(p)
    assert stats.lines == 50 and stats.unparsed == 0 and events[-1].uri == "/49"


def test_truncated_gzip_names_file_and_line_and_keeps_what_was_read(tmp_path):
    data = gzip.compress(b"".join(LINE % (i % 250, i) for i in range(20000)))
    p = tmp_path / "cut.gz"
    p.write_bytes(data[: len(data) // 2])
    stats, events = Stats(), []
    with pytest.raises(InputError) as exc:
        read_file(str(p), "auto", stats, events.append)
    assert str(p) in str(exc.value) and "truncated gzip" in str(exc.value)
    assert f"line {len(events) + 1}" in str(exc.value)
    assert 0 < len(events) < 20000 and stats.unparsed == 0


def test_junk_and_invalid_utf8_are_counted_never_fatal(tmp_path):
    p = tmp_path / "mixed.log"
    p.write_bytes(LINE % (1, 1) + b"\xff\xfe\x00\x01garbage\x80\n" + LINE % (2, 2) + b"\xc3\x28 also bad\n")
    stats, events = run(p)
    assert (stats.lines, stats.parsed, stats.unparsed, stats.invalid_utf8) == (4, 2, 2, 2)
    assert stats.unparsed_lines == {str(p): [2, 4]}


def test_overlong_line_is_capped_reported_and_reading_continues(tmp_path):
    p = tmp_path / "long.log"
    p.write_bytes(LINE % (1, 1) + b"x" * (3 * MAX_LINE + 7) + b"\n" + LINE % (2, 2))
    stats, events = run(p)
    assert stats.overlong_lines == {str(p): [2]} and stats.unparsed_lines == {str(p): [2]}
    assert [e.source.rsplit(":", 1)[1] for e in events] == ["1", "3"]


def test_forced_format_reports_other_lines_as_unparsed(tmp_path):
    p = tmp_path / "a.log"
    p.write_bytes(LINE % (1, 1) + b"Feb 12 14:10:21 h sshd[1]: Invalid user a from 1.2.3.4\n")
    stats, _ = run(p, "combined")
    assert stats.unparsed_lines == {str(p): [2]}
    stats, _ = run(p, "auth")
    assert stats.unparsed_lines == {str(p): [1]}
