"""Where Sentinel's built-in data (rules/, levels/) lives, for a source checkout and for an installed wheel alike.

The repository keeps the data users edit at its top level (`rules/`, `levels/`). The package reaches it through
`sentinel/_data/<name>`, a symlink into the checkout: an editable install follows the link to the live files, and a
built wheel contains real copies there (setuptools copies symlinked package data), so `pip install .` works without
the source tree.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DATA = Path(__file__).resolve().parent / "_data"


def data_dir(name: str) -> Path:
    """The built-in `name` directory (`rules` or `levels`), symlinks resolved so messages name the real files."""
    return (_PACKAGE_DATA / name).resolve()
