"""Which stages run and why: the stage keys, the recorded state and the plan.

A stage's key is the sha256 of its name, its settings, the digests of the files it reads
and the curaug version. It is skipped when the key equals the one recorded after its last
successful run and its outputs still have the recorded digests. Keys are content
addressed: a stage after one that reran reruns only if the bytes it reads changed.

``out/.curaug/stages.json`` (written atomically before and after each stage) records, per
finished stage, its key, settings, input and output digests, verdict and seconds, and the
stage that was running: an interrupted run resumes at the stage that did not finish.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FORMAT = 1


def stage_key(name: str, settings: dict[str, Any], inputs: dict[str, str | None], version: str) -> str:
    blob = json.dumps([name, settings, inputs, version], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class State:
    """``out/.curaug/stages.json``: the finished stages and the one running."""

    def __init__(self, path: Path):
        self.path = path
        self.stages: dict[str, dict[str, Any]] = {}
        self.running: dict[str, Any] | None = None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # no state (or a damaged one): every stage runs
            return
        if isinstance(data, dict) and data.get("format") == STATE_FORMAT:
            self.stages = data.get("stages", {})
            self.running = data.get("running")

    def start(self, name: str, key: str) -> None:
        """The stage is no longer finished until it finishes again."""
        self.stages.pop(name, None)
        self.running = {"stage": name, "key": key}
        self.save()

    def finish(self, name: str, record: dict[str, Any]) -> None:
        self.stages[name] = record
        self.running = None
        self.save()

    def save(self) -> None:
        from curate.io.atomic import write_json_atomic

        write_json_atomic(self.path, {"format": STATE_FORMAT, "stages": self.stages, "running": self.running})


@dataclass
class Verdict:
    """``action``: ``run``, ``skip`` or ``maybe`` (runs only if a stage before it changes
    what it reads); ``reason`` says why, in the plan's words."""

    stage: str
    action: str
    reason: str
    held: bool = False  # not run because --only/--from chose other stages

    def line(self) -> str:
        return f"  {self.action:<5}  {self.stage:<16} {self.reason}"


def changed_keys(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two settings trees differ, as deep as both have the same shape
    (a list of plain values is one setting).

    >>> changed_keys({"augment": {"copies": 1, "transforms": [{"Affine": {"rotate": 5}}]}},
    ...              {"augment": {"copies": 1, "transforms": [{"Affine": {"rotate": 9}}]}})
    ['augment.transforms.0.Affine.rotate']
    >>> changed_keys({"split": {"seed": 0, "ratios": [0.6, 0.2, 0.2]}},
    ...              {"split": {"seed": 0, "ratios": [0.8, 0.1, 0.1], "folds": 5}})
    ['split.ratios', 'split.folds']
    """
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in list(new) + [k for k in old if k not in new]:
            found += changed_keys(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return found
    nested = any(isinstance(v, (dict, list)) for v in (old or []) + (new or [])) if isinstance(old, list) else False
    if nested and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new)):
            found += changed_keys(a, b, f"{path}.{i}" if path else str(i))
        return found
    return [path or "(all)"]


def reason_to_run(record: dict[str, Any] | None, settings: dict[str, Any], version: str,
                  outputs: dict[str, str | None], inputs: dict[str, str | None] | None,
                  running: dict[str, Any] | None, name: str) -> str | None:
    """Why a stage must run, or None when it is unchanged; ``inputs`` None: not known yet."""
    if record is None:
        if running and running.get("stage") == name:
            return "did not finish last time"
        return "no previous run"
    if record.get("version") != version:
        return f"curaug version changed ({record.get('version')} -> {version})"
    keys = changed_keys(_normal(record.get("settings")), _normal(settings))
    if keys:
        shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        return f"settings changed: {shown}"
    for out_name, digest in outputs.items():
        recorded = record.get("outputs", {}).get(out_name)
        if digest is None:
            return f"output missing: {out_name}"
        if digest != recorded:
            return f"output changed: {out_name}"
    if inputs is None:
        return None
    changed = [n for n, d in inputs.items() if record.get("inputs", {}).get(n) != d]
    if changed:
        return f"input changed: {', '.join(changed)}"
    return None


def _normal(value: Any) -> Any:
    """Settings as JSON stores them (tuples as lists), so a reloaded record compares equal."""
    return json.loads(json.dumps(value, default=str))
