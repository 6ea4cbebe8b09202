"""Cleartext logins (FTP, POP3, IMAP, Telnet): one Credential per attempt, with its outcome, never the secret."""

from __future__ import annotations

import base64
import random

import pytest

from sentinel.decode.base import Flow
from sentinel.decode.cleartext import (
    FtpDecoder,
    ImapDecoder,
    LineSplitter,
    Pop3Decoder,
    TelnetDecoder,
    looks_like_ftp_banner,
    looks_like_imap_greeting,
    looks_like_pop3_greeting,
    looks_like_telnet,
)

try:
    from .pcapfeed_iot import corpus_pcap, feed, tshark_fields
except ImportError:  # tests/decode is not a package
    from pcapfeed_iot import corpus_pcap, feed, tshark_fields

SECRET = "Tr0ub4dor&3"


def flow(port: int) -> Flow:
    return Flow(uid="Cct", proto="tcp", orig_ip="192.0.2.7", orig_port=51000, resp_ip="192.0.2.1", resp_port=port)


def run(cls, port: int, script: list[tuple[bool, bytes]], split: int | None = None):
    """Feed a conversation (True = client). `split` cuts every chunk into pieces of that size."""
    dec = cls(flow(port))
    events = []
    for i, (client, data) in enumerate(script):
        pieces = [data[j:j + split] for j in range(0, len(data), split)] if split else [data]
        for piece in pieces:
            events += dec.data(client, float(i), piece)
    events += dec.close(99.0)
    for e in events:
        assert SECRET not in repr(e.to_dict())
    return dec, events


def outcome(events) -> list[tuple]:
    return [(e.protocol, e.username, e.success, e.method) for e in events]


