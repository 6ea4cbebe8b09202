"""The MLPS 2.0 catalogue (levels/**/*.yaml): counts as the reference states them, well-formed ids, the link to the
detection rules and high-risk cases, the lookups, and located errors for broken catalogue files.

Expected numbers come from /work/shared/reference/standards.md (§1.3-§1.6, §2.3); they are written out here, not
computed from the data under test.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sentinel.compliance.catalogue import (
    LEVELS_DIR, TECHNICAL, by_key, by_rule_tag, by_unit, cases_for, counts, find, load_catalogue,
)
from sentinel.compliance.model import PARTS
from sentinel.errors import InputError

REPO = Path(__file__).resolve().parents[2]

#: reference §1.3 table: (level, part) -> (control points, items); level-4 general and cloud are given as ranges
COUNTS = {
    (1, "general"): (42, 55), (2, "general"): (68, 135), (3, "general"): (71, 211),
    (1, "cloud"): (7, 11), (2, "cloud"): (13, 29), (3, "cloud"): (16, 46),
    (1, "iot"): (3, 4), (2, "iot"): (4, 7), (3, "iot"): (8, 21), (4, "iot"): (8, 22),
}
L4_GENERAL_ITEMS = range(228, 233)  # "≈228–232"
L4_CLOUD_ITEMS = range(48, 50)  # "≈48–49"

#: reference §1.4: level-3 general items per control point
L3_CP_ITEMS = {
    "8.1.1.1": 2, "8.1.1.2": 1, "8.1.1.3": 3, "8.1.1.4": 2, "8.1.1.5": 3, "8.1.1.6": 3, "8.1.1.7": 2, "8.1.1.8": 1,
    "8.1.1.9": 3, "8.1.1.10": 2,
    "8.1.2.1": 5, "8.1.2.2": 2, "8.1.2.3": 1,
    "8.1.3.1": 4, "8.1.3.2": 5, "8.1.3.3": 4, "8.1.3.4": 2, "8.1.3.5": 4, "8.1.3.6": 1,
    "8.1.4.1": 4, "8.1.4.2": 7, "8.1.4.3": 4, "8.1.4.4": 6, "8.1.4.5": 1, "8.1.4.6": 1, "8.1.4.7": 2, "8.1.4.8": 2,
    "8.1.4.9": 3, "8.1.4.10": 2, "8.1.4.11": 2,
    "8.1.5.1": 2, "8.1.5.2": 2, "8.1.5.3": 2, "8.1.5.4": 6,
    "8.1.6.1": 1, "8.1.6.2": 3, "8.1.6.3": 2, "8.1.6.4": 1,
    "8.1.7.1": 3, "8.1.7.2": 2, "8.1.7.3": 3, "8.1.7.4": 3, "8.1.7.5": 3,
    "8.1.8.1": 3, "8.1.8.2": 2, "8.1.8.3": 3, "8.1.8.4": 4,
    "8.1.9.1": 4, "8.1.9.2": 3, "8.1.9.3": 3, "8.1.9.4": 7, "8.1.9.5": 3, "8.1.9.6": 3, "8.1.9.7": 2, "8.1.9.8": 3,
    "8.1.9.9": 3, "8.1.9.10": 3,
    "8.1.10.1": 3, "8.1.10.2": 3, "8.1.10.3": 2, "8.1.10.4": 4, "8.1.10.5": 2, "8.1.10.6": 10, "8.1.10.7": 2,
    "8.1.10.8": 2, "8.1.10.9": 2, "8.1.10.10": 3, "8.1.10.11": 3, "8.1.10.12": 4, "8.1.10.13": 4, "8.1.10.14": 4,
}
L3_FAMILY_ITEMS = {"PES": 22, "CNS": 8, "ABS": 20, "CES": 34, "SMC": 12,
                   "PSS": 7, "ORS": 14, "HRS": 12, "CMS": 34, "MMS": 48}
#: reference §1.6: level-3 cloud items per control point
L3_CLOUD_CP_ITEMS = {"8.2.1.1": 1, "8.2.2.1": 5, "8.2.3.1": 2, "8.2.3.2": 4, "8.2.3.3": 2, "8.2.4.1": 1,
                     "8.2.4.2": 2, "8.2.4.3": 3, "8.2.4.4": 3, "8.2.4.5": 4, "8.2.4.6": 4, "8.2.4.7": 2,
                     "8.2.5.1": 4, "8.2.6.1": 5, "8.2.6.2": 3, "8.2.7.1": 1}
#: reference §1.3: control points tagged S or A (family, name; general part); everything else is G
S_POINTS = {("PES", "电磁防护"), ("CNS", "可信验证"), ("ABS", "可信验证")} | {
    ("CES", n) for n in ("身份鉴别", "访问控制", "可信验证", "数据完整性", "数据保密性", "剩余信息保护", "个人信息保护")}
A_POINTS = {("PES", "电力供应"), ("CES", "数据备份恢复")}
#: reference §2.3: high-risk case ids and minimum levels (general 42, IoT 4)
GENERAL_CASES = {
    "6.1.1.1": 3, "6.1.2.1": 3, "6.1.3.1": 3, "6.1.3.2": 4,
    "6.2.1.1": 3, "6.2.1.2": 2, "6.2.1.3": 3, "6.2.2.1": 3,
    "6.3.1.1": 2, "6.3.1.2": 3, "6.3.2.1": 2, "6.3.3.1": 2, "6.3.3.2": 3, "6.3.3.3": 3,
    "6.4.1.1": 2, "6.4.1.2": 2, "6.4.1.3": 3, "6.4.2.1": 2, "6.4.2.2": 3, "6.4.3.1": 2, "6.4.3.2": 2, "6.4.3.3": 2,
    "6.4.4.1": 2, "6.4.5.1": 3, "6.4.5.2": 3, "6.4.6.1": 3, "6.4.6.2": 3, "6.4.6.3": 4, "6.4.7.1": 2, "6.4.7.2": 2,
    "6.5.1.1": 3, "6.5.1.2": 3,
    "6.6.1.1": 3, "6.7.1.1": 3, "6.8.1.1": 2, "6.9.1.1": 2, "6.9.2.1": 3, "6.9.3.1": 3, "6.9.4.1": 3,
    "6.9.4.2": 3, "6.10.1.1": 2, "6.10.1.2": 3,
}
IOT_CASES = {"9.1.1.1": (3, False), "9.2.1.1": (2, False), "9.3.1.1": (3, True), "9.3.2.1": (3, True)}

UNIT = re.compile(r"^L([1-4])-([A-Z]{3})([1-5])-(\d{2})$")


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


# ------------------------------------------------------------------------------------------------------ counts


def test_counts_per_level_and_part_match_the_reference(cat):
    table = counts(cat)
    for key, expected in COUNTS.items():
        assert table[key] == expected, key
    cps, items = table[(4, "general")]
    assert cps == 71 and items in L4_GENERAL_ITEMS
    cps, items = table[(4, "cloud")]
    assert cps == 16 and items in L4_CLOUD_ITEMS


def test_level3_general_counts_per_family_and_control_point(cat):
    l3 = cat.for_level(3)
    per_family = Counter(r.family for r in l3)
    assert dict(per_family) == L3_FAMILY_ITEMS
    assert sum(n for f, n in per_family.items() if f in TECHNICAL) == 96
    assert sum(n for f, n in per_family.items() if f not in TECHNICAL) == 115
    assert dict(Counter(r.clause for r in l3)) == L3_CP_ITEMS


def test_level3_cloud_counts_per_control_point(cat):
    assert dict(Counter(r.clause for r in cat.for_level(3, ("cloud",)))) == L3_CLOUD_CP_ITEMS


def test_level3_iot_units_are_the_28448_ones(cat):
    units = [r.unit for r in cat.for_level(3, ("iot",))]
    expected = ([f"L3-PES4-{i:02d}" for i in range(1, 5)] + [f"L3-ABS4-{i:02d}" for i in range(1, 4)]
                + [f"L3-CES4-{i:02d}" for i in range(1, 12)] + [f"L3-MMS4-{i:02d}" for i in range(1, 4)])
    assert units == expected
    # 01-03 sensor node, 04-08 gateway (04 = max concurrent connections), 09-10 anti-replay, 11 fusion
    assert [by_unit(cat, f"L3-CES4-{i:02d}").clause for i in (1, 3, 4, 8, 9, 10, 11)] == \
        ["8.4.3.1", "8.4.3.1", "8.4.3.2", "8.4.3.2", "8.4.3.3", "8.4.3.3", "8.4.3.4"]
    assert "concurrent" in by_unit(cat, "L3-CES4-04").title_en


def test_level1_has_no_management_centre_and_level2_only_two_of_its_points(cat):
    assert not [r for r in cat.for_level(1) if r.family == "SMC"]
    assert {r.control_point_zh for r in cat.for_level(2) if r.family == "SMC"} == {"系统管理", "审计管理"}


# ------------------------------------------------------------------------------------------------- identifiers


def test_units_are_well_formed_unique_and_match_level_part_family(cat):
    units = [r.unit for r in cat.requirements]
    assert len(units) == len(set(units))
    for r in cat.requirements:
        m = UNIT.match(r.unit)
        assert m, r.unit
        assert (int(m.group(1)), m.group(2), int(m.group(3))) == (r.level, r.family, PARTS[r.part])
        assert r.clause.startswith(f"{r.level + 5}.{PARTS[r.part]}.")


def test_unit_sequences_and_item_letters_have_no_gaps(cat):
    seqs: dict[tuple, list[int]] = defaultdict(list)
    letters: dict[tuple, list[str]] = defaultdict(list)
    for r in cat.requirements:
        seqs[(r.level, r.part, r.family)].append(int(r.unit[-2:]))
        letters[(r.level, r.part, r.clause)].append(r.item)
    for key, s in seqs.items():
        assert sorted(s) == list(range(1, len(s) + 1)), key
    for key, ls in letters.items():
        assert ls == [chr(ord("a") + i) for i in range(len(ls))], key


def test_example_unit_is_the_first_boundary_protection_item(cat):
    r = by_unit(cat, "L3-ABS1-01")
    assert (r.clause, r.item, r.control_point_zh) == ("8.1.3.1", "a", "边界防护")


def test_titles_are_short_and_present(cat):
    for r in cat.requirements:
        assert 0 < len(r.title_zh) <= 60 and 0 < len(r.title_en) <= 90, r.unit


# ------------------------------------------------------------------------------------------- tags and layers


def test_s_a_g_tags_follow_the_reference(cat):
    for r in cat.requirements:
        if r.part != "general":
            assert r.tag == "G", r.unit
        elif (r.family, r.control_point_zh) in S_POINTS:
            assert r.tag == "S", r.unit
        elif (r.family, r.control_point_zh) in A_POINTS:
            assert r.tag == "A", r.unit
        else:
            assert r.tag == "G", r.unit


def test_layers(cat):
    for r in cat.requirements:
        if r.part == "iot":
            assert r.layer == "perception", r.unit
        elif r.family not in TECHNICAL or r.family == "SMC":
            assert r.layer == "management", r.unit
        elif r.family == "PES":
            assert r.layer == "physical", r.unit
        elif r.family in ("CNS", "ABS"):
            assert r.layer == "transport", r.unit
        else:
            assert r.layer == "application", r.unit


# ------------------------------------------------------------------------------------- evidence and rule tags


def _rule_pack_tags() -> set[str]:
    tags = set()
    for f in (REPO / "rules").rglob("*.yml"):
        tags.update(re.findall(r"\bmlps\.[0-9]+(?:\.[0-9]+)*(?:\.[a-z])?\b", f.read_text(encoding="utf-8")))
    return tags


def test_every_rule_pack_mlps_tag_maps_to_a_level3_item(cat):
    tags = _rule_pack_tags()
    assert len(tags) >= 10  # the packs carry many; an empty set would make this test vacuous
    missing = sorted(t for t in tags if not by_rule_tag(cat, t, level=3))
    assert not missing


def test_item_tags_name_the_item_they_sit_on_or_its_control_point(cat):
    for r in cat.for_level(3, ("general", "iot", "cloud")):
        for t in r.evidence.rule_tags:
            assert t in (f"mlps.{r.clause}", f"mlps.{r.clause}.{r.item}"), (r.unit, t)


def test_other_levels_inherit_evidence_from_their_level3_equivalent(cat):
    l2 = by_key(cat, "8.1.4.1 b", level=2)
    assert [r.unit for r in l2] == ["L2-CES1-02"]
    assert "mlps.8.1.4.1.b" in l2[0].evidence.rule_tags
    assert {r.unit for r in by_rule_tag(cat, "mlps.8.1.3.3.a", level=4)} == {"L4-ABS1-12"}
    for r in cat.requirements:
        if r.l3_key:
            anchor = by_key(cat, r.l3_key, 3)
            assert len(anchor) == 1 and anchor[0].family == r.family, r.unit


def test_evidence_kinds_are_consistent(cat):
    for r in cat.requirements:
        e = r.evidence
        if e.kind == "assessor":
            assert not (e.rule_tags or e.event_kinds or e.asset_facts), r.unit
        if e.rule_tags:
            assert e.kind == "observation", r.unit


# ------------------------------------------------------------------------------------------ high-risk cases


def test_high_risk_cases_cover_the_reference_lists(cat):
    cases = {c.id: c for c in cat.high_risk}
    for cid, lvl in GENERAL_CASES.items():
        assert cases[cid].min_level == lvl, cid
    for cid, (lvl, mitigable) in IOT_CASES.items():
        assert (cases[cid].min_level, cases[cid].mitigable) == (lvl, mitigable), cid
    for c in cat.high_risk:
        assert c.remediation_zh and c.remediation_en
        assert not c.mitigable or (c.mitigation_zh and c.mitigation_en), c.id


def test_every_high_risk_case_names_items_that_exist_at_its_min_level(cat):
    reached: dict[str, set[int]] = defaultdict(set)  # case id -> levels of the items it applies to
    for r in cat.requirements:
        for c in cases_for(cat, r):
            reached[c.id].add(r.level)
    for c in cat.high_risk:
        assert c.min_level in reached[c.id], f"{c.id} names no item that exists at level {c.min_level}"
        assert min(reached[c.id]) == c.min_level, c.id  # never applied below its min level


def test_specific_case_links(cat):
    assert [c.id for c in cases_for(cat, by_unit(cat, "L3-CES1-04"))] == ["6.4.1.3"]  # two-factor
    assert "9.2.1.1" in [c.id for c in cases_for(cat, by_unit(cat, "L2-ABS4-01"))]  # IoT admission, L2
    # cases name level-3 keys; a level-2 item is reached through its l3_key
    assert [c.id for c in cases_for(cat, by_unit(cat, "L2-CES1-03"))] == ["6.4.1.2"]
    assert [c.id for c in cases_for(cat, by_key(cat, "8.1.10.13 b", 2)[0])] == ["6.10.1.1"]  # 7.1.10.13 a
    assert not cases_for(cat, by_key(cat, "8.1.10.13 c", 2)[0])  # drills: 6.10.1.2 starts at level 3


def test_importance_rule(cat):
    for r in cat.requirements:
        if cases_for(cat, r):
            assert r.importance == "key", r.unit
        elif r.family in TECHNICAL and r.evidence.rule_tags:
            assert r.importance == "important", r.unit
        else:
            assert r.importance == "general", r.unit
    assert by_unit(cat, "L3-CES1-04").importance == "key"
    assert by_key(cat, "8.1.3.3 d")[0].importance == "important"
    assert by_key(cat, "8.1.6.1 a")[0].importance == "general"
    # case 6.4.1.3 starts at level 3: the same item is not key at level 4 unless another case says so
    assert by_key(cat, "8.1.4.1 d", 4)[0].importance == "key"


# ---------------------------------------------------------------------------------------------------- lookups


def test_lookups(cat):
    assert by_unit(cat, "l3-abs1-07").key == "8.1.3.2 c"
    assert [r.unit for r in by_key(cat, "8.1.3.3.a")] == ["L3-ABS1-10"]
    assert [r.unit for r in find(cat, "8.1.3.3")] == ["L3-ABS1-10", "L3-ABS1-11", "L3-ABS1-12", "L3-ABS1-13"]
    assert [r.unit for r in find(cat, "7.1.3.3")] == ["L2-ABS1-06"]
    assert {r.unit for r in by_rule_tag(cat, "8.4.3.2")} == {"L3-CES4-04", "L3-CES4-05", "L3-CES4-06"}
    assert find(cat, "L9-NOPE-01") == []


def test_loading_everything_is_fast():
    t = time.perf_counter()
    load_catalogue()
    assert time.perf_counter() - t < 1.0


# ------------------------------------------------------------------------------------------ docs counts table


def test_docs_counts_table_matches_the_data(cat):
    text = (REPO / "docs" / "levels.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d) \| (general|iot|cloud) \| (\d+) \| (\d+) \|", text, re.M)
    assert rows, "docs/levels.md lost its counts table"
    assert {(int(lv), p): (int(c), int(n)) for lv, p, c, n in rows} == counts(cat)


# ---------------------------------------------------------------------------------------- broken catalogues

GOOD = """\
level: 3
part: general
control_points:
- clause: '8.1.1.1'
  family: PES
  zh: 物理位置选择
  en: Site selection
  tag: G
  layer: physical
  items:
  - item: 'a'
    unit: L3-PES1-01
    zh: 甲
    en: first
  - item: 'b'
    unit: L3-PES1-02
    zh: 乙
    en: second
    evidence:
      kind: observation
      rule_tags: [mlps.8.1.1.1.b]
