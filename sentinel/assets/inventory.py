"""The declared inventory as files: reading (YAML or CSV, validated, with file/line/field in every error) and writing.

YAML: a list of mappings, or a mapping with an `assets:` list. CSV: a header row naming fields, one asset a row.
Fields: name (required, unique), owner (department), location, system, layer (perception/transport/application),
criticality (1-5), protection_level (MLPS level 1-5), mac, ip, notes.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..events.base import LAYERS
from .oui import normalize_mac
from .tables import ASSET_FIELDS

TEXT_FIELDS = ("owner", "location", "system", "notes")
LEVEL_FIELDS = ("criticality", "protection_level")


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def coerce(field: str, value: Any) -> Any:
    """One field's value, checked and normalised. Empty means unset (None). Raises FieldError."""
    if field not in ASSET_FIELDS:
        raise FieldError(field, f"unknown field {field!r} (known: {', '.join(ASSET_FIELDS)})")
    if value is None or (isinstance(value, str) and not value.strip()):
        if field == "name":
            raise FieldError(field, "name is required")
        return None
    if isinstance(value, (dict, list)):
        raise FieldError(field, f"{field} must be a single value, not a {type(value).__name__}")
    if field == "name" or field in TEXT_FIELDS:
        return str(value).strip()
    if field == "layer":
        v = str(value).strip().lower()
        if v not in LAYERS:
            raise FieldError(field, f"bad layer {value!r} (expected one of {', '.join(LAYERS)})")
        return v
    if field in LEVEL_FIELDS:
        if isinstance(value, bool):
            raise FieldError(field, f"{field} must be an integer 1-5, not {value!r}")
        try:
            n = int(str(value).strip())
        except ValueError:
            raise FieldError(field, f"{field} must be an integer 1-5, not {value!r}") from None
        if not 1 <= n <= 5:
            raise FieldError(field, f"{field} {n} out of range 1-5")
        return n
    if field == "mac":
        mac = normalize_mac(str(value))
        if mac is None:
            raise FieldError(field, f"not a MAC address: {value!r}")
        return mac
    if field == "ip":
        try:
            return str(ipaddress.ip_address(str(value).strip()))
        except ValueError:
            raise FieldError(field, f"not an IP address: {value!r}") from None
    raise AssertionError(field)  # pragma: no cover


def validate(records: list[tuple[dict[str, Any], dict[str, int], int]], source: str) -> list[dict[str, Any]]:
    """(raw record, field -> line, record line) triples -> clean assets. Raises InputError for the first problem."""
    errors: list[InputError] = []
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, Any], int] = {}
    for raw, lines, rec_line in records:
        clean: dict[str, Any] = {}
        for field, value in raw.items():
            try:
                clean[field] = coerce(str(field), value)
            except FieldError as exc:
                errors.append(InputError(source, str(exc), f"line {lines.get(field, rec_line)}, field '{exc.field}'"))
        if "name" not in raw:
            errors.append(InputError(source, "name is required", f"line {rec_line}, field 'name'"))
            continue
        for field in ("name", "mac", "ip"):
            v = clean.get(field)
            if v is None:
                continue
            where = lines.get(field, rec_line)
            if (field, v) in seen:
                errors.append(InputError(source, f"duplicate {field} {v!r} (first on line {seen[(field, v)]})",
                                         f"line {where}, field '{field}'"))
            else:
                seen[(field, v)] = where
        out.append(clean)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            first = InputError(first.source, f"{first.message} (and {len(errors) - 1} more error(s))", first.position)
        raise first
    return out


def read_yaml(text: str, source: str) -> list[tuple[dict[str, Any], dict[str, int], int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(source, f"malformed YAML: {problem}", where) from None
    if node is None:
        return []
    if isinstance(data, dict) and set(data) == {"assets"}:
        data = data["assets"]
        node = node.value[0][1]
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        raise InputError(source, "expected a list of assets (or a mapping with an `assets:` list)",
                         f"line {node.start_mark.line + 1}")
    records = []
    for item, item_node in zip(data, node.value):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict) or not isinstance(item_node, yaml.MappingNode):
            raise InputError(source, "each asset must be a mapping of field: value", f"line {line}")
        lines = {k.value: k.start_mark.line + 1 for k, _v in item_node.value}
        records.append(({str(k): v for k, v in item.items()}, lines, line))
    return records


def read_csv(text: str, source: str) -> list[tuple[dict[str, Any], dict[str, int], int]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = [h.strip() for h in header]
        for h in header:
            if h not in ASSET_FIELDS:
                raise InputError(source, f"unknown field {h!r} (known: {', '.join(ASSET_FIELDS)})",
                                 f"line 1, field '{h}'")
        if "name" not in header:
            raise InputError(source, "the header has no `name` column", "line 1")
        records = []
        line = reader.line_num
        for row in reader:
            start = line + 1
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputError(source, f"{len(row)} columns where the header has {len(header)}", f"line {start}")
            rec = dict(zip(header, row))
            records.append((rec, {h: start for h in header}, start))
    except csv.Error as exc:
        raise InputError(source, f"malformed CSV: {exc}", f"line {reader.line_num}") from None
    return records


def load(path: Path) -> list[dict[str, Any]]:
    """Read and validate an inventory file; the format follows the extension (.yaml/.yml or .csv)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text (byte offset {exc.start})") from None
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror}") from None
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        records = read_yaml(text, source)
    elif suffix == ".csv":
        records = read_csv(text, source)
    else:
        raise InputError(source, "unknown inventory format (use a .yaml, .yml or .csv file)")
    return validate(records, source)


def parse_assignments(args: list[str]) -> dict[str, Any]:
    """`field=value` arguments of `assets set`, validated like file fields (an empty value unsets)."""
    out: dict[str, Any] = {}
    for arg in args:
        field, eq, value = arg.partition("=")
        if not eq:
            raise InputError("arguments", f"expected field=value, got {arg!r}")
        try:
            out[field.strip()] = coerce(field.strip(), value)
        except FieldError as exc:
            raise InputError("arguments", str(exc), f"field '{exc.field}'") from None
    return out


def _plain(asset: dict[str, Any]) -> dict[str, Any]:
    return {f: asset.get(f) for f in ASSET_FIELDS}


def dump_yaml(assets: list[dict[str, Any]]) -> str:
    rows = [{k: v for k, v in _plain(a).items() if v is not None} for a in assets]
    return yaml.safe_dump({"assets": rows}, sort_keys=False, allow_unicode=True)


def dump_csv(assets: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ASSET_FIELDS)
    for a in assets:
        w.writerow(["" if v is None else v for v in _plain(a).values()])
    return buf.getvalue()
