"""Application-layer log sensors: web-server access and error logs, syslog (RFC 3164/5424), sshd, sudo, JSON lines.

Data flows one way: `reader` turns files into numbered text lines, `parse.LineParser` turns one line into one
event (or a verdict: skipped / unparsed), `follow` tails growing files, and the CLI (`sentinel ingest`) stores the
events. Parsers of one format are pure functions over one line; the only state is `sshd.SshdSessions`, which lets a
line without an address borrow it from an earlier line of the same sshd process (as fail2ban's multi-line filter
does).
"""
