"""Every file of the built-in packs is a well-formed, fully documented Sigma rule that uses only real event fields."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections import Counter

import pytest
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from sentinel.events import COMMON_FIELDS, KINDS

from .packs import REPO, pack_documents, pack_files

# Standard Sigma web fields the engine maps onto http_access / http events (docs/detection.md).
WEBSERVER_FIELDS = {"cs-method", "cs-uri-query", "cs-uri-stem", "cs-user-agent", "sc-status", "c-ip"}
# Fields of `product: linux, service: sshd` (auth events).
SSHD_FIELDS = {"outcome", "user", "method", "reason", "src_ip"}
LEVELS = {"informational", "low", "medium", "high", "critical"}
ATTACK_TAG = re.compile(r"^attack\.(t\d{4}(\.\d{3})?|[a-z]+(-[a-z]+)*)$")
ATTACK_TECHNIQUE = re.compile(r"^attack\.t\d{4}(\.\d{3})?$")
MLPS_TAG = re.compile(r"^mlps\.8\.[1-5]\.\d{1,2}\.\d{1,2}(\.[a-f])?$")

FILES = pack_files()
DOCS = pack_documents()


def _doc_id(item: tuple) -> str:
    path, doc = item
    return f"{path.parent.name}/{path.name}:{doc.get('title')}"


def kind_fields(kind: str) -> set[str]:
    return {f.name for f in dataclasses.fields(KINDS[kind])} | set(COMMON_FIELDS) | {"kind", "layer"}


def allowed_fields(logsource: dict) -> set[str]:
    """The fields a rule with this logsource may test, per the team's conventions; fails on any other logsource."""
    if logsource.get("product") == "sentinel":
        assert set(logsource) == {"product", "category"}, logsource
        assert logsource["category"] in KINDS, f"unknown event kind {logsource['category']!r}"
        return kind_fields(logsource["category"])
    if logsource == {"category": "webserver"}:
        return WEBSERVER_FIELDS
    if logsource == {"product": "linux", "service": "sshd"}:
        return SSHD_FIELDS
    raise AssertionError(f"logsource {logsource} is not one of the conventions")


def test_the_three_packs_exist_and_are_not_empty():
    for pack in ("transport", "perception", "application"):
        assert list((REPO / "rules" / pack).glob("*.yml")), pack
    assert len(DOCS) >= 60


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_file_parses_with_pysigma_and_resolves_its_own_references(path):
    collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
    # Correlations only name base rules of the same file, so each file can be loaded on its own.
    collection.resolve_rule_references()
    assert len(collection.rules) == len(list(d for p, d in DOCS if p == path))
    for rule in collection.rules:
        assert not rule.errors, (rule.title, rule.errors)


def test_ids_are_uuids_and_unique_across_the_packs():
    ids = [doc["id"] for _, doc in DOCS]
    for i in ids:
        assert str(uuid.UUID(i)) == i.lower()
    dup = [i for i, n in Counter(ids).items() if n > 1]
    assert not dup


def test_titles_and_base_rule_names_are_unique():
    titles = Counter(doc["title"] for _, doc in DOCS)
    assert [t for t, n in titles.items() if n > 1] == []
    names = Counter(doc["name"] for _, doc in DOCS if "name" in doc)
    assert [t for t, n in names.items() if n > 1] == []


@pytest.mark.parametrize("item", DOCS, ids=_doc_id)
def test_rule_metadata(item):
    _, doc = item
    for key in ("title", "id", "status", "description", "author", "date", "level", "tags", "falsepositives"):
        assert doc.get(key), f"missing {key}"
    assert doc["author"] == "Sentinel"
    assert doc["status"] in {"stable", "test", "experimental"}
    assert doc["level"] in LEVELS
    tags = doc["tags"]
    assert all(ATTACK_TAG.match(t) or MLPS_TAG.match(t) for t in tags), tags
    assert any(ATTACK_TECHNIQUE.match(t) for t in tags), "needs an ATT&CK technique id"
    assert any(MLPS_TAG.match(t) for t in tags), "needs an mlps.<clause> tag"
    fps = doc["falsepositives"]
    assert isinstance(fps, list) and all(isinstance(f, str) and len(f) > 10 for f in fps)
    assert not any(f.strip().lower() in {"unknown", "none", "n/a"} for f in fps)


def _detection_fields(rule: SigmaRule) -> set[str]:
    fields = set()
    for detection in rule.detection.detections.values():
        stack = list(detection.detection_items)
        while stack:
            item = stack.pop()
            if hasattr(item, "detection_items"):
                stack.extend(item.detection_items)
            else:
                assert item.field is not None, f"{rule.title}: keyword (field-less) searches are not used in the packs"
                fields.add(item.field)
    return fields


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rules_use_only_fields_of_their_event_kind(path):
    collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
    collection.resolve_rule_references()
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            referenced = [ref.rule for ref in rule.rules]
            assert referenced, rule.title
            used = set(rule.group_by or [])
            if rule.condition.fieldref:
                used.add(rule.condition.fieldref)
            for base in referenced:
                allowed = allowed_fields(base.logsource.to_dict())
                assert used <= allowed, (rule.title, used - allowed)
            assert rule.timespan.seconds > 0
            continue
        allowed = allowed_fields(rule.logsource.to_dict())
        used = _detection_fields(rule) | set(rule.fields or [])
        assert used <= allowed, (rule.title, used - allowed)


def test_every_base_rule_is_used_or_alerts_itself():
    """A rule at level informational exists only to feed a correlation: someone must reference it."""
    referenced = {r for _, doc in DOCS if "correlation" in doc for r in doc["correlation"]["rules"]}
    for _, doc in DOCS:
        if doc["level"] == "informational":
            assert doc.get("name") in referenced, doc["title"]
        if doc.get("name"):
            assert doc["name"] in referenced, doc["title"]


def test_every_pack_file_loads_in_the_sentinel_engine():
    detect = pytest.importorskip("sentinel.detect")
    rs = detect.RuleSet.load([REPO / "rules" / p for p in ("transport", "perception", "application")], builtin=False)
    assert not rs.errors
    assert len(rs.rules) + len(rs.correlations) == len(DOCS)
    # the MLPS tags reach the alerts' control list
    assert all(r.meta.controls for r in rs.rules)
