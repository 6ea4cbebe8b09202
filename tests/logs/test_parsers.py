"""Each log format, one line at a time: what a line means as an event."""

from sentinel.events.application import Auth, HttpAccess, Syslog
from sentinel.logs.parse import SKIP, LineParser


def parse(line, fmt="auto", year=2021):
    return LineParser(fmt, year=year, sensor="log:t").parse(line, "t.log:1")


def test_combined_line_gives_every_field_and_utc_time():
    ev = parse('10.0.0.1 - bob [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.0" 200 2326 "http://r/" "curl/8"')
    assert isinstance(ev, HttpAccess)
    assert (ev.src_ip, ev.user, ev.method, ev.uri, ev.version, ev.status, ev.bytes) == (
        "10.0.0.1", "bob", "GET", "/a?b=1", "HTTP/1.0", 200, 2326)
    assert (ev.referrer, ev.user_agent, ev.source) == ("http://r/", "curl/8", "t.log:1")
    assert ev.ts == 971211336.0  # 2000-10-10T20:55:36Z


def test_common_format_and_vhost_prefixes():
    ev = parse('1.2.3.4 - - [05/Mar/2021:09:01:38 +0100] "GET / HTTP/1.0" 200 -', "common")
    assert ev.bytes is None and ev.user_agent is None and ev.vhost is None
    ev = parse('site.example:443 1.2.3.4 - - [25/Oct/2021:11:05:52 +0200] "GET / HTTP/1.1" 403 6963 "-" "ua"')
    assert (ev.vhost, ev.src_ip) == ("site.example:443", "1.2.3.4")


def test_ipv6_client_is_compressed():
    ev = parse('2001:0db8:0000:0000:0000:0000:0000:0001 - - [29/Sep/2021:14:11:34 +0200] "GET / HTTP/1.1" 200 0 "-" "-"')
    assert ev.src_ip == "2001:db8::1"


def test_access_line_inside_a_syslog_header():
    line = 'Jan  1 00:00:00 web nginx: 10.1.1.1 - - [01/Jan/2021:00:00:00 +0000] "GET /x HTTP/1.1" 404 1 "-" "-"'
    ev = parse(line)
    assert isinstance(ev, HttpAccess) and ev.uri == "/x" and ev.line == line


def test_nginx_basic_auth_user_not_found_is_an_auth_failure():
    ev = parse('2021/10/05 12:00:00 [error] 1234#0: *5 user "foo" was not found in "/tmp/a.htpasswd", '
               'client: 127.0.0.1, server: _, request: "GET / HTTP/1.1"')
    assert isinstance(ev, Auth)
    assert (ev.outcome, ev.method, ev.user, ev.src_ip, ev.service) == ("failure", "basic", "foo", "127.0.0.1", "nginx")


def test_other_nginx_error_lines_are_syslog_events_with_severity():
    ev = parse("2021/10/05 12:00:00 [warn] 99#0: *1 an upstream response is buffered, client: ::1, server: x")
    assert isinstance(ev, Syslog) and ev.program == "nginx" and ev.severity == 4 and ev.src_ip == "::1"


def test_apache_error_basic_auth_and_other():
    ev = parse("[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error] [pid 10:tid 1] [client 31.33.58.75:50229] "
               "AH01618: user sss not found: /")
    assert isinstance(ev, Auth) and (ev.user, ev.src_ip, ev.src_port, ev.service) == ("sss", "31.33.58.75", 50229, "apache")
    ev = parse("[Fri Oct 08 17:08:41.203277 2021] [core:error] [pid 7005:tid 1] [client 88.1.2.3:14532] AH00126: x")
    assert isinstance(ev, Syslog) and ev.severity == 3 and ev.src_ip == "88.1.2.3"


def test_rfc3164_with_and_without_pri_and_year_from_caller():
    ev = parse("<38>Feb 12 14:10:21 h cron[5]: hello", year=2020)
    assert isinstance(ev, Syslog) and (ev.facility, ev.severity, ev.host, ev.program, ev.pid) == (4, 6, "h", "cron", 5)
    assert ev.ts == 1581516621.0  # 2020-02-12T14:10:21Z
    ev = parse("Feb 12 14:10:21 h kernel: x")
    assert ev.facility is None and ev.program == "kernel"