def test_ports_and_sniffers():
    assert (FtpDecoder.TCP_PORTS, Pop3Decoder.TCP_PORTS, ImapDecoder.TCP_PORTS) == ({21}, {110}, {143})
    assert TelnetDecoder.TCP_PORTS == {23, 2323}
    assert looks_like_ftp_banner(b"220 (vsFTPd 3.0.3)\r\n") and looks_like_ftp_banner(b"220-ProFTPD ready\r\n")
    assert not looks_like_ftp_banner(b"220 mail.example.org ESMTP Postfix\r\n")
    assert looks_like_pop3_greeting(b"+OK Dovecot ready.\r\n") and not looks_like_pop3_greeting(b"+OKAY")
    assert looks_like_imap_greeting(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    assert not looks_like_imap_greeting(b"* OK hello\r\n")
    assert looks_like_telnet(b"\xff\xfd\x18\xff\xfd\x20") and not looks_like_telnet(b"SSH-2.0-OpenSSH\r\n")


def test_line_splitter_caps_long_lines():
    sp = LineSplitter(cap=10)
    assert sp.feed(b"short\r\nabc") == [b"short"]
    assert sp.feed(b"defghijklmnop") == [b"abcdefghij"]  # cut at the cap
    assert sp.feed(b"qrs\r\nnext\n") == [b"next"]  # the rest of the long line is dropped
    assert len(sp.rest()) == 0


# --- FTP ---------------------------------------------------------------------------------------------------------

FTP_FAIL_THEN_OK = [
    (False, b"220-Welcome\r\n220 (vsFTPd 3.0.3)\r\n"),
    (True, b"USER admin\r\n"), (False, b"331 Please specify the password.\r\n"),
    (True, f"PASS {SECRET}\r\n".encode()), (False, b"530 Login incorrect.\r\n"),
    (True, b"USER ops\r\n"), (False, b"331 Please specify the password.\r\n"),
    (True, f"PASS {SECRET}\r\n".encode()), (False, b"230-Hello\r\n230-Terms\r\n230 Login successful.\r\n"),
    (True, b"PWD\r\n"), (False, b'257 "/" is the current directory\r\n'),
]


@pytest.mark.parametrize("split", [None, 1, 3, 7])
def test_ftp_failed_then_successful_login(split):
    _, events = run(FtpDecoder, 21, FTP_FAIL_THEN_OK, split)
    assert outcome(events) == [("ftp", "admin", False, "USER/PASS"), ("ftp", "ops", True, "USER/PASS")]
    assert events[0].ts == 1.0 and (events[0].src_ip, events[0].dst_port) == ("192.0.2.7", 21)


def test_ftp_user_refused_unanswered_and_auth_tls():
    _, events = run(FtpDecoder, 21, [(False, b"220 FTP\r\n"), (True, b"USER root\r\n"),
                                     (False, b"530 root not allowed\r\n"), (True, b"USER guest\r\n")])
    assert outcome(events) == [("ftp", "root", False, "USER/PASS"), ("ftp", "guest", None, "USER/PASS")]
    dec, events = run(FtpDecoder, 21, [(False, b"220 FTP\r\n"), (True, b"AUTH TLS\r\n"),
                                       (False, b"234 Proceed\r\n"), (True, b"\x16\x03\x01USER x\r\n")])
    assert events == [] and dec.done


# --- POP3 --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", [None, 1, 5])
def test_pop3_user_pass_after_capa(split):
    script = [
        (False, b"+OK POP3 ready <1896.697170952@dbc.mit.edu>\r\n"),
        (True, b"CAPA\r\n"), (False, b"+OK\r\nUSER\r\n-ERR not a reply\r\n.\r\n"),
        (True, b"USER mrose\r\n"), (False, b"+OK\r\n"),
        (True, f"PASS {SECRET}\r\n".encode()), (False, b"-ERR [AUTH] invalid\r\n"),
        (True, b"USER mrose\r\n"), (False, b"+OK\r\n"),
        (True, f"PASS {SECRET}\r\n".encode()), (False, b"+OK maildrop has 2 messages\r\n"),
        (True, b"RETR 1\r\n"), (False, b"+OK\r\n-ERR fake\r\n.\r\n"),
    ]
    dec, events = run(Pop3Decoder, 110, script, split)
    assert outcome(events) == [("pop3", "mrose", False, "USER/PASS"), ("pop3", "mrose", True, "USER/PASS")]
    assert dec.done


def test_pop3_apop_and_sasl_plain():
    _, events = run(Pop3Decoder, 110, [(False, b"+OK <1.2@x>\r\n"),
                                       (True, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
                                       (False, b"-ERR permission denied\r\n")])
    assert outcome(events) == [("pop3", "mrose", False, "APOP")]
    plain = base64.b64encode(f"\0tim\0{SECRET}".encode())
    _, events = run(Pop3Decoder, 110, [(False, b"+OK\r\n"), (True, b"AUTH PLAIN\r\n"), (False, b"+ \r\n"),
                                       (True, plain + b"\r\n"), (False, b"+OK Logged in.\r\n")])
    assert outcome(events) == [("pop3", "tim", True, "AUTH PLAIN")]


# --- IMAP --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", [None, 1, 4])
def test_imap_login_quoted_and_literal(split):
    script = [
        (False, b"* OK [CAPABILITY IMAP4rev1 LOGIN] ready\r\n"),
        (True, f'a1 LOGIN "jo \\"q\\"" "{SECRET}"\r\n'.encode()),
        (False, b"* CAPABILITY IMAP4rev1\r\na1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
        (True, b"a2 LOGIN {5}\r\n"), (False, b"+ Ready\r\n"),
        (True, f"smith {{{len(SECRET)}}}\r\n".encode()), (False, b"+ Ready\r\n"),
        (True, SECRET.encode() + b"\r\n"), (False, b"a2 OK LOGIN completed\r\n"),
        (True, b"a3 SELECT INBOX\r\n"), (False, b"a3 OK\r\n"),
    ]
    dec, events = run(ImapDecoder, 143, script, split)
    assert outcome(events) == [("imap", 'jo "q"', False, "LOGIN"), ("imap", "smith", True, "LOGIN")]
    assert dec.done


def test_imap_authenticate_plain_and_unanswered_login():
    ir = base64.b64encode(f"\0ann\0{SECRET}".encode()).decode()
    _, events = run(ImapDecoder, 143, [(False, b"* OK IMAP4 ready\r\n"), (True, f"t1 AUTHENTICATE PLAIN {ir}\r\n".encode()),
                                       (False, b"t1 OK done\r\n")])
    assert outcome(events) == [("imap", "ann", True, "AUTHENTICATE PLAIN")]
    _, events = run(ImapDecoder, 143, [(True, b"t1 AUTHENTICATE PLAIN\r\n"), (False, b"+ \r\n"),
                                       (True, base64.b64encode(f"\0bea\0{SECRET}".encode()) + b"\r\n"),
                                       (False, b"t1 NO bad\r\n"), (True, f"t2 LOGIN cy {SECRET}\r\n".encode())])
    assert outcome(events) == [("imap", "bea", False, "AUTHENTICATE PLAIN"), ("imap", "cy", None, "LOGIN")]


# --- Telnet ------------------------------------------------------------------------------------------------------

def telnet_session(user: bytes, verdict: bytes) -> list[tuple[bool, bytes]]:
    s = [(False, b"\xff\xfd\x18\xff\xfd\x20\xff\xfb\x01"), (True, b"\xff\xfc\x18\xff\xfa\x18\x00xterm\xff\xf0"),
         (False, b"\r\nDebian GNU/Linux 12\r\ncam01 login: ")]
    for ch in user:  # character mode: one byte per segment, echoed by the server
        s += [(True, bytes([ch])), (False, bytes([ch]))]
    s += [(True, b"\r\n"), (False, b"\r\nPassword: ")]
    s += [(True, bytes([c])) for c in SECRET.encode()]
    s += [(True, b"\r\n"), (False, verdict)]
    return s


def test_telnet_failed_and_successful_logins():
    _, events = run(TelnetDecoder, 23, telnet_session(b"rooX\x7ft", b"\r\nLogin incorrect\r\ncam01 login: "))
    assert outcome(events) == [("telnet", "root", False, "prompt")]
    dec, events = run(TelnetDecoder, 23, telnet_session(b"admin", b"\r\nLast login: Mon\r\nadmin@cam01:~$ "))
    assert outcome(events) == [("telnet", "admin", True, "prompt")]
    assert dec.done and SECRET.encode() not in bytes(dec.typed) + bytes(dec.screen)
    _, events = run(TelnetDecoder, 23, telnet_session(b"guest", b"\r\n"))
    assert outcome(events) == [("telnet", "guest", None, "prompt")]


def test_random_bytes_never_raise():
    rng = random.Random(5)
    for cls, port in ((FtpDecoder, 21), (Pop3Decoder, 110), (ImapDecoder, 143), (TelnetDecoder, 23)):
        for _ in range(100):
            dec = cls(flow(port))
            for _ in range(4):
                dec.data(rng.random() < 0.5, 0.0, rng.randbytes(rng.randrange(0, 120)) + b"\r\n")
            dec.close(1.0)


# --- the corpus ---------------------------------------------------------------------------------------------------

@pytest.mark.tshark
def test_corpus_dev14_ftp_bruteforce():
    path = corpus_pcap("dev14")
    events = feed(path, tcp={21: FtpDecoder}).events
    users = [r[0] for r in tshark_fields(path, 'ftp.request.command == "USER"', "ftp.request.arg")]
    fails = tshark_fields(path, "ftp.response.code == 530", "frame.number")
    assert len(events) == len(users) == 30
    assert sum(e.success is False for e in events) == len(fails) == 30
    assert {e.username for e in events} == set(users) == {"bro"}
    assert {(e.src_ip, e.dst_ip, e.dst_port) for e in events} == {("192.168.56.1", "192.168.56.101", 21)}
    assert len({e.uid for e in events}) == 30
    passwords = {r[0] for r in tshark_fields(path, 'ftp.request.command == "PASS"', "ftp.request.arg")}
    assert passwords == {str(n) for n in range(1, 31)}
    for e in events:  # the guessed passwords are nowhere in the events
        assert not {str(v) for k, v in e.to_dict().items() if k not in ("ts", "src_port", "dst_port")} & passwords
