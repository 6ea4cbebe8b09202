"""Load and validate the MLPS 2.0 requirement catalogue from `levels/**/*.yaml`.

The YAML files are the format users edit (see levels/README.md). Loading checks everything a typo could break
-- unknown or missing fields, wrong types, bad codes, letter and unit-id sequences, dangling high-risk links --
and reports the first problem as an InputError naming the file, the line and the field. YAML is read with
`yaml.compose` so every node keeps its line number.

Level-3 numbering is canonical: detection-rule tags (`mlps.8.1.3.3.a`) and high-risk cases refer to level-3
keys; items of other levels carry `l3_key`, their level-3 equivalent, and may inherit its titles and evidence.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..data import data_dir
from ..errors import InputError
from .model import FAMILIES, PARTS, Catalogue, Evidence, HighRiskCase, Requirement

LEVELS_DIR = data_dir("levels")

#: GB/T 22239 family order inside the general part: 8.1.<n> is FAMILY_ORDER[n-1]
FAMILY_ORDER = ("PES", "CNS", "ABS", "CES", "SMC", "PSS", "ORS", "HRS", "CMS", "MMS")
TECHNICAL = frozenset(FAMILY_ORDER[:5])


def family_order(level: int) -> tuple[str, ...]:
    """Families in clause order for the general part: level 1 has no management centre, so 6.1.5 is PSS."""
    return tuple(f for f in FAMILY_ORDER if f != "SMC") if level == 1 else FAMILY_ORDER
TAGS = ("S", "A", "G")
LAYERS = ("perception", "transport", "application", "physical", "management")
EVIDENCE_KINDS = ("observation", "asset", "assessor")
IMPORTANCE = ("general", "important", "key")
#: asset attributes the asset inventory can report (documented in levels/README.md)
ASSET_FACTS = ("unknown_device", "silent_device")
ZH_MAX, EN_MAX = 60, 90

_CLAUSE = re.compile(r"^([6-9])\.([1-5])\.(\d{1,2})\.(\d{1,2})$")
_UNIT = re.compile(r"^L([1-4])-([A-Z]{3})([1-5])-(\d{2})$")
_L3KEY = re.compile(r"^8\.[1-5]\.\d{1,2}\.\d{1,2} [a-z]$")
_TAG = re.compile(r"^mlps\.[6-9](\.\d{1,2}){3}(\.[a-z])?$")
_CASE_ID = re.compile(r"^\d{1,2}(\.\d{1,2}){3}$")

try:  # the C loader is ~10x faster; both keep marks
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

_YAML_TYPES = {
    "tag:yaml.org,2002:str": "text", "tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:float": "a number", "tag:yaml.org,2002:null": "empty",
}


# ---------------------------------------------------------------------------------------------------- YAML nodes


class _File:
    """One YAML file under validation: turns nodes into values and problems into located InputErrors."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label

    def error(self, node: yaml.Node, message: str, fieldname: str | None = None) -> InputError:
        pos = f"line {node.start_mark.line + 1}"
        if fieldname:
            pos += f", field '{fieldname}'"
        return InputError(self.label, message, pos)

    def where(self, node: yaml.Node) -> str:
        return f"{self.label}:{node.start_mark.line + 1}"

    def compose(self) -> yaml.Node:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(self.label, f"cannot read: {exc}") from None
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise InputError(self.label, f"YAML syntax error: {problem}",
                             f"line {mark.line + 1}" if mark else None) from None
        if node is None:
            raise InputError(self.label, "empty file", "line 1")
        return node

    def fields(self, node: yaml.Node, required: dict[str, str], optional: dict[str, str],
               what: str) -> dict[str, tuple[Any, yaml.Node]]:
        """Check a mapping against a schema; return name -> (value, value node).

        Types: text, int, bool, texts (list of text), list (list of mappings: value is the list of nodes).
        """
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping of fields")
        out: dict[str, tuple[Any, yaml.Node]] = {}
        known = {**required, **optional}
        for knode, vnode in node.value:
            name = knode.value if isinstance(knode, yaml.ScalarNode) else None
            if not isinstance(name, str) or knode.tag != "tag:yaml.org,2002:str":
                raise self.error(knode, f"{what}: field names must be text")
            if name in out:
                raise self.error(knode, f"{what}: field given twice", name)
            if name not in known:
                raise self.error(knode, f"{what}: unknown field (known: {', '.join(known)})", name)
            out[name] = (self._value(vnode, known[name], name, what), vnode)
        for name in required:
            if name not in out:
                raise self.error(node, f"{what}: missing required field", name)
        return out

    def _value(self, node: yaml.Node, kind: str, name: str, what: str) -> Any:
        if kind in ("text", "int", "bool"):
            if not isinstance(node, yaml.ScalarNode):
                raise self.error(node, f"{what}: expected {_want(kind)}, got a {_shape(node)}", name)
            got = node.tag
            want = {"text": "tag:yaml.org,2002:str", "int": "tag:yaml.org,2002:int",
                    "bool": "tag:yaml.org,2002:bool"}[kind]
            if got != want:
                hint = " (quote it)" if kind == "text" else ""
                raise self.error(node, f"{what}: expected {_want(kind)}, got {_YAML_TYPES.get(got, got)}"
                                       f" {node.value!r}{hint}", name)
            if kind == "int":
                return int(node.value)
            if kind == "bool":
                return node.value.lower() in ("true", "yes", "on")
            if not node.value.strip():
                raise self.error(node, f"{what}: must not be empty", name)
            return node.value.strip()
        if kind == "map":
            return node  # checked by the caller, which knows the nested schema
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what}: expected a list, got {_shape(node)}", name)
        if kind == "list":
            if not node.value:
                raise self.error(node, f"{what}: list must not be empty", name)
            return list(node.value)
        # texts
        vals = []
        for el in node.value:
            vals.append(self._value(el, "text", name, what))
        return tuple(vals)


