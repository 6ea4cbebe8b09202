"""Assessment from evidence: assessor findings first, then alerts/events/asset facts; never conformity by silence."""

from __future__ import annotations

from datetime import date

import pytest

from sentinel.compliance.assess import (SYSTEM, Finding, Mitigation, Observations, System, current_findings,
                                        evaluate, get_system, load_mitigations, mark_remediated, parse_result,
                                        record_finding, resolve_item, save_system, tag_matches)
from sentinel.compliance.model import Catalogue, Evidence, HighRiskCase, Requirement, Result
from sentinel.errors import InputError

C, P, N, NA, X = Result.CONFORM, Result.PARTIAL, Result.NONCONFORM, Result.NOT_APPLICABLE, Result.NOT_ASSESSED


def req(unit, clause, item, family, layer, evidence, part="general", level=3, importance="general"):
    return Requirement(unit=unit, level=level, part=part, clause=clause, item=item, family=family,
                       control_point_zh="点", control_point_en="cp", tag="G", layer=layer, title_zh="标题",
                       title_en="title " + unit, evidence=evidence, importance=importance)


INTRUSION = req("L3-ABS1-07", "8.1.3.3", "a", "ABS", "transport", Evidence("observation", rule_tags=("mlps.8.1.3.3.a",)))
AUTH = req("L3-CES1-01", "8.1.4.1", "a", "CES", "application", Evidence("observation", rule_tags=("mlps.8.1.4.1",)),
           importance="key")
TRANSPORT = req("L3-CNS1-05", "8.1.2.2", "a", "CNS", "transport", Evidence("observation", event_kinds=("credential",)))
POLICY = req("L3-PSS1-01", "8.1.6.1", "a", "PSS", "management", Evidence("assessor"))
IOT_ACCESS = req("L3-ABS4-01", "8.4.1.1", "a", "ABS", "perception",
                 Evidence("observation", asset_facts=("unknown_device", "silent_device")), part="iot")
LEVEL2 = req("L2-ABS1-01", "7.1.3.3", "a", "ABS", "transport", Evidence("observation", rule_tags=("mlps.8.1.3.3.a",)),
             level=2)

CASES = [
    HighRiskCase("6.4.1.1", 2, "弱口令", "weak passwords", ("8.1.4.1 a",), mitigable=False),
    HighRiskCase("6.2.2.1", 3, "明文传输", "cleartext", ("L3-CNS1-05",), mitigable=True),
    HighRiskCase("9.2.1.1", 2, "非授权感知节点", "rogue nodes", ("8.4.1.1 a",), mitigable=False),
    HighRiskCase("9.9.9.9", 4, "四级才有", "level 4 only", ("8.1.3.3 a",), mitigable=False),
]
CAT = Catalogue([INTRUSION, AUTH, TRANSPORT, POLICY, IOT_ACCESS, LEVEL2], CASES)
SYS = System("city", 3, ("general", "iot"))
ASSETS = [
    {"name": "plc-1", "layer": "perception", "ip": "10.0.0.5", "criticality": 5, "protection_level": 3},
    {"name": "gw-1", "layer": "transport", "ip": "10.0.0.1", "criticality": 4, "protection_level": 3},
    {"name": "web-1", "layer": "application", "ip": "10.0.0.10", "criticality": 3, "protection_level": None},
]
WHEN = date(2026, 11, 25)


def alert(id_, controls, level="high", src="203.0.113.9", dst="10.0.0.10", count=12):
    return {"id": id_, "rule": f"r{id_}", "title": f"alert {id_}", "level": level, "controls": controls,
            "src": src, "dst": dst, "count": count, "first_seen": 1.7e9, "last_seen": 1.7e9 + 60}


def run(findings=(), mitigations=(), obs=None, method="2025"):
    out = evaluate(CAT, SYS, ASSETS, list(findings), list(mitigations), obs or Observations(), method=method,
                   when=WHEN)
    return out, {i["unit"]: i for i in out["items"]}


def test_without_evidence_everything_is_not_assessed_never_conforming():
    out, items = run()
    assert set(items) == {"L3-ABS1-07", "L3-CES1-01", "L3-CNS1-05", "L3-PSS1-01", "L3-ABS4-01"}  # level 3, both parts
    assert all(i["result"] == "not_assessed" for i in items.values())
    assert out["counts"]["not_assessed"] == 5 and out["counts"]["conform"] == 0
    assert out["score"] == 0.0 and out["conclusion"] == "不符合" and out["complete"] is False
    assert items["L3-ABS1-07"]["objects"] == {"gw-1": "not_assessed"}  # the transport asset
    assert items["L3-PSS1-01"]["objects"] == {"(system)": "not_assessed"}  # management: the system itself


