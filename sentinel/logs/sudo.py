"""sudo and PAM messages from other programs -> authentication verdicts (see sshd.Verdict).

sudo logs one line per decision: `alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls` is a success (the
command ran as USER); any other first field (`3 incorrect password attempts`, `user NOT in sudoers`, `a password is
required`, `command not allowed`) is a failure with that field as the reason. `pam_unix(SERVICE:auth):
authentication failure; ... user=alice` is a failure for every service except sshd (which sshd.py handles).
"""

from __future__ import annotations

import re

from .addr import norm_host
from .sshd import Verdict

_SUDO = re.compile(r"\s*(\S+) : (.*?) ; ")
_PAM_UNIX = re.compile(r"pam_unix\(([\w.-]+):auth\): authentication failure;(.*)$")
_KV = re.compile(r"(\w+)=(\S*)")


def classify_sudo(message: str) -> Verdict:
    m = _SUDO.match(message)
    if m is not None:
        user, first = m.groups()
        if first.startswith("TTY="):
            return Verdict("success", None, user, method="sudo")
        return Verdict("failure", first, user, method="sudo")
    return classify_pam(message)


def classify_pam(message: str) -> Verdict:
    m = _PAM_UNIX.match(message)
    if m is None:
        return Verdict(None)
    kv = dict(_KV.findall(m[2]))
    rhost = kv.get("rhost") or None
    return Verdict("failure", "PAM authentication failure", kv.get("user") or kv.get("ruser") or None,
                   norm_host(rhost) if rhost else None, None, "sudo" if m[1] == "sudo" else "password")


def pam_service(message: str) -> str | None:
    m = _PAM_UNIX.match(message)
    return m[1] if m else None
