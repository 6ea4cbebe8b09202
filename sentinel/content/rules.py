"""Loading YARA rules: find the rule files, compile them once, keep the compiled form in a private cache.

Each rule file is compiled into its own namespace (named after the file), so two files may define rules with the
same name. Compiled rules are cached under `$XDG_CACHE_HOME/sentinel/yara` (or `~/.cache/sentinel/yara`), keyed by
the SHA-256 of every rule file's name and text, the externals and the libyara version: editing a rule, adding a
file or upgrading yara-python all give a new key and so a recompilation.

`include` directives are disabled: the cache key covers only the files found here, so an included file could change
without the key changing.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yara

from ..data import data_dir

from ..errors import InputError

RULE_SUFFIXES = (".yar", ".yara")

#: Environment setting for the default rules directory (else the repository's `rules/yara`).
RULES_ENV = "SENTINEL_YARA_RULES"

#: Externals the signature-base rules (THOR / LOKI conventions) may reference; defined for every compilation so
#: such rules load unchanged. Scanning files fills them per file (see `file_externals`).
EXTERNALS: dict[str, str] = {"filename": "", "filepath": "", "extension": "", "filetype": "", "owner": ""}

# "path(12): message" as libyara reports syntax errors and warnings
_LOCATED = re.compile(r"^(?P<file>.*)\((?P<line>\d+)\): (?P<msg>.*)$", re.S)

#: How many times rules were compiled (not loaded from the cache) in this process; lets tests and benchmarks see
#: a cache hit without timing.
compile_count = 0


@dataclass(slots=True)
class RuleSet:
    """Compiled rules and where they came from."""

    rules: yara.Rules
    files: list[Path]
    key: str
    from_cache: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(1 for _ in self.rules)


def default_rules_dir() -> Path:
    """SENTINEL_YARA_RULES, else the built-in `rules/yara` (see sentinel/data.py)."""
    env = os.environ.get(RULES_ENV)
    if env:
        return Path(env)
    return data_dir("rules") / "yara"


def find_rule_files(sources: list[Path]) -> list[Path]:
    """Rule files in `sources` (directories, searched recursively, or single files), in a stable order."""
    found: list[Path] = []
    for src in sources:
        if src.is_dir():
            found.extend(sorted(p for p in src.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file()))
        elif src.is_file():
            found.append(src)
        else:
            raise InputError(str(src), "no such rules file or directory")
    if not found:
        raise InputError(", ".join(str(s) for s in sources), "no .yar or .yara rule files found")
    return found


def namespaces(files: list[Path]) -> dict[str, Path]:
    """Namespace per file: the file name without its suffix, made unique with `~2`, `~3`... when names repeat."""
    out: dict[str, Path] = {}
    for path in files:
        base = name = path.stem
        n = 1
        while name in out:
            n += 1
            name = f"{base}~{n}"
        out[name] = path
    return out


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sentinel" / "yara"


def rules_key(texts: dict[str, bytes], externals: dict[str, str]) -> str:
    """SHA-256 over the libyara version, the externals and each (namespace, text), in namespace order."""
    h = hashlib.sha256()
    h.update(f"yara {yara.YARA_VERSION}\0".encode())
    for k in sorted(externals):
        h.update(f"ext {k}={externals[k]}\0".encode())
    for ns in sorted(texts):
        data = texts[ns]
        h.update(f"ns {ns} {len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def syntax_error(exc: yara.Error, fallback: str) -> InputError:
    """InputError naming the rule file and line from libyara's `file(line): message`."""
    m = _LOCATED.match(str(exc))
    if m:
        return InputError(m["file"], m["msg"], f"line {m['line']}")
    return InputError(fallback, str(exc))


def compile_files(by_ns: dict[str, Path], externals: dict[str, str]) -> yara.Rules:
    global compile_count
    try:
        rules = yara.compile(
            filepaths={ns: str(p) for ns, p in by_ns.items()}, externals=externals, includes=False,
            error_on_warning=False,
        )
    except yara.Error as exc:  # yara.SyntaxError, and unreadable files
        raise syntax_error(exc, ", ".join(str(p) for p in by_ns.values())) from None
    except UnicodeEncodeError:  # yara-python takes only UTF-8 file names
        bad = next(p for p in by_ns.values() if not _utf8(str(p)))
        raise InputError(ascii(str(bad)), "rule file names must be valid UTF-8") from None
    compile_count += 1
    return rules


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _private_dir(path: Path) -> bool:
    """Create `path` (0700) if needed; True when it is ours and not writable by others, so it can be trusted.

    why: a compiled-rules file is loaded as is, so a cache others can write to would let them change what we detect.
    """
    try:
        path.parent.parent.mkdir(parents=True, exist_ok=True)  # the user's cache root: not ours to restrict
        for d in (path.parent, path):  # sentinel/ and sentinel/yara/: private from creation
            d.mkdir(exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask and ignored for existing parents
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _load_cached(path: Path) -> yara.Rules | None:
    try:
        return yara.load(str(path))
    except (yara.Error, OSError):
        return None  # missing, truncated or written by another libyara: recompile


def _save_cached(rules: yara.Rules, directory: Path, key: str) -> None:
    """Write atomically (temp file + rename), mode 0600; a cache that cannot be written is not an error."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".yarc", dir=directory)  # mkstemp creates 0600
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            rules.save(file=fh)
        os.replace(tmp, directory / f"{key}.yarc")
        _prune(directory)
    except (OSError, yara.Error):
        try:
            os.unlink(tmp)
        except OSError:
            pass


#: compiled rule sets kept in the cache (one per distinct set of rule texts); older ones are removed
CACHE_KEEP = 8


def _prune(directory: Path) -> None:
    """Keep the CACHE_KEEP most recently written rule sets: every rule edit adds one, so the cache would grow."""
    try:
        entries = sorted(directory.glob("*.yarc"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[CACHE_KEEP:]:
            old.unlink()
    except OSError:
        pass  # another process pruned first


def load_rules(sources: list[Path] | None = None, *, use_cache: bool = True,
               externals: dict[str, str] | None = None) -> RuleSet:
    """Compile (or load from the cache) every rule file under `sources` (default: `default_rules_dir()`)."""
    externals = dict(EXTERNALS if externals is None else externals)
    files = find_rule_files(sources or [default_rules_dir()])
    by_ns = namespaces(files)
    texts: dict[str, bytes] = {}
    for ns, path in by_ns.items():
        try:
            texts[ns] = path.read_bytes()
        except OSError as exc:
            raise InputError(str(path), f"cannot read rule file: {exc.strerror}") from None
    key = rules_key(texts, externals)
    directory = cache_dir()
    cacheable = use_cache and _private_dir(directory)
    if cacheable:
        rules = _load_cached(directory / f"{key}.yarc")
        if rules is not None:
            return RuleSet(rules, files, key, from_cache=True)
    rules = compile_files(by_ns, externals)
    if cacheable:
        _save_cached(rules, directory, key)
    return RuleSet(rules, files, key, from_cache=False, warnings=list(getattr(rules, "warnings", []) or []))