def test_rfc5424_with_structured_data():
    ev = parse('<38>1 2019-07-08T17:40:17.5-04:00 h.example app 55 ID1 [x@1 a="[b]"] the message')
    assert isinstance(ev, Syslog) and (ev.host, ev.program, ev.pid, ev.message) == ("h.example", "app", 55, "the message")
    assert ev.ts == 1562622017.5


def test_sshd_lines():
    ev = parse("Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2")
    assert (ev.outcome, ev.user, ev.src_ip, ev.src_port, ev.method, ev.reason) == (
        "failure", "ROOT", "194.117.26.69", 50273, "password", "invalid user")
    ev = parse("Mar  7 18:53:20 bar sshd[1556]: Accepted publickey for rda from 192.0.2.113 port 52100 ssh2: RSA x")
    assert (ev.outcome, ev.user, ev.method) == ("success", "rda", "publickey")
    ev = parse("Nov 23 21:50:37 h sshd[2]: error: maximum authentication attempts exceeded for root from 61.0.0.1 port 4 ssh2 [preauth]")
    assert (ev.outcome, ev.user, ev.src_ip) == ("failure", "root", "61.0.0.1")
    ev = parse("Jul 17 23:03:05 srv sshd[1]: Connection closed by authenticating user root 192.0.2.10 port 46038 [preauth]")
    assert (ev.outcome, ev.user, ev.src_ip) == ("failure", "root", "192.0.2.10")
    ev = parse("Jun  1 00:00:00 h sshd[3]: Disconnected from invalid user admin 192.0.2.9 port 5 [preauth]")
    assert (ev.outcome, ev.user, ev.src_ip) == ("failure", "admin", "192.0.2.9")
    ev = parse("Jun  1 00:00:00 h sshd[3]: Disconnected from user admin 192.0.2.9 port 5")
    assert isinstance(ev, Syslog)  # a normal logout


def test_sshd_user_injection_does_not_move_the_address():
    ev = parse("Nov 11 08:04:52 r sshd[2]: Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 "
               "from 127.0.0.1 port 58946 ssh2")
    assert ev.src_ip == "127.0.0.1" and ev.user == "test from 10.10.1.2 port 55555 ssh2"


def test_sshd_failure_without_address_takes_it_from_the_same_process():
    p = LineParser(year=2005)
    assert isinstance(p.parse("Feb 12 04:09:18 h sshd[7]: Connection from 115.249.163.77 port 51353", "a:1"), Syslog)
    ev = p.parse("Feb 12 04:09:21 h sshd[7]: Disconnecting: Too many authentication failures [preauth]", "a:2")
    assert (ev.outcome, ev.src_ip) == ("failure", "115.249.163.77")
    other = p.parse("Feb 12 04:09:21 h sshd[8]: Disconnecting: Too many authentication failures [preauth]", "a:3")
    assert other.outcome == "attempt" and other.src_ip is None


def test_sudo():
    ev = parse("Jan  1 00:00:00 h sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id")
    assert (ev.outcome, ev.user, ev.method, ev.service, ev.reason) == (
        "failure", "alice", "sudo", "sudo", "3 incorrect password attempts")
    ev = parse("Jan  1 00:00:00 h sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
               "tty=/dev/pts/0 ruser=alice rhost=  user=alice")
    assert (ev.outcome, ev.user, ev.service) == ("failure", "alice", "sudo")
    ev = parse("Jan  1 00:00:00 h sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id")
    assert ev.outcome == "success"


def test_json_lines():
    ev = parse('{"time": "2021-01-01T00:00:00Z", "remote_addr": "::ffff:10.0.0.9", "request": "GET /x HTTP/1.1", "status": 500}')
    assert isinstance(ev, HttpAccess) and (ev.src_ip, ev.method, ev.uri, ev.status, ev.ts) == ("10.0.0.9", "GET", "/x", 500, 1609459200.0)
    ev = parse('{"ts": 1609459200000, "msg": "hi", "program": "app"}', "jsonl")
    assert isinstance(ev, Syslog) and ev.ts == 1609459200.0 and ev.message == "hi"
    assert parse('{"no": "time"}', "jsonl") is None and parse("[1, 2]", "jsonl") is None


def test_comments_and_blank_lines_are_skipped_and_junk_is_unparsed():
    assert parse("# a comment") is SKIP and parse("") is SKIP and parse("   ") is SKIP
    assert parse("\ufffd\ufffd binary junk \x00") is None
    assert parse("Feb 12 14:10:21 h sshd[1]: x", "combined") is None
