"""Security protection level grading (定级) per GB/T 22240-2020.

Two grading elements -- the object harmed (受侵害的客体) and the degree of harm (侵害程度) -- are judged separately
for business information security (业务信息安全, S) and system service security (系统服务安全, A); each pair
gives a level through the same matrix (Tables 2 and 3 equal Table 1); the system's level is the higher of the
two. The result keeps the combination code (`S3A2`) that decides which S-, A- and G-class requirements apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError

#: harmed objects, in the order the standard asks to check them (highest first)
OBJECTS: dict[str, tuple[str, str]] = {
    "national": ("国家安全", "national security"),
    "society": ("社会秩序、公共利益", "social order and public interest"),
    "rights": ("公民、法人和其他组织的合法权益", "lawful rights of citizens, legal persons and organisations"),
}
DEGREES: dict[str, tuple[str, str]] = {
    "general": ("一般损害", "general harm"),
    "serious": ("严重损害", "serious harm"),
    "particularly-serious": ("特别严重损害", "particularly serious harm"),
}

#: GB/T 22240-2020 Table 1 (rows: object; columns: degree)
MATRIX: dict[str, dict[str, int]] = {
    "rights": {"general": 1, "serious": 2, "particularly-serious": 2},
    "society": {"general": 2, "serious": 3, "particularly-serious": 4},
    "national": {"general": 3, "serious": 4, "particularly-serious": 5},
}

LEVEL_ZH = {1: "第一级", 2: "第二级", 3: "第三级", 4: "第四级", 5: "第五级"}

_OBJECT_ALIASES = {
    "national": "national", "national-security": "national", "nation": "national", "国家安全": "national",
    "society": "society", "social": "society", "social-order": "society", "public": "society",
    "public-interest": "society", "社会秩序": "society", "公共利益": "society", "社会秩序、公共利益": "society",
    "rights": "rights", "citizens": "rights", "legal-persons": "rights", "organisations": "rights",
    "合法权益": "rights", "公民、法人和其他组织的合法权益": "rights", "公民法人和其他组织的合法权益": "rights",
}
_DEGREE_ALIASES = {
    "general": "general", "一般": "general", "一般损害": "general",
    "serious": "serious", "严重": "serious", "严重损害": "serious",
    "particularly-serious": "particularly-serious", "particularly_serious": "particularly-serious",
    "very-serious": "particularly-serious", "特别严重": "particularly-serious", "特别严重损害": "particularly-serious",
}


@dataclass(frozen=True)
class Judgement:
    """One side (S or A): which matrix cell and the level it gives."""

    aspect: str  # "S" | "A"
    object: str  # key of OBJECTS
    degree: str  # key of DEGREES
    level: int

    @property
    def cell(self) -> tuple[int, int]:
        """1-based (row, column) of the matrix cell, rows in the table's order (rights, society, national)."""
        return (("rights", "society", "national").index(self.object) + 1, tuple(DEGREES).index(self.degree) + 1)


@dataclass(frozen=True)
class Grading:
    s: Judgement
    a: Judgement
    level: int
    reasons_zh: list[str] = field(default_factory=list)
    reasons_en: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        """`S3A2`: the S- and A-levels whose requirement classes apply."""
        return f"S{self.s.level}A{self.a.level}"

    @property
    def full_code(self) -> str:
        """`S3A2G3` as reports print it (G = the system level)."""
        return f"{self.code}G{self.level}"

    def to_dict(self) -> dict:
        side = lambda j: {"object": j.object, "object_zh": OBJECTS[j.object][0], "object_en": OBJECTS[j.object][1],
                          "degree": j.degree, "degree_zh": DEGREES[j.degree][0], "degree_en": DEGREES[j.degree][1],
                          "level": j.level, "cell": list(j.cell)}
        return {"level": self.level, "level_zh": LEVEL_ZH[self.level], "code": self.code,
                "full_code": self.full_code, "s": side(self.s), "a": side(self.a),
                "reasons_zh": self.reasons_zh, "reasons_en": self.reasons_en}


def parse_object(value: str, source: str = "--object") -> str:
    key = _OBJECT_ALIASES.get(value.strip().lower().replace("_", "-").replace(" ", "-"))
    if key is None:
        raise InputError(source, f"unknown harmed object {value!r} (use national, society or rights; "
                                 "国家安全, 社会秩序/公共利益 or 合法权益)")
    return key


def parse_degree(value: str, source: str = "--degree") -> str:
    key = _DEGREE_ALIASES.get(value.strip().lower().replace("_", "-").replace(" ", "-"))
    if key is None:
        raise InputError(source, f"unknown degree of harm {value!r} (use general, serious or particularly-serious; "
                                 "一般, 严重 or 特别严重)")
    return key


def judge(aspect: str, obj: str, degree: str) -> Judgement:
    return Judgement(aspect=aspect, object=obj, degree=degree, level=MATRIX[obj][degree])


def grade(s_object: str, s_degree: str, a_object: str, a_degree: str, *,
          public_big_data: bool = False) -> Grading:
    """Grade a system. Objects/degrees may be given as keys, English aliases or Chinese names.

    public_big_data: a big-data platform holding many citizens' personal data and serving the public is in
    principle level 3 or higher (GB/T 22240-2020 §7); the floor is applied and explained.
    """
    s = judge("S", parse_object(s_object, "--s-object"), parse_degree(s_degree, "--s-degree"))
    a = judge("A", parse_object(a_object, "--a-object"), parse_degree(a_degree, "--a-degree"))
    zh, en = [], []
    for j, name_zh, name_en in ((s, "业务信息安全", "Business information security (S)"),
                                (a, "系统服务安全", "System service security (A)")):
        row, col = j.cell
        zh.append(f"{name_zh}：受侵害客体为{OBJECTS[j.object][0]}，侵害程度为{DEGREES[j.degree][0]}，"
                  f"对应定级矩阵第{row}行第{col}列，等级为{LEVEL_ZH[j.level]}")
        en.append(f"{name_en}: harms {OBJECTS[j.object][1]} with {DEGREES[j.degree][1]}; matrix row {row}, "
                  f"column {col} gives level {j.level}")
    level = max(s.level, a.level)
    higher = "S" if s.level >= a.level else "A"
    zh.append(f"系统等级取两者较高者：{LEVEL_ZH[level]}（{'业务信息安全' if higher == 'S' else '系统服务安全'}决定）")
    en.append(f"The system level is the higher of the two: level {level} (set by {higher})")
    if public_big_data and level < 3:
        level = 3
        zh.append("涉及大量公民个人信息并提供公共服务的大数据平台原则上不低于第三级，提升为第三级")
        en.append("A big-data platform with many citizens' personal data serving the public is in principle at "
                  "least level 3: raised to level 3")
    if level >= 2:
        zh.append("第二级及以上须经专家评审、主管部门核准（如有）并向公安机关备案")
        en.append("Level 2 and above needs expert review, regulator approval where one exists, and filing with "
                  "public security")
    else:
        zh.append("第一级可由运营者自主定级")
        en.append("Level 1 may be self-determined by the operator")
    if level == 5:
        zh.append("第五级的基本要求未在 GB/T 22239-2019 中给出，测评参照第四级要求及专门要求")
        en.append("GB/T 22239-2019 gives no level-5 requirements; evaluation uses level 4 plus special rules")
    return Grading(s=s, a=a, level=level, reasons_zh=zh, reasons_en=en)
