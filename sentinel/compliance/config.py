"""Documented default constants of assessment, risk and scoring.

The exact constants of the 2021 deduction method and of GB/T 20984-2022's tables are not public (see
/work/shared/reference/standards.md §2.2(c), §3), so every number the project chose lives here, is named in every
output (`constants` in the JSON), and can be overridden by passing a changed copy (`dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

#: Reports dated after this day use the 2025 report template (《网络安全等级测评报告模版（2025版）》).
TEMPLATE_2025_FROM = date(2025, 3, 21)

#: weight of an item in the 2021 deduction method, by Requirement.importance (一般 / 重要 / 关键 -> 1x / 2x / 3x).
IMPORTANCE_WEIGHT: dict[str, int] = {"general": 1, "important": 2, "key": 3}

#: GB/T 28448 class codes of the technical part (the rest are management); the 2021 关注系数 y splits between them.
TECHNICAL_FAMILIES = ("PES", "CNS", "ABS", "CES", "SMC")

#: alert levels, low to high (Sigma levels)
ALERT_LEVELS = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class AssessConfig:
    """How observation evidence becomes item results (assess.py)."""

    #: alerts at these levels make an object `partial` instead of `nonconform`: an informational or low alert is a
    #: weak sign (a scanner's single probe, a policy note), not proof that the control is missing.
    partial_alert_levels: tuple[str, ...] = ("informational", "low")
    #: asset facts that are weak signs (partial, not nonconform): a silent device may be down for maintenance
    partial_facts: tuple[str, ...] = ("silent_device",)
    #: event kinds whose presence (with a system asset as src or dst) is itself a deficiency of the items that list
    #: them: a cleartext credential, a device that stopped reporting. Other kinds are context, not findings.
    deficiency_event_kinds: tuple[str, ...] = ("credential", "heartbeat_lost")
    #: an unknown observed device is "in the system's network" when it shares this IPv4 prefix with a system asset
    network_prefix_v4: int = 24
    network_prefix_v6: int = 64
    #: an inventory asset unseen this long before the newest observation is silent (seconds)
    silence_seconds: float = 86400.0


@dataclass(frozen=True)
class RiskConfig:
    """GB/T 20984 risk calculation R = R(L(T,V), F(Ia,Va)) (risk.py)."""

    method: str = "matrix"  # matrix | multiply
    #: criticality assumed for an asset without one (middle of 1-5)
    default_criticality: int = 3
    #: threat likelihood T = round(w_f*F + w_l*L + w_r*R), each factor 1-5 (frequency, alert level, recency)
    threat_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    #: alert count bands for the frequency factor: count >= bound -> factor (checked high to low); 0 alerts -> T = 1
    frequency_bands: tuple[tuple[int, int], ...] = ((1000, 5), (100, 4), (10, 3), (1, 2))
    #: alert level -> level factor
    level_factor: dict[str, int] = field(default_factory=lambda: {
        "informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5})
    #: age (seconds) of the newest alert at the end of the period -> recency factor: age <= bound -> factor
    recency_bands: tuple[tuple[float, int], ...] = ((86400.0, 5), (7 * 86400.0, 4), (30 * 86400.0, 3),
                                                   (90 * 86400.0, 2))
    #: vulnerability severity V from the worst finding on the asset: partial 2, nonconform 3, +1 when the item is
    #: important/key, 5 when the finding is high risk (unmitigated); no deficiency -> 1
    severity_partial: int = 2
    severity_nonconform: int = 3
    severity_high_risk: int = 5
    #: matrix method: one symmetric 5x5 matrix (row x, column y -> 1..5) used for L(T,V), F(Ia,Va) and R(L,F)
    matrix: tuple[tuple[int, ...], ...] = (
        (1, 1, 2, 2, 3),
        (1, 2, 2, 3, 3),
        (2, 2, 3, 4, 4),
        (2, 3, 4, 4, 5),
        (3, 3, 4, 5, 5),
    )
    #: multiplication method: L = sqrt(T*V), F = sqrt(Ia*Va), R = L*F on 1..25, banded by these upper bounds
    #: (the 2007 edition's example bands 1-5/6-10/11-15/16-20/21-25)
    multiply_bands: tuple[float, ...] = (5, 10, 15, 20, 25)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: risk levels 1..5
RISK_LEVELS: tuple[tuple[str, str], ...] = (("很低", "very low"), ("低", "low"), ("中", "medium"), ("高", "high"),
                                            ("很高", "very high"))


@dataclass(frozen=True)
class Scoring2021Config:
    """2021 deduction method (缺陷扣分法) constants (scoring.py)."""

    version: str = "2021.1"
    #: 关注系数 y: share of the technical part in the score (management gets 1 - y); 0.5 reproduces the 2019 formula
    focus_y: float = 0.5
    #: a 部分符合 item deducts this fraction of its full deduction
    partial_deduction: float = 0.5
    #: not-assessed items deduct like this result ("nonconform": absence of evidence is never conformity) or are
    #: left out of the score ("exclude"); the output is marked incomplete either way
    not_assessed_as: str = "nonconform"
    #: bands: 优 >= excellent and no medium/high-risk problem; 良 >= good and no high-risk; 中 >= fair and no
    #: high-risk; else 差 (reference §2.2(c), marked [U] there)
    excellent: float = 90.0
    good: float = 80.0
    fair: float = 70.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Scoring2025Config:
    """2025 compliance-rate method (符合率) constants (scoring.py)."""

    version: str = "2025.1"
    #: a 部分符合 item counts as this fraction of a 符合 item in the numerator
    partial_weight: float = 0.5
    #: 符合 needs a rate strictly above this (and no outstanding 重大风险隐患)
    conform_above: float = 0.90
    #: 不符合 below this; a rate in [basic_from, conform_above] (both ends included) is 基本符合
    basic_from: float = 0.60

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
