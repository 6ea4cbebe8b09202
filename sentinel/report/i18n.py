"""Report labels per language: one YAML message catalogue per language in templates/ (same keys in each)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ..errors import InputError, SentinelError

LANGS = ("zh", "en")


@lru_cache(maxsize=None)
def messages(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        raise InputError("--lang", f"unknown language {lang!r} (use {' or '.join(LANGS)})")
    res = resources.files("sentinel.report.templates").joinpath(f"{lang}.yaml")
    try:
        data = yaml.safe_load(res.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SentinelError(f"report message catalogue {lang}.yaml is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise SentinelError(f"report message catalogue {lang}.yaml is not a mapping")
    return {str(k): str(v) for k, v in data.items()}


class Labels:
    """`t.key` / `t('key', n=3)` in templates; `t.result_of('partial')`, `t.band_of(4)`, `t.layer_of('transport')`
    (method names never equal a label key: an attribute would shadow the label)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._m = messages(lang)

    def __getattr__(self, key: str) -> str:
        # AttributeError (not SentinelError) so jinja2's own probes (`jinja_pass_arg`...) see "no such attribute";
        # a label missing in a template then fails as an undefined name (StrictUndefined) naming the line
        try:
            return self.__dict__["_m"][key]
        except KeyError:
            raise AttributeError(f"report label {key!r} missing from {self.lang}.yaml") from None

    def __getitem__(self, key: str) -> str:
        return getattr(self, key)

    def __call__(self, key: str, **kw: Any) -> str:
        return getattr(self, key).format(**kw)

    def get(self, key: str, default: str) -> str:
        return self._m.get(key, default)

    def result_of(self, value: str) -> str:
        return self.get(f"result_{value}", value)

    def band_of(self, level: int) -> str:
        return self.get(f"band_{level}", str(level))

    def layer_of(self, layer: str | None) -> str:
        return self.get(f"layer_{layer}", self._m["layer_other"]) if layer else self._m["layer_other"]

    def alert_level_of(self, level: str | None) -> str:
        return self.get(f"level_{level}", level or "-")
