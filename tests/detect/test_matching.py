"""Detection semantics: every modifier and condition form evaluated over real event dicts."""

from __future__ import annotations

import pytest

from sentinel.events.application import HttpAccess
from sentinel.events.transport import Dns

from detect_helpers import matches, rule


def http(**kw) -> dict:
    base = dict(ts=1.0, src_ip="10.0.0.5", dst_ip="10.0.0.1", method="GET", uri="/index.php?id=1", status=200,
                user_agent="Mozilla/5.0", line="10.0.0.5 - - [..] \"GET /index.php?id=1 HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\"")
    base.update(kw)
    return HttpAccess(**base).to_dict()


CASES = [
    # (detection, event overrides, expected)
    ("sel:\n  method: get\ncondition: sel", {}, True),  # case-insensitive equality
    ("sel:\n  method: POST\ncondition: sel", {}, False),
    ("sel:\n  uri: '/index.*'\ncondition: sel", {}, True),  # wildcard *
    ("sel:\n  uri: '/index.ph?'\ncondition: sel", {"uri": "/index.php"}, True),  # wildcard ?
    ("sel:\n  uri: '/index.ph?'\ncondition: sel", {"uri": "/index.phpx"}, False),
    ("sel:\n  uri|contains: 'ID=1'\ncondition: sel", {}, True),
    ("sel:\n  uri|startswith: '/INDEX'\ncondition: sel", {}, True),
    ("sel:\n  uri|endswith: 'id=2'\ncondition: sel", {}, False),
    ("sel:\n  uri|contains|all: ['index', 'id=']\ncondition: sel", {}, True),
    ("sel:\n  uri|contains|all: ['index', 'nope']\ncondition: sel", {}, False),
    ("sel:\n  uri|contains: ['nope', 'id=']\ncondition: sel", {}, True),  # list = OR
    ("sel:\n  uri|re: 'id=\\d+$'\ncondition: sel", {}, True),
    ("sel:\n  uri|re: 'INDEX'\ncondition: sel", {}, False),  # regex is case-sensitive
    ("sel:\n  uri|re|i: 'INDEX'\ncondition: sel", {}, True),
    ("sel:\n  line|re|m: '^second$'\ncondition: sel", {"line": "first\nsecond\nthird"}, True),
    ("sel:\n  line|re: '^second$'\ncondition: sel", {"line": "first\nsecond\nthird"}, False),
    ("sel:\n  line|re|s: 'first.second'\ncondition: sel", {"line": "first\nsecond"}, True),
    ("sel:\n  src_ip|cidr: '10.0.0.0/24'\ncondition: sel", {}, True),
    ("sel:\n  src_ip|cidr: '192.168.0.0/16'\ncondition: sel", {}, False),
    ("sel:\n  uri|base64: 'abc'\ncondition: sel", {"uri": "YWJj"}, True),
    ("sel:\n  uri|base64offset|contains: 'whoami'\ncondition: sel", {"uri": "/?c=d2hvYW1p"}, True),
    ("sel:\n  uri|windash|contains: ' -enc '\ncondition: sel", {"uri": "x /enc y"}, True),
    ("sel:\n  method|cased: GET\ncondition: sel", {"method": "get"}, False),
    ("sel:\n  method|cased: GET\ncondition: sel", {}, True),
    ("sel:\n  user|exists: true\ncondition: sel", {}, False),
    ("sel:\n  user|exists: true\ncondition: sel", {"user": "bob"}, True),
    ("sel:\n  user|exists: false\ncondition: sel", {}, True),
    ("sel:\n  user: null\ncondition: sel", {}, True),
    ("sel:\n  user: null\ncondition: sel", {"user": "bob"}, False),
    ("sel:\n  status|gte: 400\ncondition: sel", {"status": 404}, True),
    ("sel:\n  status|lt: 400\ncondition: sel", {"status": 404}, False),
    ("sel:\n  status|gt: 403\ncondition: sel", {"status": 404}, True),
    ("sel:\n  status|lte: 403\ncondition: sel", {"status": 404}, False),
    ("sel:\n  status: 404\ncondition: sel", {"status": 404}, True),  # number equality
    ("sel:\n  status: [500, 404]\ncondition: sel", {"status": 404}, True),  # numbers OR-ed (set lookup)
    ("sel:\n  status: [500, 403]\ncondition: sel", {"status": 404}, False),
    ("sel:\n  user|fieldref: ident\ncondition: sel", {"user": "Bob", "ident": "bob"}, True),
    ("sel:\n  user|fieldref: ident\ncondition: sel", {"user": "bob", "ident": "-"}, False),
    ("keywords:\n  - 'INDEX.PHP'\ncondition: keywords", {}, True),  # keywords: raw line, case-insensitive
    ("keywords:\n  - 'absent'\ncondition: keywords", {}, False),
    ("a:\n  method: GET\nb:\n  status: 500\ncondition: a and not b", {}, True),
    ("a:\n  method: GET\nb:\n  status: 200\ncondition: a and not b", {}, False),
    ("a:\n  method: PUT\nb:\n  status: 200\ncondition: a or b", {}, True),
    ("sel_a:\n  method: PUT\nsel_b:\n  status: 200\ncondition: 1 of sel_*", {}, True),
    ("sel_a:\n  method: PUT\nsel_b:\n  status: 200\ncondition: all of sel_*", {}, False),
    ("sel_a:\n  method: GET\nsel_b:\n  status: 200\ncondition: all of them", {}, True),
    ("a:\n  method: PUT\nb:\n  status: 200\nc:\n  uri|contains: id\ncondition: (a or b) and c", {}, True),
    ("a:\n  method: PUT\nb:\n  status: 200\nc:\n  uri|contains: zz\ncondition: (a or b) and c", {}, False),
    ("sel:\n  - method: PUT\n  - status: 200\ncondition: sel", {}, True),  # list of maps = OR
    ("sel:\n  method: GET\n  status: 500\ncondition: sel", {}, False),  # map = AND
]


