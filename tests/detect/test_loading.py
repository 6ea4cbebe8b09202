"""Loading: the public SigmaHQ rules load unchanged and match exactly the corpus ground truth; hostile or broken
rules fail at load time with file, line and reason, or run at bounded cost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sentinel.detect import Engine, RuleError, RuleSet, builtin_dir
from sentinel.events import Event

from detect_helpers import matches, rule

# MANIFEST section 3: (log file prefix, rule file stem) -> matching line numbers; every other pair matches nothing.
EXPECTED = {
    ("dev_log03", "web_source_code_enumeration"): [9],
    ("dev_log09", "web_path_traversal_exploitation_attempt"): [1],
    ("dev_log10", "web_win_webshells_in_access_logs"): [2, 4],
    ("dev_log11", "web_susp_useragents"): [1, 2],
}


def _events(log: Path) -> list[tuple[int, dict]]:
    try:
        from sentinel.logs.parse import LineParser
    except ImportError:  # pragma: no cover
        pytest.skip("sentinel.logs is not available")
    parser = LineParser()
    out = []
    for n, line in enumerate(log.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        ev = parser.parse(line, f"{log}:{n}")
        if isinstance(ev, Event):
            out.append((n, ev.to_dict()))
    return out


def test_corpus_sigma_rules_match_the_manifest_ground_truth(corpus):
    rs = RuleSet.load([corpus / "sigma"], builtin=False)
    assert len(rs.rules) == 5
    stem = {r.meta.id: Path(r.meta.path).stem for r in rs.rules}
    got: dict[tuple[str, str], list[int]] = {}
    for log in sorted((corpus / "logs").glob("*.log")):
        eng = Engine(rs)
        for n, ev in _events(log):
            for r, why in eng.explain(ev):
                assert why, "a match must say why"
                got.setdefault((log.name[:9], stem[r.meta.id]), []).append(n)
    assert got == EXPECTED


def test_corpus_rules_metadata(corpus):
    rs = RuleSet.load([corpus / "sigma"], builtin=False)
    by_stem = {Path(r.meta.path).stem: r.meta for r in rs.rules}
    m = by_stem["web_win_webshells_in_access_logs"]
    assert m.level == "high" and m.attack == ["T1505.003"] and m.layer == "application"
    assert m.kinds == ("http_access", "http")
    assert by_stem["lnx_sshd_susp_ssh"].kinds == ("auth", "syslog")


def test_builtin_rule_pack_loads():
    if not builtin_dir().is_dir():
        pytest.skip("no rules/ directory")
    rs = RuleSet.load([], builtin=True, strict=False)
    # the rule pack is written concurrently: report its errors rather than hide them
    assert rs.rules, [str(e) for e in rs.errors]


def _err(load, text) -> RuleError:
    with pytest.raises(RuleError) as info:
        load(text)
    return info.value


def test_invalid_yaml_names_file_and_line(load):
    e = _err(load, "title: x\nlogsource:\n  category: webserver\ndetection: [unclosed\n")
    assert e.source.endswith("r0.yml") and e.position and e.position.startswith("line ")
    assert "invalid YAML" in e.message


def test_unknown_modifier_is_a_load_error(load):
    e = _err(load, rule("sel:\n  uri|nosuchmod: x\ncondition: sel"))
    assert "nosuchmod" in str(e) and e.position == "line 8"


def test_unknown_field_is_a_load_error(load):
    e = _err(load, rule("sel:\n  no_such_field: x\ncondition: sel"))
    assert "no_such_field" in e.message and e.position == "line 8"


def test_unmapped_sigma_field_is_a_load_error(load):
    text = "title: x\nlogsource:\n  category: webserver\ndetection:\n  sel:\n    cs-cookie|contains: x\n  condition: sel\n"
    e = _err(load, text)
    assert "cs-cookie" in e.message and e.position == "line 6"


def test_unknown_logsource_is_a_load_error(load):
    text = "title: x\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n"
    e = _err(load, text)
    assert "not produced by any Sentinel sensor" in e.message and e.position == "line 2"


def test_bad_mlps_tag_is_a_load_error(load):
    e = _err(load, rule("sel:\n  method: GET\ncondition: sel", extra="tags:\n  - mlps.level3\n"))
    assert "mlps.level3" in e.message


def test_catastrophic_regex_is_rejected(load):
    e = _err(load, rule("sel:\n  uri|re: '^(a+)+$'\ncondition: sel"))
    assert "nested unbounded quantifiers" in e.message and e.position == "line 8"


def test_polynomial_regex_is_rejected(load):
    e = _err(load, rule("sel:\n  line|re: '.*a.*a.*a.*b'\ncondition: sel"))
    assert "polynomial" in e.message


def test_allowed_regex_runs_at_bounded_cost_on_a_hostile_line(load):
    # `.*a.*b` is accepted (the leading .* is dropped); on 1 MB of "a" plain `re` would need hours
    rs = load(rule("sel:\n  line|re: '.*a.*b'\ncondition: sel"))
    eng = Engine(rs)
    ev = {"ts": 1.0, "kind": "http_access", "line": "a" * 1_000_000}
    t0 = time.perf_counter()
    assert eng.process(ev) == []
    assert time.perf_counter() - t0 < 2
    assert eng.process({**ev, "line": "xxaxxb"})  # and it still matches what it should


def test_huge_timespan_is_rejected(load):
    base = rule("sel:\n  method: GET\ncondition: sel", extra="name: base_get\n")
    corr = """
title: c
correlation:
    type: event_count
    rules: [base_get]
    group-by: [src_ip]
    timespan: 1y
    condition: {gte: 2}
"""
    with pytest.raises(RuleError) as info:
        load(base, corr)
    assert "timespan 1y" in info.value.message and info.value.position == "line 7"


def test_unknown_correlation_reference_is_a_load_error(load):
    corr = "title: c\ncorrelation:\n    type: event_count\n    rules: [nope]\n    timespan: 1m\n    condition: {gte: 2}\n"
    with pytest.raises(RuleError) as info:
        load(corr)
    assert "unknown rule 'nope'" in info.value.message


def test_non_strict_load_collects_every_error(load):
    rs = load(rule("sel:\n  bogus: 1\ncondition: sel"), rule("sel:\n  method: GET\ncondition: sel").replace("0001", "0002"),
              strict=False)
    assert len(rs.rules) == 1 and len(rs.errors) == 1


def test_wildcard_selector_and_keyword_over_all_strings_for_packet_events(load):
    from sentinel.events.transport import Http

    rs = load(rule("keywords:\n  - 'evil.example'\ncondition: keywords", category="http"))
    assert matches(rs, Http(ts=1.0, method="GET", host="EVIL.example", uri="/").to_dict())
    assert not matches(rs, Http(ts=1.0, method="GET", host="good.example", uri="/").to_dict())