"""


def _write(tmp_path: Path, text: str, name: str = "level3.yaml") -> Path:
    d = tmp_path / "cat"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    return d


def _error(tmp_path: Path, text: str, **extra: str) -> InputError:
    d = _write(tmp_path, text)
    for name, body in extra.items():
        _write(tmp_path, body, name.removesuffix("_yaml") + ".yaml")
    with pytest.raises(InputError) as info:
        load_catalogue(d)
    return info.value


def test_minimal_catalogue_loads(tmp_path):
    cat = load_catalogue(_write(tmp_path, GOOD))
    assert [r.unit for r in cat.requirements] == ["L3-PES1-01", "L3-PES1-02"]
    assert cat.requirements[1].importance == "important"
    assert cat.requirements[1].source.endswith("level3.yaml:15")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    e = _error(tmp_path, GOOD.replace("    zh: 乙\n", "    zh: [乙\n"))
    assert e.source.endswith("level3.yaml") and e.position.startswith("line ")
    assert "YAML" in e.message


def test_unknown_field(tmp_path):
    e = _error(tmp_path, GOOD.replace("    en: first\n", "    en: first\n    colour: red\n"))
    assert e.position == "line 15, field 'colour'"
    assert "unknown field" in e.message


def test_missing_field(tmp_path):
    e = _error(tmp_path, GOOD.replace("    en: first\n", ""))
    assert e.position == "line 11, field 'en'"  # the item's mapping starts on line 11


def test_wrong_types(tmp_path):
    e = _error(tmp_path, GOOD.replace("level: 3", "level: three"))
    assert e.position == "line 1, field 'level'" and "integer" in e.message
    e = _error(tmp_path, GOOD.replace("  - item: 'b'", "  - item: no"))
    assert e.position == "line 15, field 'item'" and "quote it" in e.message
    e = _error(tmp_path, GOOD.replace("      rule_tags: [mlps.8.1.1.1.b]", "      rule_tags: mlps.8.1.1.1.b"))
    assert e.position == "line 21, field 'rule_tags'" and "list" in e.message


@pytest.mark.parametrize("old,new,field", [
    ("family: PES", "family: XYZ", "family"),
    ("tag: G", "tag: Q", "tag"),
    ("layer: physical", "layer: orbit", "layer"),
    ("kind: observation", "kind: rumour", "kind"),
    ("rule_tags: [mlps.8.1.1.1.b]", "rule_tags: [iso.27001]", "rule_tags"),
])
def test_bad_codes(tmp_path, old, new, field):
    e = _error(tmp_path, GOOD.replace(old, new))
    assert e.position.endswith(f"field '{field}'") and e.position.startswith("line ")


def test_letter_sequence_must_not_skip(tmp_path):
    e = _error(tmp_path, GOOD.replace("  - item: 'b'", "  - item: 'c'"))
    assert e.position == "line 15, field 'item'" and "expected 'b'" in e.message


def test_unit_out_of_sequence(tmp_path):
    e = _error(tmp_path, GOOD.replace("unit: L3-PES1-02", "unit: L3-PES1-03"))
    assert e.position == "line 16, field 'unit'" and "L3-PES1-02" in e.message


def test_duplicate_unit_across_files(tmp_path):
    e = _error(tmp_path, GOOD, other_yaml=GOOD)
    assert "duplicate unit L3-PES1-01" in e.message and e.position == "line 12, field 'unit'"
    assert e.source.endswith("other.yaml") and "level3.yaml:11" in e.message


def test_high_risk_case_with_unknown_item(tmp_path):
    cases = ("cases:\n- id: '6.1.1.1'\n  min_level: 3\n  zh: 甲\n  en: a\n  items: ['8.1.1.1 a', '8.1.1.1 z']\n"
             "  mitigable: false\n  remediation_zh: 乙\n  remediation_en: b\n")
    e = _error(tmp_path, GOOD, high_risk_yaml=cases)
    assert e.source.endswith("high_risk.yaml") and e.position == "line 6, field 'items'"
    assert "'8.1.1.1 z'" in e.message


def test_built_in_catalogue_copy_with_a_broken_edit_fails_where_edited(tmp_path):
    d = tmp_path / "levels"
    shutil.copytree(LEVELS_DIR, d)
    f = d / "iot" / "level3.yaml"
    lines = f.read_text(encoding="utf-8").splitlines()
    n = next(i for i, ln in enumerate(lines) if ln.strip() == "unit: L3-CES4-05")
    lines[n] = lines[n].replace("L3-CES4-05", "L3-CES4-04")
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_catalogue(d)
    assert info.value.source == str(f) and info.value.position == f"line {n + 1}, field 'unit'"