@pytest.mark.parametrize("detection,overrides,expected", CASES)
def test_detection_semantics(load, detection, overrides, expected):
    rs = load(rule(detection))
    assert matches(rs, http(**overrides)) is expected


def test_list_fields_match_any_element(load):
    rs = load(rule("sel:\n  answers|endswith: '.evil.example'\ncondition: sel", category="dns"))
    ev = Dns(ts=1.0, query="a.example", answers=["1.2.3.4", "x.evil.example"]).to_dict()
    assert matches(rs, ev)
    ev["answers"] = ["1.2.3.4"]
    assert not matches(rs, ev)


def test_rules_only_see_their_event_kind(load):
    rs = load(rule("sel:\n  src_ip: 10.0.0.5\ncondition: sel", category="dns"))
    assert not matches(rs, http())  # same src_ip, wrong kind
    assert matches(rs, Dns(ts=1.0, src_ip="10.0.0.5").to_dict())


def test_webserver_rules_run_on_access_logs_and_http_events(load):
    from sentinel.events.transport import Http

    text = """
    title: scanner ua
    logsource:
        category: webserver
    detection:
        sel:
            cs-user-agent|contains: sqlmap
            sc-status: 404
            cs-uri-stem: /admin
        condition: sel
    """
    rs = load(text)
    assert matches(rs, http(user_agent="sqlmap/1.7", status=404, uri="/admin?x=1"))
    assert not matches(rs, http(user_agent="sqlmap/1.7", status=404, uri="/admin2?x=1"))
    assert matches(rs, Http(ts=1.0, method="GET", uri="/admin", user_agent="SQLMAP/1", status=404).to_dict())


def test_sshd_rules_only_see_sshd_programs(load):
    from sentinel.events.application import Syslog

    text = """
    title: sshd keyword
    logsource:
        product: linux
        service: sshd
    detection:
        keywords:
            - 'Corrupted MAC on input'
        condition: keywords
    """
    rs = load(text)
    line = "Nov 25 10:00:00 h sshd[1]: Corrupted MAC on input."
    assert matches(rs, Syslog(ts=1.0, program="sshd", message="Corrupted MAC on input.", line=line).to_dict())
    assert not matches(rs, Syslog(ts=1.0, program="cron", message="Corrupted MAC on input.", line=line).to_dict())
