"""The compliance model shared by the catalogue, grading, assessment, risk and scoring.

Terms (GB/T 22239-2019 / 28448-2019 / 28449-2018):
* a *requirement item* (要求项) is one lettered item of a control point, e.g. clause `8.1.3.3` item `a`;
  its GB/T 28448 test unit id is e.g. `L3-ABS1-07` (level, class, part, sequence);
* a *control point* (控制点) groups items, e.g. 8.1.3.3 入侵防范; a *family* (安全类/层面) groups control points,
  e.g. 安全区域边界 (class code ABS);
* an *evaluation object* (测评对象) is what an item is checked on: an asset, a document, a person;
* results per item and object: 符合 / 部分符合 / 不符合 / 不适用, or not yet assessed.

Everything here is plain data; the logic lives in catalogue.py (loading), grading.py, assess.py, risk.py,
scoring.py. Titles are the project's own short wording, never the standard's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Result(str, Enum):
    CONFORM = "conform"  # 符合
    PARTIAL = "partial"  # 部分符合
    NONCONFORM = "nonconform"  # 不符合
    NOT_APPLICABLE = "not_applicable"  # 不适用
    NOT_ASSESSED = "not_assessed"  # 未测评: no evidence yet; never counted as conforming

    @property
    def zh(self) -> str:
        return {"conform": "符合", "partial": "部分符合", "nonconform": "不符合", "not_applicable": "不适用",
                "not_assessed": "未测评"}[self.value]


#: GB/T 28448 class codes -> (zh, en) family names
FAMILIES: dict[str, tuple[str, str]] = {
    "PES": ("安全物理环境", "Physical environment"),
    "CNS": ("安全通信网络", "Communication network"),
    "ABS": ("安全区域边界", "Area boundary"),
    "CES": ("安全计算环境", "Computing environment"),
    "SMC": ("安全管理中心", "Security management centre"),
    "PSS": ("安全管理制度", "Management policies"),
    "ORS": ("安全管理机构", "Management organisation"),
    "HRS": ("安全管理人员", "Management personnel"),
    "CMS": ("安全建设管理", "Construction management"),
    "MMS": ("安全运维管理", "Operation and maintenance management"),
}

#: extension parts: GB/T 22239 part number and 28448 class suffix
PARTS: dict[str, int] = {"general": 1, "cloud": 2, "mobile": 3, "iot": 4, "ics": 5}


@dataclass(frozen=True)
class Evidence:
    """How an item can be evidenced.

    kind: `observation` (alerts/events/asset facts bear on it), `asset` (asset attributes), `assessor` (only a
    person can judge: documents, interviews, site checks).
    rule_tags: MLPS tags on detection rules/alerts that bear on it (e.g. `mlps.8.1.4.1.b`); an alert with such a
    tag is evidence of non-conformity for the objects involved.
    event_kinds: event kinds whose presence/absence bears on it (e.g. `credential` for 通信传输).
    asset_facts: asset attributes that bear on it (e.g. `unknown_device`, `silent_device`).
    """

    kind: str
    rule_tags: tuple[str, ...] = ()
    event_kinds: tuple[str, ...] = ()
    asset_facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirement:
    unit: str  # GB/T 28448 test unit id, e.g. "L3-ABS1-07"
    level: int  # 1..4
    part: str  # general | cloud | iot | mobile | ics
    clause: str  # control point clause, e.g. "8.1.3.3"
    item: str  # item letter: "a", "b", ...
    family: str  # class code, key of FAMILIES
    control_point_zh: str
    control_point_en: str
    tag: str  # S | A | G
    layer: str  # smart-city layer it concerns: perception | transport | application | management | physical
    title_zh: str
    title_en: str
    evidence: Evidence
    importance: str = "general"  # general (一般) | important (重要) | key (关键): 1x/2x/3x weight in the 2021 method
    source: str = ""  # "file:line" of its definition, for error messages
    # the equivalent level-3 item ("8.1.4.1 a") for items of other levels; detection-rule tags and high-risk
    # cases are written against level-3 numbering. Empty for level-3 items and for items with no L3 equivalent.
    l3_key: str = ""

    @property
    def key(self) -> str:
        """`8.1.3.3 a`: how assessors name an item."""
        return f"{self.clause} {self.item}"


@dataclass(frozen=True)
class HighRiskCase:
    """A high-risk case (高风险判定): when a finding on `items` matches it, the finding is high risk unless a
    recorded mitigation is allowed to lower it."""

    id: str  # e.g. "6.4.1.2"
    min_level: int
    title_zh: str
    title_en: str
    items: tuple[str, ...]  # requirement keys "8.1.4.1 d" (level-3 numbering) or units
    mitigable: bool
    mitigation_zh: str = ""
    mitigation_en: str = ""
    remediation_zh: str = ""
    remediation_en: str = ""
    source: str = ""


@dataclass
class Catalogue:
    requirements: list[Requirement] = field(default_factory=list)
    high_risk: list[HighRiskCase] = field(default_factory=list)

    def for_level(self, level: int, parts: tuple[str, ...] = ("general",)) -> list[Requirement]:
        return [r for r in self.requirements if r.level == level and r.part in parts]
