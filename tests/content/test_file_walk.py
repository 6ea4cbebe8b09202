"""The file walk: regular files once each, special files and out-of-tree links skipped and counted, size limit."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from sentinel.content.walk import Walk
from sentinel.errors import InputError


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "scan"
    outside = tmp_path / "outside"
    (root / "sub" / "deeper").mkdir(parents=True)
    outside.mkdir()
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("bb")
    (root / "sub" / "deeper" / "c.txt").write_text("ccc")
    (outside / "secret.txt").write_text("not yours")
    return root, outside


def _names(walk: Walk, paths: list[Path]) -> list[str]:
    return [os.path.basename(p) for p, _ in walk.files(paths)]


def test_regular_files_are_found_recursively_with_their_sizes(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    found = dict(Walk(max_size=1 << 20).files([root]))
    assert found == {str(root / "a.txt"): 1, str(root / "sub" / "b.txt"): 2, str(root / "sub" / "deeper" / "c.txt"): 3}


def test_symlinks_out_of_the_tree_are_not_followed_unless_asked(tmp_path: Path) -> None:
    root, outside = _tree(tmp_path)
    (root / "to_secret").symlink_to(outside / "secret.txt")
    (root / "to_outside_dir").symlink_to(outside, target_is_directory=True)
    walk = Walk(max_size=1 << 20)
    assert sorted(_names(walk, [root])) == ["a.txt", "b.txt", "c.txt"]
    assert walk.skipped["link_outside"] == 2

    followed = Walk(max_size=1 << 20, follow_links=True)
    # both links lead to the one outside file: read once
    assert sorted(_names(followed, [root])) == ["a.txt", "b.txt", "c.txt", "secret.txt"]
    assert followed.skipped["link_outside"] == 0


def test_links_inside_the_tree_are_followed_but_each_file_is_read_once(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    (root / "alias.txt").symlink_to(root / "sub" / "b.txt")
    (root / "sub" / "deeper" / "loop").symlink_to(root, target_is_directory=True)  # a cycle
    walk = Walk(max_size=1 << 20)
    names = _names(walk, [root])
    assert len(names) == 3  # a.txt, b.txt (by one of its names), c.txt; the loop ends
    assert walk.skipped["link_outside"] == 0


def test_fifo_and_socket_are_skipped_and_counted_without_blocking(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    os.mkfifo(root / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        walk = Walk(max_size=1 << 20)
        assert sorted(_names(walk, [root])) == ["a.txt", "b.txt", "c.txt"]
    finally:
        sock.close()
    assert walk.skipped["special"] == 2


def test_files_over_the_size_limit_are_skipped_and_counted(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    walk = Walk(max_size=2)
    assert sorted(_names(walk, [root])) == ["a.txt", "b.txt"]
    assert walk.skipped["too_large"] == 1


def test_broken_links_are_counted(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    (root / "dangling").symlink_to(tmp_path / "nothing-here")
    walk = Walk(max_size=1 << 20)
    assert len(_names(walk, [root])) == 3
    assert walk.skipped["broken_link"] == 1


def test_unreadable_directory_is_counted_and_reported(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any directory")
    root, _ = _tree(tmp_path)
    locked = root / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        walk = Walk(max_size=1 << 20)
        assert len(_names(walk, [root])) == 3
    finally:
        locked.chmod(0o700)
    assert walk.skipped["unreadable"] == 1 and walk.unreadable[0][0] == str(locked)


def test_a_named_path_may_be_a_file_or_a_link(tmp_path: Path) -> None:
    root, outside = _tree(tmp_path)
    link = tmp_path / "named-link"
    link.symlink_to(outside / "secret.txt")
    # the user named the link: it is scanned even though it leads elsewhere
    assert _names(Walk(max_size=1 << 20), [root / "a.txt", link]) == ["a.txt", "named-link"]


def test_a_missing_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        list(Walk(max_size=1).files([tmp_path / "missing"]))
    assert info.value.source == str(tmp_path / "missing")


def _stack_depth() -> int:
    frame, n = sys._getframe(), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n


def test_a_tree_deeper_than_the_recursion_limit_is_walked(tmp_path: Path) -> None:
    d = tmp_path / "deep"
    chain = [d]
    for _ in range(300):
        chain.append(chain[-1] / "d")
    chain[-1].mkdir(parents=True)
    (chain[-1] / "bottom.txt").write_text("x")
    old = sys.getrecursionlimit()
    # why: a recursive walk needs a frame per level; leave room for 100 frames, fewer than the tree's 300 levels
    sys.setrecursionlimit(_stack_depth() + 100)
    try:
        names = _names(Walk(max_size=10), [d])
    finally:
        sys.setrecursionlimit(old)
    assert names == ["bottom.txt"]
