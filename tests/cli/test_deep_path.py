"""The Wireshark (deep) path of `sentinel analyze` runs in a thread beside the fast path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentinel.cli.analyze import _DeepPath

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("tcpdump") is None,
                                reason="the deep path runs tcpdump and tshark")


def test_the_deep_path_runs_in_the_background_and_hands_back_its_files(corpus: Path) -> None:
    deep = _DeepPath([corpus / "pcaps" / "dev15_smb_eicar_upload.pcap"], "pcap")
    deep.start()
    deep.start()  # a second announcement changes nothing
    res = deep.result()
    assert res is not None and res.skipped is None
    assert [e.KIND for e in res.events] == ["file"]
    assert res.payloads and b"EICAR" in res.payloads[0].data


def test_a_deep_path_never_started_has_no_result(tmp_path: Path) -> None:
    deep = _DeepPath([tmp_path / "unused.pcap"], "pcap")
    assert not deep.started and deep.result() is None


def test_a_failure_in_the_deep_path_reaches_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(captures, sensor):
        raise RuntimeError("boom")

    monkeypatch.setattr("sentinel.dissect.wireshark.dissect", broken)
    deep = _DeepPath([tmp_path / "x.pcap"], "pcap")
    deep.start()
    with pytest.raises(RuntimeError, match="boom"):
        deep.result()