def test_a_matching_alert_makes_the_object_nonconform_and_keeps_the_evidence():
    out, items = run(obs=Observations(alerts=[alert(7, ["8.1.4.1.b"])]))  # item tag is the whole clause 8.1.4.1
    auth = items["L3-CES1-01"]
    assert auth["result"] == "nonconform" and auth["objects"] == {"web-1": "nonconform"}
    ev = auth["evidence"][0]
    assert ev["source"] == "alert" and ev["alert_id"] == 7 and ev["title"] == "alert 7" and ev["object"] == "web-1"
    assert [h["case"] for h in auth["high_risk"]] == ["6.4.1.1"]  # weak-password case, L2+
    assert items["L3-ABS1-07"]["result"] == "not_assessed"  # 8.1.4.1.b says nothing about 8.1.3.3 a
    assert out["conclusion"] == "不符合"


def test_a_low_level_alert_gives_partial():
    _, items = run(obs=Observations(alerts=[alert(1, ["8.1.3.3"], level="low", dst="10.0.0.1")]))
    assert items["L3-ABS1-07"]["objects"] == {"gw-1": "partial"}
    _, items = run(obs=Observations(alerts=[alert(1, ["8.1.3.3"], level="low", dst="10.0.0.1"),
                                            alert(2, ["8.1.3.3.a"], level="medium", src="10.0.0.1", dst="198.51.100.1")]))
    assert items["L3-ABS1-07"]["objects"] == {"gw-1": "nonconform"}


def test_tags_match_by_clause_in_either_direction():
    assert tag_matches("8.1.3.3", "mlps.8.1.3.3.a")
    assert tag_matches("8.1.3.3.a", "mlps.8.1.3.3")
    assert tag_matches("MLPS.8.1.3.3.A", "8.1.3.3.a")
    assert not tag_matches("8.1.3.3.b", "mlps.8.1.3.3.a")
    assert not tag_matches("8.1.3.31", "8.1.3.3")


def test_alerts_on_hosts_outside_the_system_are_ignored():
    _, items = run(obs=Observations(alerts=[alert(3, ["8.1.4.1"], src="192.0.2.1", dst="192.0.2.2")]))
    assert items["L3-CES1-01"]["result"] == "not_assessed"


def test_assessor_findings_win_over_observations():
    obs = Observations(alerts=[alert(7, ["8.1.4.1"])])
    f = Finding("L3-CES1-01", C, "web-1", "MFA checked on site", "li", id=4)
    _, items = run([f], obs=obs)
    auth = items["L3-CES1-01"]
    assert auth["result"] == "conform" and auth["high_risk"] == []
    assert auth["evidence"][0]["source"] == "assessor" and auth["evidence"][0]["overrides"][0]["alert_id"] == 7


def test_a_system_wide_finding_applies_to_every_object_without_its_own():
    assets_two_transport = [*ASSETS, {"name": "sw-1", "layer": "transport", "ip": "10.0.0.2"}]
    fs = [Finding("L3-ABS1-07", C, SYSTEM, "IDS in place"), Finding("L3-ABS1-07", N, "sw-1", "no IDS span")]
    out = evaluate(CAT, SYS, assets_two_transport, fs, [], Observations(), method="2025", when=WHEN)
    item = next(i for i in out["items"] if i["unit"] == "L3-ABS1-07")
    assert item["objects"] == {"gw-1": "conform", "sw-1": "nonconform"} and item["result"] == "partial"


def test_cleartext_credentials_and_mitigation_of_a_mitigable_case():
    obs = Observations(events=[{"kind": "credential", "ip": "10.0.0.1", "role": "dst", "count": 3}])
    _, items = run(obs=obs)
    tr = items["L3-CNS1-05"]
    assert tr["result"] == "nonconform" and tr["evidence"][0]["kind"] == "credential" and tr["evidence"][0]["count"] == 3
    assert tr["high_risk"][0]["case"] == "6.2.2.1" and not tr["high_risk"][0]["mitigated"]
    _, items = run(mitigations=[Mitigation("L3-CNS1-05", "VPN tunnel between sites", True)], obs=obs)
    assert items["L3-CNS1-05"]["high_risk"][0]["mitigated"]
    _, items = run(mitigations=[Mitigation("L3-CNS1-05", "a note", False)], obs=obs)
    assert not items["L3-CNS1-05"]["high_risk"][0]["mitigated"]  # not judged strong enough to lower


def test_unmitigable_case_stays_high_risk_despite_a_mitigation():
    obs = Observations(alerts=[alert(7, ["8.1.4.1"])])
    out, items = run(mitigations=[Mitigation("L3-CES1-01", "lockout", True)], obs=obs, method="2021")
    assert not items["L3-CES1-01"]["high_risk"][0]["mitigated"]
    assert out["conclusion"] == "差"


