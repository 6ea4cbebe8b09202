"""Rule loading: the signature-base rules load unchanged, compiled rules are cached privately and keyed by content,
and a broken rule file is reported by file and line."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
import yara

from sentinel.content import rules as rules_mod
from sentinel.content.rules import default_rules_dir, load_rules
from sentinel.errors import InputError

SIGNATURE_BASE = ("signature-base_gen_suspicious_strings.yar", "signature-base_thor-webshells.yar")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_built_in_signature_base_files_are_byte_identical_to_the_corpus(yara_corpus: Path) -> None:
    built_in = default_rules_dir()
    for name in SIGNATURE_BASE:
        assert _sha(built_in / name) == _sha(yara_corpus / "rules" / name), name
    # DRL 1.1 attribution travels with the rules
    assert (built_in / "LICENSE-signature-base.md").read_bytes() == (
        yara_corpus.parent / "LICENSES" / "signature-base_DRL-1.1.md").read_bytes()
    assert "8a89b3bf54517bbc35718460321d42536e1e6198" in (built_in / "README.md").read_text()


def test_corpus_rules_load_unchanged_each_file_in_its_own_namespace(yara_corpus: Path) -> None:
    rs = load_rules([yara_corpus / "rules"])
    # every rule libyara compiles from each file alone is there
    alone = [sum(1 for _ in yara.compile(filepath=str(yara_corpus / "rules" / n))) for n in SIGNATURE_BASE]
    assert rs.count == sum(alone) and all(alone)
    assert rs.from_cache is False
    # namespaces are the file names: the EICAR rule comes from gen_suspicious_strings
    eicar = (yara_corpus / "samples" / "eicar_extracted_from_dev15_smb.txt").read_bytes()
    assert [(m.namespace, m.rule) for m in rs.rules.match(data=eicar)] == [
        ("signature-base_gen_suspicious_strings", "SUSP_Just_EICAR")]


def test_built_in_rules_include_the_sentinel_rules_with_attack_ids() -> None:
    rs = load_rules()
    path = default_rules_dir() / "sentinel_smartcity.yar"
    assert path in rs.files
    own = list(yara.compile(filepath=str(path)))
    assert len(own) >= 3
    identifiers = {r.identifier for r in rs.rules}
    for r in own:
        assert r.identifier in identifiers
        assert r.meta["author"] == "Sentinel"
        assert r.meta["description"]
        assert r.meta["mitre_attack"].startswith("T")


def test_second_load_is_a_cache_hit_without_recompiling(yara_corpus: Path, private_cache: Path) -> None:
    first = load_rules([yara_corpus / "rules"])
    compiled = rules_mod.compile_count
    second = load_rules([yara_corpus / "rules"])
    assert rules_mod.compile_count == compiled
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.key == first.key
    # the cached rules are the same rules
    assert sorted(r.identifier for r in second.rules) == sorted(r.identifier for r in first.rules)
    cached = private_cache / f"{first.key}.yarc"
    assert stat.S_IMODE(private_cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(private_cache.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600


def test_a_changed_rule_recompiles(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    f = d / "mine.yar"
    f.write_text('rule a { strings: $a = "alpha" condition: $a }\n')
    k1 = load_rules([d]).key
    f.write_text('rule a { strings: $a = "bravo" condition: $a }\n')
    before = rules_mod.compile_count
    rs = load_rules([d])
    assert rs.from_cache is False and rules_mod.compile_count == before + 1
    assert rs.key != k1
    assert rs.rules.match(data=b"xx bravo xx") and not rs.rules.match(data=b"xx alpha xx")


def test_the_cache_keeps_only_the_newest_rule_sets(tmp_path: Path, private_cache: Path) -> None:
    f = tmp_path / "r.yar"
    keys = []
    for i in range(rules_mod.CACHE_KEEP + 3):
        f.write_text(f'rule r{i} {{ condition: true }}\n')
        keys.append(load_rules([f]).key)
        os.utime(private_cache / f"{keys[-1]}.yarc", (1_700_000_000 + i, 1_700_000_000 + i))
    left = {p.stem for p in private_cache.glob("*.yarc")}
    assert left == set(keys[-rules_mod.CACHE_KEEP:])


def test_a_corrupt_cache_file_is_recompiled_not_trusted(tmp_path: Path, private_cache: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "r.yar").write_text('rule r { strings: $a = "needle" condition: $a }\n')
    key = load_rules([d]).key
    (private_cache / f"{key}.yarc").write_bytes(b"not compiled rules")
    rs = load_rules([d])
    assert rs.from_cache is False
    assert rs.rules.match(data=b"a needle")


def test_a_cache_directory_owned_by_someone_else_is_not_used(tmp_path: Path, private_cache: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "r.yar").write_text('rule r { condition: true }\n')
    load_rules([d])
    assert load_rules([d]).from_cache is True
    if os.geteuid() != 0:
        pytest.skip("needs root to give the cache directory to another user")
    os.chown(private_cache, 4242, 4242)  # why: compiled rules from a directory others control could be swapped
    assert load_rules([d]).from_cache is False


def test_the_cache_can_be_bypassed(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "r.yar").write_text('rule r { condition: true }\n')
    load_rules([d])
    assert load_rules([d], use_cache=False).from_cache is False


def test_broken_rule_file_names_file_and_line(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "good.yar").write_text('rule good { condition: true }\n')
    bad = d / "bad.yar"
    bad.write_text('rule ok { condition: true }\n\nrule broken {\n  strings: $a = "x"\n  condition: $a and\n}\n')
    with pytest.raises(InputError) as info:
        load_rules([d])
    err = info.value
    assert err.source == str(bad)
    assert err.position == "line 6"
    assert "syntax error" in err.message
    assert str(err).startswith(f"{bad}: line 6: ")


def test_include_is_refused_because_the_cache_key_would_not_cover_it(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "inc.yar").write_text('include "other.yar"\nrule r { condition: true }\n')
    with pytest.raises(InputError) as info:
        load_rules([d])
    assert info.value.position == "line 1" and "include" in info.value.message


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "slow.yar").write_text('rule slow { strings: $a = { 00 ?? } condition: $a }\n')
    rs = load_rules([d])
    assert rs.count == 1
    assert any("slow down scanning" in w for w in rs.warnings)


def test_missing_or_empty_rules_location_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such rules file"):
        load_rules([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no .yar or .yara rule files"):
        load_rules([tmp_path / "empty"])


def test_same_file_name_in_two_directories_gets_two_namespaces(tmp_path: Path) -> None:
    for sub, word in (("a", "alpha"), ("b", "bravo")):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "custom.yar").write_text(f'rule same {{ strings: $s = "{word}" condition: $s }}\n')
    rs = load_rules([tmp_path / "a", tmp_path / "b"])
    hits = {(m.namespace, m.rule) for m in rs.rules.match(data=b"alpha and bravo")}
    assert hits == {("custom", "same"), ("custom~2", "same")}


def test_rules_directory_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "only.yar").write_text('rule only_this { condition: true }\n')
    monkeypatch.setenv("SENTINEL_YARA_RULES", str(tmp_path))
    rs = load_rules()
    assert [r.identifier for r in rs.rules] == ["only_this"]
    assert os.fspath(rs.files[0]) == str(tmp_path / "only.yar")