def _want(kind: str) -> str:
    return {"text": "text", "int": "an integer", "bool": "true or false"}[kind]


def _shape(node: yaml.Node) -> str:
    return {yaml.MappingNode: "mapping", yaml.SequenceNode: "list"}.get(type(node), "single value")


# ----------------------------------------------------------------------------------------------- level files

_CP_REQUIRED = {"clause": "text", "family": "text", "zh": "text", "en": "text", "tag": "text", "layer": "text",
                "items": "list"}
_ITEM_REQUIRED = {"item": "text", "unit": "text"}
_ITEM_OPTIONAL = {"zh": "text", "en": "text", "evidence": "map", "importance": "text", "l3_key": "text"}
_EVIDENCE_OPTIONAL = {"rule_tags": "texts", "event_kinds": "texts", "asset_facts": "texts"}


def _choice(f: _File, value: str, node: yaml.Node, allowed: Iterable[str], name: str, what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise f.error(node, f"{what}: {value!r} is not one of {', '.join(allowed)}", name)
    return value


def _titles(f: _File, fields: dict, what: str) -> None:
    for name, limit in (("zh", ZH_MAX), ("en", EN_MAX)):
        if name in fields and len(fields[name][0]) > limit:
            raise f.error(fields[name][1], f"{what}: title longer than {limit} characters", name)


def _evidence(f: _File, node: yaml.Node, what: str) -> Evidence:
    if not isinstance(node, yaml.MappingNode):
        raise f.error(node, f"{what}: evidence must be a mapping", "evidence")
    ev = f.fields(node, {"kind": "text"}, _EVIDENCE_OPTIONAL, f"{what} evidence")
    kind = _choice(f, ev["kind"][0], ev["kind"][1], EVIDENCE_KINDS, "kind", f"{what} evidence")
    tags = ev.get("rule_tags", ((), None))[0]
    for i, t in enumerate(tags):
        if not _TAG.match(t):
            raise f.error(ev["rule_tags"][1].value[i], f"{what}: rule tag {t!r} is not like mlps.8.1.3.3 or "
                                                       "mlps.8.1.3.3.a", "rule_tags")
    kinds = ev.get("event_kinds", ((), None))[0]
    if kinds:
        from ..events import KINDS  # the event model is below us in the data flow

        for i, k in enumerate(kinds):
            _choice(f, k, ev["event_kinds"][1].value[i], sorted(KINDS), "event_kinds", what)
    facts = ev.get("asset_facts", ((), None))[0]
    for i, a in enumerate(facts):
        _choice(f, a, ev["asset_facts"][1].value[i], ASSET_FACTS, "asset_facts", what)
    if kind == "assessor" and (tags or kinds or facts):
        raise f.error(node, f"{what}: evidence kind 'assessor' takes no rule_tags, event_kinds or asset_facts",
                      "kind")
    return Evidence(kind=kind, rule_tags=tags, event_kinds=kinds, asset_facts=facts)


def _load_level_file(f: _File, root: yaml.Node, units: dict[str, str]) -> list[dict[str, Any]]:
    """Validate one level file; return raw item records (titles/evidence may still be inherited)."""
    top = f.fields(root, {"level": "int", "part": "text", "control_points": "list"}, {}, "level file")
    level, lnode = top["level"]
    if not 1 <= level <= 4:
        raise f.error(lnode, "level must be 1, 2, 3 or 4", "level")
    part = _choice(f, top["part"][0], top["part"][1], PARTS, "part", "level file")
    seq: dict[str, int] = {}
    clauses: set[str] = set()
    records = []
    for cpnode in top["control_points"][0]:
        cp = f.fields(cpnode, _CP_REQUIRED, {}, "control point")
        clause, cnode = cp["clause"]
        what = f"control point {clause}"
        m = _CLAUSE.match(clause)
        if not m:
            raise f.error(cnode, f"clause {clause!r} is not like 8.1.3.3", "clause")
        if int(m.group(1)) != level + 5:
            raise f.error(cnode, f"{what}: level {level} clauses start with {level + 5}.", "clause")
        if int(m.group(2)) != PARTS[part]:
            raise f.error(cnode, f"{what}: part '{part}' clauses are {level + 5}.{PARTS[part]}.x.x", "clause")
        if clause in clauses:
            raise f.error(cnode, f"{what}: control point defined twice", "clause")
        clauses.add(clause)
        family = _choice(f, cp["family"][0], cp["family"][1], FAMILIES, "family", what)
        order = family_order(level)
        n = int(m.group(3))
        if part == "general" and order[n - 1: n] != (family,):
            raise f.error(cp["family"][1], f"{what}: clause {clause} belongs to family "
                                           f"{order[n - 1] if 1 <= n <= len(order) else '(none)'}", "family")
        tag = _choice(f, cp["tag"][0], cp["tag"][1], TAGS, "tag", what)
        layer = _choice(f, cp["layer"][0], cp["layer"][1], LAYERS, "layer", what)
        _titles(f, cp, what)
        for i, inode in enumerate(cp["items"][0]):
            it = f.fields(inode, _ITEM_REQUIRED, _ITEM_OPTIONAL, f"{what} item")
            letter, lnode_ = it["item"]
            expected = chr(ord("a") + i)
            if letter != expected:
                raise f.error(lnode_, f"{what}: item letter {letter!r} out of sequence, expected {expected!r}",
                              "item")
            iwhat = f"item {clause} {letter}"
            seq[family] = seq.get(family, 0) + 1
            want_unit = f"L{level}-{family}{PARTS[part]}-{seq[family]:02d}"
            unit, unode = it["unit"]
            if not _UNIT.match(unit):
                raise f.error(unode, f"{iwhat}: unit {unit!r} is not like {want_unit}", "unit")
            if unit in units:
                raise f.error(unode, f"{iwhat}: duplicate unit {unit} (first at {units[unit]})", "unit")
            if unit != want_unit:
                raise f.error(unode, f"{iwhat}: unit {unit} out of sequence, expected {want_unit} "
                                     f"(units number the items of a family in order)", "unit")
            units[unit] = f.where(inode)
            l3_key = it.get("l3_key", ("", None))[0]
            if l3_key and not _L3KEY.match(l3_key):
                raise f.error(it["l3_key"][1], f"{iwhat}: l3_key {l3_key!r} is not like '8.1.4.1 a'", "l3_key")
            if l3_key and level == 3:
                raise f.error(it["l3_key"][1], f"{iwhat}: level-3 items are their own l3_key", "l3_key")
            for name in ("zh", "en"):
                if name not in it and not l3_key:
                    raise f.error(inode, f"{iwhat}: missing required field (only items with l3_key inherit "
                                         "titles)", name)
            _titles(f, it, iwhat)
            importance = None
            if "importance" in it:
                importance = _choice(f, it["importance"][0], it["importance"][1], IMPORTANCE, "importance", iwhat)
            records.append({
                "unit": unit, "level": level, "part": part, "clause": clause, "item": letter, "family": family,
                "control_point_zh": cp["zh"][0], "control_point_en": cp["en"][0], "tag": tag, "layer": layer,
                "title_zh": it.get("zh", (None,))[0], "title_en": it.get("en", (None,))[0],
                "evidence": _evidence(f, it["evidence"][1], iwhat) if "evidence" in it else None,
                "importance": importance, "l3_key": l3_key, "source": f.where(inode),
                "_file": f, "_node": inode, "_l3node": it.get("l3_key", (None, None))[1],
            })
    return records


# --------------------------------------------------------------------------------------------- high-risk file

_CASE_REQUIRED = {"id": "text", "min_level": "int", "zh": "text", "en": "text", "items": "texts",
                  "mitigable": "bool", "remediation_zh": "text", "remediation_en": "text"}
_CASE_OPTIONAL = {"mitigation_zh": "text", "mitigation_en": "text"}


def _load_cases(f: _File, root: yaml.Node, resolve: dict[str, Any]) -> list[HighRiskCase]:
    top = f.fields(root, {"cases": "list"}, {}, "high-risk file")
    seen: dict[str, str] = {}
    cases = []
    for cnode in top["cases"][0]:
        c = f.fields(cnode, _CASE_REQUIRED, _CASE_OPTIONAL, "high-risk case")
        cid, idnode = c["id"]
        what = f"high-risk case {cid}"
        if not _CASE_ID.match(cid):
            raise f.error(idnode, f"case id {cid!r} is not like 6.4.1.2", "id")
        if cid in seen:
            raise f.error(idnode, f"{what}: defined twice (first at {seen[cid]})", "id")
        seen[cid] = f.where(cnode)
        if not 1 <= c["min_level"][0] <= 4:
            raise f.error(c["min_level"][1], f"{what}: min_level must be 1..4", "min_level")
        items, inode = c["items"]
        if not items:
            raise f.error(inode, f"{what}: list must not be empty", "items")
        for i, ref in enumerate(items):
            if ref not in resolve:
                raise f.error(inode.value[i], f"{what}: refers to unknown requirement {ref!r} (use a level-3 key "
                                              "like '8.1.4.1 a' or a unit id)", "items")
        mitigable = c["mitigable"][0]
        if mitigable and not ("mitigation_zh" in c and "mitigation_en" in c):
            raise f.error(cnode, f"{what}: mitigable cases need mitigation_zh and mitigation_en",
                          "mitigation_zh" if "mitigation_zh" not in c else "mitigation_en")
        _titles(f, c, what)
        cases.append(HighRiskCase(
            id=cid, min_level=c["min_level"][0], title_zh=c["zh"][0], title_en=c["en"][0], items=items,
            mitigable=mitigable, mitigation_zh=c.get("mitigation_zh", ("",))[0],
            mitigation_en=c.get("mitigation_en", ("",))[0], remediation_zh=c["remediation_zh"][0],
            remediation_en=c["remediation_en"][0], source=f.where(cnode)))
    return cases


# ---------------------------------------------------------------------------------------------------- loading


def _label(base: Path, file: Path) -> str:
    return str(base / file.relative_to(base)) if base.is_dir() else str(file)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load every `*.yaml`/`*.yml` under `path` (default: the built-in levels/ directory).

    Level files hold `level`, `part`, `control_points`; the file with top-level `cases` holds high-risk cases.
    Raises InputError(file, message, "line N, field 'x'") on the first problem.
    """
    base = Path(path) if path is not None else LEVELS_DIR
    if not base.exists():
        raise InputError(str(base), "no such file or directory")
    files = sorted(p for p in base.rglob("*") if p.suffix in (".yaml", ".yml")) if base.is_dir() else [base]
    if not files:
        raise InputError(str(base), "no .yaml files found")
    units: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    case_files: list[tuple[_File, yaml.Node]] = []
    for file in files:
        f = _File(file, _label(base, file))
        root = f.compose()
        if isinstance(root, yaml.MappingNode) and any(k.value == "cases" for k, _ in root.value):
            case_files.append((f, root))
        else:
            records.extend(_load_level_file(f, root, units))

    # level-3 items are the anchor of l3_key inheritance, tags and high-risk links
    l3 = {f"{r['clause']} {r['item']}": r for r in records if r["level"] == 3}
    for r in records:
        if r["l3_key"]:
            anchor = l3.get(r["l3_key"])
            if anchor is None:
                raise r["_file"].error(r["_l3node"], f"item {r['clause']} {r['item']}: no level-3 item "
                                                     f"{r['l3_key']!r} in the catalogue", "l3_key")
            for name in ("title_zh", "title_en", "evidence"):
                if r[name] is None:
                    r[name] = anchor[name]
        if r["evidence"] is None:
            r["evidence"] = Evidence(kind="assessor")

    resolve: dict[str, Any] = {}
    for r in records:
        resolve[r["unit"]] = r
        resolve.setdefault(f"{r['clause']} {r['item']}", r)
    cases: list[HighRiskCase] = []
    for f, root in case_files:
        cases.extend(_load_cases(f, root, resolve))

    # catalogue order whatever the file names: level, part (general first), family, unit sequence
    records.sort(key=lambda r: (r["level"], PARTS[r["part"]], FAMILY_ORDER.index(r["family"]), r["unit"]))
    reqs = [Requirement(**{k: v for k, v in r.items() if not k.startswith("_") and k != "importance"},
                        importance=r["importance"] or "general") for r in records]
    index = _case_index(cases)
    reqs = [r if rec["importance"] else replace(r, importance=_importance(r, index))
            for r, rec in zip(reqs, records)]
    return Catalogue(requirements=reqs, high_risk=cases)


def derived_importance(req: Requirement, cases: list[HighRiskCase]) -> str:
    """The default importance of an item (1x/2x/3x weight in the 2021 scoring method).

    key: a high-risk case applicable at the item's level points at it (by unit, key or level-3 equivalent);
    important: a technical item (PES..SMC or an extension's technical family) that a detection rule can evidence;
    general: everything else.
    """
    return _importance(req, _case_index(cases))


def _case_index(cases: list[HighRiskCase]) -> dict[str, int]:
    """ref -> lowest min_level of the cases naming it (one pass instead of items x cases)."""
    index: dict[str, int] = {}
    for c in cases:
        for ref in c.items:
            index[ref] = min(index.get(ref, 5), c.min_level)
    return index


def _importance(req: Requirement, index: dict[str, int]) -> str:
    if any(req.level >= index.get(name, 5) for name in _names(req)):
        return "key"
    if req.family in TECHNICAL and req.evidence.rule_tags:
        return "important"
    return "general"


def _names(req: Requirement) -> set[str]:
    """How high-risk cases may name an item: its unit, its level-3 key (own key at level 3, l3_key elsewhere),
    and at level 4 its own key (level-4-only items such as emergency power)."""
    names = {req.unit, req.key if req.level == 3 else req.l3_key}
    if req.level == 4:
        names.add(req.key)
    names.discard("")
    return names


def refers_to(case: HighRiskCase, req: Requirement) -> bool:
    names = _names(req)
    return any(ref in names for ref in case.items)


# ---------------------------------------------------------------------------------------------------- lookups


def normalise_tag(tag: str) -> str:
    t = tag.strip().lower()
    return t if t.startswith("mlps.") else f"mlps.{t}"


def by_unit(cat: Catalogue, unit: str) -> Requirement | None:
    u = unit.strip().upper()
    return next((r for r in cat.requirements if r.unit == u), None)


def by_key(cat: Catalogue, key: str, level: int = 3) -> list[Requirement]:
    """Items named `key` ("8.1.4.1 a", also "8.1.4.1.a") at `level`: the item itself, or the items whose
    level-3 equivalent it is."""
    k = _key(key)
    own = [r for r in cat.requirements if r.level == level and r.key == k]
    return own or [r for r in cat.requirements if r.level == level and r.l3_key == k]


def _key(key: str) -> str:
    k = key.strip()
    m = re.match(r"^(\d+(?:\.\d+){3})[ .]?([a-z])$", k)
    return f"{m.group(1)} {m.group(2)}" if m else k


def by_rule_tag(cat: Catalogue, tag: str, level: int | None = 3) -> list[Requirement]:
    """Items a detection-rule tag bears on (`mlps.8.1.3.3` or `mlps.8.1.3.3.a`; the `mlps.` prefix is optional)."""
    t = normalise_tag(tag)
    return [r for r in cat.requirements if t in r.evidence.rule_tags and (level is None or r.level == level)]


def cases_for(cat: Catalogue, req: Requirement) -> list[HighRiskCase]:
    """High-risk cases that apply to `req` at its level."""
    return [c for c in cat.high_risk if req.level >= c.min_level and refers_to(c, req)]


def find(cat: Catalogue, ref: str, level: int = 3) -> list[Requirement]:
    """A unit id, an item key or a control-point clause (all its items) at `level`."""
    r = by_unit(cat, ref)
    if r is not None:
        return [r]
    found = by_key(cat, ref, level)
    if found:
        return found
    clause = ref.strip()
    return [r for r in cat.requirements if r.clause == clause and (r.level == level or clause[0] != "8")]


def counts(cat: Catalogue) -> dict[tuple[int, str], tuple[int, int]]:
    """(level, part) -> (control points, items)."""
    out: dict[tuple[int, str], tuple[set, int]] = {}
    for r in cat.requirements:
        cps, n = out.get((r.level, r.part), (set(), 0))
        cps.add(r.clause)
        out[(r.level, r.part)] = (cps, n + 1)
    return {k: (len(v[0]), v[1]) for k, v in sorted(out.items())}
