"""Which Sentinel event kinds a Sigma `logsource` means, and how Sigma field names map onto event fields.

Two kinds of rules meet here:

* Sentinel-native rules say `product: sentinel` and `category: <event kind>`; their fields are the event's own
  field names (docs/events.md), so they need no mapping.
* Standard Sigma rules (SigmaHQ) name generic log sources (`category: webserver`, `product: linux / service:
  sshd`...) and W3C/Sysmon-style field names (`cs-uri-query`, `DestinationPort`...). A real pySigma
  `ProcessingPipeline` renames those fields to Sentinel's, so the rule text stays unchanged.

After the pipeline every field a rule tests must exist in at least one of its kinds (or be one of the derived fields
below); anything else is a load-time error, never a rule that silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaLogSource

from ..events import COMMON_FIELDS, KINDS

Guard = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Target:
    """What a logsource resolves to: event kinds, plus an optional per-kind guard (e.g. syslog from sshd only)."""

    kinds: tuple[str, ...]
    guards: dict[str, Guard] = field(default_factory=dict)


def _program_is(name: str) -> Guard:
    def guard(ev: dict[str, Any]) -> bool:
        prog = ev.get("program") or ev.get("service")
        return isinstance(prog, str) and prog.lower() == name

    return guard


_SSHD = _program_is("sshd")

#: (category, product, service) of a standard Sigma logsource -> target. None in the key means "not given".
STANDARD_LOGSOURCES: dict[tuple[str | None, str | None, str | None], Target] = {
    ("webserver", None, None): Target(("http_access", "http")),
    ("proxy", None, None): Target(("http",)),
    ("firewall", None, None): Target(("conn",)),
    ("network_connection", None, None): Target(("conn",)),
    ("dns", None, None): Target(("dns",)),
    (None, "linux", "sshd"): Target(("auth", "syslog"), {"auth": _SSHD, "syslog": _SSHD}),
    (None, "linux", "auth"): Target(("auth", "syslog")),
    (None, None, "sshd"): Target(("auth", "syslog"), {"auth": _SSHD, "syslog": _SSHD}),
    (None, None, "auth"): Target(("auth", "syslog")),
}

#: Fields Sentinel computes on demand from an event's own fields (name -> how). Documented in docs/detection.md.
DERIVED_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "uri_path": lambda ev: (ev.get("uri") or "").split("?", 1)[0] if ev.get("uri") is not None else None,
    "uri_query": lambda ev: (ev.get("uri") or "").split("?", 1)[1] if "?" in (ev.get("uri") or "") else None,
}

# Field mappings, per standard logsource (the table in docs/detection.md is this dict).
WEBSERVER_FIELDS: dict[str, str | list[str]] = {
    "cs-method": "method",
    "cs-uri-query": "uri",  # the full request target, as the SigmaHQ web rules expect (see MANIFEST section 3)
    "cs-uri-stem": "uri_path",
    "cs-uri": "uri",
    "cs-user-agent": "user_agent",
    "cs-useragent": "user_agent",
    "sc-status": "status",
    "c-ip": "src_ip",
    "s-ip": "dst_ip",
    "cs-host": ["host", "vhost"],
    "cs-referer": "referrer",
    "cs-referrer": "referrer",
    "cs-username": ["user", "username"],
    "cs-version": "version",
    "sc-bytes": "bytes",
}
NETWORK_FIELDS: dict[str, str | list[str]] = {
    "SourceIp": "src_ip",
    "DestinationIp": "dst_ip",
    "SourcePort": "src_port",
    "DestinationPort": "dst_port",
    "Protocol": "proto",
    "src-ip": "src_ip",
    "dst-ip": "dst_ip",
    "src-port": "src_port",
    "dst-port": "dst_port",
    "dst_host": "dst_ip",
}
DNS_FIELDS: dict[str, str | list[str]] = {
    "query": "query",
    "QueryName": "query",
    "record_type": "qtype",
    "QueryType": "qtype",
    "answer": "answers",
    "response_code": "rcode",
}
PROXY_FIELDS = {**WEBSERVER_FIELDS, "r-dns": "host", "c-useragent": "user_agent"}
AUTH_FIELDS: dict[str, str | list[str]] = {
    "User": "user",
    "user": "user",
    "SourceIp": "src_ip",
    "Hostname": "host",
    "Program": ["program", "service"],
}

#: (logsource condition arguments, field table). Conditions are built per pipeline: pySigma binds a condition
#: object to the one pipeline that uses it.
FIELD_TABLES: list[tuple[dict[str, str], dict[str, str | list[str]]]] = [
    ({"category": "webserver"}, WEBSERVER_FIELDS),
    ({"category": "proxy"}, PROXY_FIELDS),
    ({"category": "firewall"}, NETWORK_FIELDS),
    ({"category": "network_connection"}, NETWORK_FIELDS),
    ({"category": "dns"}, {**NETWORK_FIELDS, **DNS_FIELDS}),
    ({"product": "linux"}, AUTH_FIELDS),
]


def table_for(ls: SigmaLogSource) -> dict[str, str | list[str]]:
    """The merged field table that applies to a logsource (what the pipeline will do to its fields)."""
    out: dict[str, str | list[str]] = {}
    for cond, table in FIELD_TABLES:
        if ls in SigmaLogSource(cond.get("category"), cond.get("product"), cond.get("service")):
            out.update(table)
    return out


def sentinel_pipeline() -> ProcessingPipeline:
    """The pySigma processing pipeline that renames standard Sigma fields to Sentinel event fields."""
    items = [
        ProcessingItem(
            identifier=f"sentinel_fields_{i}",
            transformation=FieldMappingTransformation(dict(table)),  # type: ignore[arg-type]
            rule_conditions=[LogsourceCondition(**cond)],
        )
        for i, (cond, table) in enumerate(FIELD_TABLES)
    ]
    return ProcessingPipeline(name="sentinel", priority=20, items=items)


class LogsourceError(ValueError):
    """The logsource names nothing Sentinel produces."""


def resolve(ls: SigmaLogSource) -> Target:
    """Logsource -> target kinds, or LogsourceError with the reason."""
    category, product, service = ls.category, ls.product, ls.service
    if product == "sentinel":
        if category in KINDS and service is None:
            return Target((category,))
        known = ", ".join(sorted(KINDS))
        raise LogsourceError(f"product: sentinel needs `category:` set to an event kind ({known}); got {category!r}")
    for key in ((category, product, service), (category, None, None), (None, product, service), (None, None, service)):
        if key in STANDARD_LOGSOURCES and _covers(key, (category, product, service)):
            return STANDARD_LOGSOURCES[key]
    shown = ", ".join(f"{k}: {v}" for k, v in (("category", category), ("product", product), ("service", service)) if v)
    raise LogsourceError(f"logsource ({shown or 'empty'}) is not produced by any Sentinel sensor")


def _covers(key: tuple[str | None, ...], actual: tuple[str | None, ...]) -> bool:
    """A table key covers the logsource only when every part the rule gives is accounted for by the key.

    Otherwise `category: webserver, product: windows` would quietly run a Windows-only rule on Linux web logs.
    `product: linux` is the one product Sentinel's log sources stand for, so it may accompany a category/service.
    """
    for k, a in zip(key, actual):
        if a is not None and k is None and a != "linux":
            return False
    return True


def kind_fields(kind: str) -> frozenset[str]:
    import dataclasses

    cls = KINDS[kind]
    return frozenset({f.name for f in dataclasses.fields(cls)} | set(COMMON_FIELDS) | {"kind", "layer"})


def layer_of(kinds: tuple[str, ...]) -> str:
    return KINDS[kinds[0]].LAYER