def test_unknown_device_in_the_network_breaks_iot_access_control():
    obs = Observations(unknown_devices=[{"key": "aa:bb:cc:00:00:01", "ips": ["10.0.0.77"]}])
    _, items = run(obs=obs)
    iot = items["L3-ABS4-01"]
    assert iot["objects"] == {"plc-1": "nonconform"}
    assert iot["evidence"][0]["fact"] == "unknown_device" and iot["evidence"][0]["devices"] == ["aa:bb:cc:00:00:01"]
    assert iot["high_risk"][0]["case"] == "9.2.1.1"


def test_level_gates_high_risk_cases():
    obs = Observations(alerts=[alert(9, ["8.1.3.3.a"], dst="10.0.0.1")])
    _, items = run(obs=obs)
    assert items["L3-ABS1-07"]["result"] == "nonconform" and items["L3-ABS1-07"]["high_risk"] == []  # case is L4+


def test_remediated_high_risk_counts_before_but_not_after():
    f = Finding("L3-CES1-01", N, "web-1", "default password", remediated=True)
    conform = [Finding(u, C) for u in ("L3-ABS1-07", "L3-CNS1-05", "L3-PSS1-01", "L3-ABS4-01")]
    out, _ = run([f, *conform])
    hz = out["scoring"]["major_hazards"]
    assert hz["before_remediation"] == 1 and hz["remediated"] == 1 and hz["text"] == "1（1个已整改）"
    assert out["scoring"]["rate"] == 0.8 and out["conclusion"] == "基本符合"


def test_json_shape_and_risk_factors():
    out, _ = run(obs=Observations(alerts=[alert(7, ["8.1.4.1"])]))
    for k in ("system", "level", "method", "score", "conclusion", "counts", "high_risks", "items", "risk"):
        assert k in out
    web = next(r for r in out["risk"]["assets"] if r["asset"] == "web-1")
    assert web["factors"]["threat"]["alert_ids"] == [7]
    assert web["factors"]["vulnerability"]["value"] == 5  # unmitigated high-risk finding
    assert web["factors"]["asset_value"]["protection_level_from_system"]
    assert out["risk"]["system"]["max"]["asset"] == "web-1"


def test_item_names_and_results_in_either_language():
    reqs = CAT.for_level(3, ("general", "iot"))
    assert resolve_item(reqs, "8.1.3.3 a").unit == "L3-ABS1-07"
    assert resolve_item(reqs, "8.1.3.3.a").unit == "L3-ABS1-07"
    assert resolve_item(reqs, "l3-ces1-01").unit == "L3-CES1-01"
    with pytest.raises(InputError):
        resolve_item(reqs, "7.1.3.3 a")  # a level-2 item is not applicable to a level-3 system
    assert parse_result("部分符合") is P and parse_result("N/A") is NA and parse_result("Conform") is C
    with pytest.raises(InputError):
        parse_result("maybe")


def test_findings_are_stored_newest_first_and_remediation_marks_them(tmp_path):
    from sentinel.store import open_store

    engine = open_store(f"sqlite:///{tmp_path / 's.db'}")
    assert save_system(engine, SYS) == "added"
    assert save_system(engine, System("city", 3, ("general", "iot"), "S3A3")) == "updated"
    sys_ = get_system(engine, "city")
    assert sys_.sa_code == "S3A3" and sys_.parts == ("general", "iot")
    rec = record_finding(engine, sys_, AUTH, N, "admin/admin works", "web-1", "li", mitigation="lockout", lowers=True)
    from sentinel.integrity.ledger import recent  # the tamper-evident ledger holds every finding too

    entry = recent(engine, 1)[0]
    assert rec["ledger"] and entry.kind == "finding" and entry.ref == f"mlps_finding:{rec['id']}"
    assert entry.to_dict()["payload"]["evidence"] == "admin/admin works"
    record_finding(engine, sys_, AUTH, P, "password policy partly set", "web-1", "wang")
    cur = current_findings(engine, "city")
    assert [(f.unit, f.object, f.result, f.assessor) for f in cur] == [("L3-CES1-01", "web-1", P, "wang")]
    assert load_mitigations(engine, "city") == [Mitigation("L3-CES1-01", "lockout", True, "web-1")]
    assert mark_remediated(engine, "city", AUTH) == 1
    assert current_findings(engine, "city")[0].remediated
    with pytest.raises(InputError):
        get_system(engine, "nope")


def test_a_silent_device_is_a_weak_sign_unless_an_alert_says_more():
    _, items = run(obs=Observations(silent_assets=["plc-1"]))
    assert items["L3-ABS4-01"]["objects"] == {"plc-1": "partial"}
    assert items["L3-ABS4-01"]["evidence"][0]["fact"] == "silent_device"
    _, items = run(obs=Observations(silent_assets=["plc-1"], unknown_devices=[{"key": "k", "ips": ["10.0.0.9"]}]))
    assert items["L3-ABS4-01"]["objects"] == {"plc-1": "nonconform"}  # the system-wide fact is the stronger
    assert {e["fact"] for e in items["L3-ABS4-01"]["evidence"]} == {"silent_device", "unknown_device"}
