"""Run a pipeline file: print the plan, then run the stages that need it, in order.

``run_pipeline`` is ``curaug run`` and ``curaug.run``. A stage that fails its checks
(a validation stage, or training's sanity check) stops the stages after it, except the
report, and the result is unsuccessful (exit 1). Ctrl-C raises :class:`PipelineInterrupted`
(exit 130); the state says which stage did not finish, and the next run resumes there
(augment and train resume inside the stage too, from what they had finished).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.errors import CuraugError, did_you_mean
from pipelines.run.plan import State, Verdict, reason_to_run, stage_key
from pipelines.run.stages import STAGES, Display, Stage, StageContext, clear_outputs

#: The run's own state (stage records, the file hash cache), hidden from every digest.
STATE_DIR = ".curaug"
#: The input name of the files a stage could only name by running (Stage.listed_files).
LISTED = "files the source lists"


class PipelineInterrupted(KeyboardInterrupt):
    """Ctrl-C during a stage: what finished is recorded; a rerun resumes at ``stage``."""

    def __init__(self, stage: str):
        super().__init__(f"interrupted during {stage}: the stages before it are recorded; "
                         f"rerun the same command to resume at {stage}")
        self.stage = stage


@dataclass
class PipelineResult:
    """What a run did: ``success`` (False: ``failed`` names the stage whose checks failed),
    the plan, the stages that ran and were skipped, and ``stages``, what the report got."""

    success: bool
    out: Path
    plan: list[Verdict]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: files whose bytes were read to hash them this run (the others hit the cache)
    files_hashed: int = 0


def run_pipeline(pipeline: str | os.PathLike, *, from_stage: str | None = None, only: str | None = None,
                 force: bool = False, engine: str | None = None, scheduler: str | None = None,
                 display: Display | None = None) -> PipelineResult:
    """Run the pipeline file ``pipeline``; skip every stage whose key and outputs are unchanged.

    Parameters
    ----------
    pipeline : path
        A pipeline file (docs/pipelines.md).
    from_stage : str, optional
        Run this stage and every one after it, whatever their keys; the stages before it
        are not run (their outputs must exist).
    only : str, optional
        Run just this stage (its inputs must exist).
    force : bool
        Run every stage.
    engine, scheduler : str, optional
        Where augmentation runs (``local`` or ``dask``, a Dask scheduler address);
        default: the file's ``engine:``. Neither changes any output, so neither is keyed.
    display : Display, optional
        Where the plan and progress lines go (default: nowhere).

    Returns
    -------
    PipelineResult

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"x": range(40), "label": ["a", "b"] * 20}).to_csv(folder / "t.csv", index=False)
    >>> _ = (folder / "p.yaml").write_text("out: run\\nsource: t.csv\\nsplit: {ratios: [0.6, 0.2, 0.2]}\\n")
    >>> first = run_pipeline(folder / "p.yaml")
    >>> first.success, first.ran
    (True, ['ingest', 'split', 'validate_splits', 'report'])
    >>> again = run_pipeline(folder / "p.yaml")
    >>> again.ran, [v.action for v in again.plan]
    ([], ['skip', 'skip', 'skip', 'skip'])
    """
    from curate.io.folder_lock import hold_folder
    from curate.version import curaug_version
    from pipelines.run.hashing import FileHashes
    from pipelines.run.schema import load_pipeline

    display = display or Display()
    p = load_pipeline(pipeline)
    engine, scheduler = _engine(p, engine, scheduler)
    stages = [stage for stage in STAGES if stage.applies(p)]
    present = [stage.name for stage in stages]
    forced, held, why = _selection(present, from_stage, only, force)
    with hold_folder(p.out / STATE_DIR / "lock", p.out, param="out"):  # one run writes out/ at a time
        hashes = FileHashes(p.out / STATE_DIR / "hashes.json")
        state = State(p.out / STATE_DIR / "stages.json")
        version = curaug_version()
        producers = {name: stage.name for stage in stages for name in stage.outputs(p)}
        try:
            _check_held_inputs(p, stages, held, hashes, producers,
                               ("only", only) if only else ("from_stage", from_stage))
            plan = _plan(p, stages, present, forced, held, why, state, hashes, version)
            display.echo(f"plan for {pipeline} (out: {p.out}):")
            for verdict in plan:
                display.echo(verdict.line())
            ctx = StageContext(p, present, engine=engine, scheduler=scheduler, display=display)
            result = PipelineResult(True, p.out, plan, stages=ctx.done)
            for stage, verdict in zip(stages, plan):
                _step(stage, verdict, ctx, state, hashes, version, forced, result)
        finally:
            hashes.save()
        result.success = result.failed is None
        result.files_hashed = hashes.read
        _closing_lines(result, p, display)
        return result


def _engine(p, engine: str | None, scheduler: str | None) -> tuple[str, str | None]:
    """The command line's engine and scheduler over the file's ``engine:``."""
    if engine is not None and engine not in ("local", "dask"):
        raise CuraugError(f"engine={engine!r}: use 'local' or 'dask'", param="engine")
    if engine is None:
        engine = p.config.engine.name
        scheduler = scheduler or p.config.engine.scheduler
    elif engine == "dask":
        scheduler = scheduler or p.config.engine.scheduler
    if scheduler and engine != "dask":
        raise CuraugError(f"scheduler={scheduler!r} needs engine='dask'", param="scheduler")
    return engine, scheduler


def _selection(present: list[str], from_stage: str | None, only: str | None,
               force: bool) -> tuple[set[str], set[str], str]:
    """``(forced, held, why)``: the stages run whatever their keys, those not run at all,
    and the plan's reason for both."""
    if from_stage and only:
        raise CuraugError("give from_stage= or only=, not both", param="only")
    for param, name in (("from_stage", from_stage), ("only", only)):
        if name is not None and name not in present:
            known = [s.name for s in STAGES]
            what = "not a stage of this pipeline" if name in known else "no such stage"
            hint = did_you_mean(name, present)
            hint = hint if "did you mean" in hint else ""
            raise CuraugError(f"{param}={name!r}: {what}{hint} (this pipeline's stages: {', '.join(present)})",
                              param=param)
    if force:
        return set(present), set(), "forced"
    if only:
        return {only}, set(present) - {only}, f"forced (only {only})"
    if from_stage:
        start = present.index(from_stage)
        return set(present[start:]), set(present[:start]), f"forced (from {from_stage})"
    return set(), set(), ""


def _check_held_inputs(p, stages: list[Stage], held: set[str], hashes, producers: dict[str, str],
                       chosen: tuple[str, str | None]) -> None:
    """With ``only``/``from_stage``, what the chosen stages read from the stages not run must exist."""
    param, name = chosen
    for stage in stages:
        if stage.name in held or not stage.built():
            continue
        for input_name, path in stage.inputs(p, [s.name for s in stages]).items():
            producer = producers.get(input_name)
            if producer in held and hashes.digest(path) is None:
                raise CuraugError(f"{param}={name!r}: the {stage.name} stage reads {path}, which does not exist; "
                                  f"run the {producer} stage first", param=param)


def _plan(p, stages: list[Stage], present: list[str], forced: set[str], held: set[str], why: str, state: State,
          hashes, version: str) -> list[Verdict]:
    plan: list[Verdict] = []
    pending: set[str] = set()  # outputs that a stage before will (or may) rewrite
    blocked = None  # a stage skipped as unchanged whose checks failed: the ones after it wait
    for stage in stages:
        if not stage.built():
            plan.append(Verdict(stage.name, "skip", "not built in this version"))
            continue
        if blocked and stage.name != "report":
            plan.append(Verdict(stage.name, "skip", f"not run: {blocked} failed"))
            continue
        if stage.name in held:
            plan.append(Verdict(stage.name, "skip", f"not asked ({why.removeprefix('forced (')}", held=True))
            continue
        if stage.name in forced:
            verdict = Verdict(stage.name, "run", why)
        else:
            inputs = stage.inputs(p, present)
            unknown = [name for name in inputs if name in pending]
            record = state.stages.get(stage.name)
            digests = None if unknown else _input_digests(stage, p, present, hashes, record)
            outputs = {name: hashes.digest(path) for name, path in stage.outputs(p).items()}
            reason = reason_to_run(record, stage.settings(p), version, outputs, digests, state.running, stage.name)
            if reason:
                verdict = Verdict(stage.name, "run", reason)
            elif unknown:
                verdict = Verdict(stage.name, "maybe", f"runs if {', '.join(unknown)} changes")
            else:
                failed = not record.get("success", True)
                verdict = Verdict(stage.name, "skip", "unchanged (its checks failed)" if failed else "unchanged")
                blocked = stage.name if failed else None
        if verdict.action != "skip":
            pending.update(stage.outputs(p))
        plan.append(verdict)
    return plan


def _step(stage: Stage, verdict: Verdict, ctx: StageContext, state: State, hashes, version: str, forced: set[str],
          result: PipelineResult) -> None:
    """Run or skip one stage after the stages before it have run."""
    p, echo = ctx.pipeline, ctx.display.echo
    if not stage.built():
        return
    if result.failed and stage.name != "report":
        if verdict.action != "skip":  # the plan could not know: the failure happened in this run
            echo(f"{stage.name}: not run ({result.failed} failed)")
        return
    record = state.stages.get(stage.name)
    if verdict.action == "skip":
        if record is not None:
            _done(stage, ctx, record, ran=False)
            if not record.get("success", True) and not verdict.held:  # a stage asked for by name still runs
                result.failed = result.failed or stage.name
        result.skipped.append(stage.name)
        return
    settings = stage.settings(p)
    inputs = _input_digests(stage, p, ctx.present, hashes, record)
    key = stage_key(stage.name, settings, inputs, version)
    if verdict.action == "maybe":
        outputs = {name: hashes.digest(path) for name, path in stage.outputs(p).items()}
        reason = reason_to_run(record, settings, version, outputs, inputs, state.running, stage.name)
        if reason is None:
            echo(f"{stage.name}: skipped: what it reads did not change")
            _done(stage, ctx, record, ran=False)
            result.skipped.append(stage.name)
            if not record.get("success", True):
                result.failed = result.failed or stage.name
            return
    resume = state.running == {"stage": stage.name, "key": key} and stage.name not in forced
    if not resume:
        clear_outputs(stage, p)
    p.out.mkdir(parents=True, exist_ok=True)
    state.start(stage.name, key)
    echo(f"{stage.name}: {'resuming' if resume else 'running'}")
    started = time.perf_counter()
    try:
        outcome = stage.run(ctx)
    except KeyboardInterrupt:
        raise PipelineInterrupted(stage.name) from None
    except CuraugError as exc:
        raise CuraugError(f"{_where_param(p, stage, exc.param)}: {stage.name} stage: {exc}") from None
    seconds = round(time.perf_counter() - started, 3)
    outputs = {name: hashes.digest(path) for name, path in stage.outputs(p).items()}
    missing = [name for name, digest in outputs.items() if digest is None]
    if missing:
        raise RuntimeError(f"the {stage.name} stage did not write {', '.join(missing)}")
    record = {"key": key, "version": version, "settings": settings, "inputs": inputs, "outputs": outputs,
              "success": outcome.success, "summary": outcome.summary, "seconds": seconds}
    listed = stage.listed_files(p)
    if listed is not None:
        record["listed"] = [str(path) for path in listed]
        inputs[LISTED] = hashes.digest_files(record["listed"])
    state.finish(stage.name, record)
    hashes.save()
    _done(stage, ctx, record, ran=True)
    result.ran.append(stage.name)
    what = f" ({outcome.summary})" if outcome.summary else ""
    if outcome.success:
        echo(f"{stage.name}: done in {seconds:.1f} s{what}")
    else:
        echo(f"{stage.name}: FAILED in {seconds:.1f} s{what}")
        result.failed = result.failed or stage.name


def _where_param(p, stage: Stage, param: str | None) -> str:
    """The file and line of the pipeline key a stage's error is about (``label``, ``split.group``...)."""
    from pipelines.run.schema import Pipeline

    if param in Pipeline.model_fields:
        return p.where(param)
    if param and param in (getattr(getattr(p.config, stage.name, None), "model_fields", None) or {}):
        return p.where(stage.name, param)
    return str(p.path)


def _input_digests(stage: Stage, p, present: list[str], hashes, record: dict[str, Any] | None) -> dict[str, Any]:
    digests = {name: hashes.digest(path) for name, path in stage.inputs(p, present).items()}
    if record is not None and "listed" in record:
        digests[LISTED] = hashes.digest_files(record["listed"])
    return digests


def _done(stage: Stage, ctx: StageContext, record: dict[str, Any], *, ran: bool) -> None:
    """What the report gets for a finished stage (see docs/pipelines.md)."""
    figures = None
    if stage.figures:
        path = ctx.out / stage.figures
        if path.is_file():
            figures = json.loads(path.read_text(encoding="utf-8"))
    ctx.done[stage.name] = {
        "status": "ok" if record.get("success", True) else "failed", "ran": ran,
        "seconds": record.get("seconds"), "summary": record.get("summary", ""),
        "outputs": {name: str(path) for name, path in stage.outputs(ctx.pipeline).items()},
        "figures": figures,
    }


def _closing_lines(result: PipelineResult, p, display: Display) -> None:
    if not result.ran:
        display.echo(f"nothing to do: every stage is unchanged (out: {p.out})")
    else:
        display.echo(f"ran {', '.join(result.ran)}; results in {p.out}")
    if result.failed:
        stage = next(s for s in STAGES if s.name == result.failed)
        where = f": see {p.out / stage.figures}" if stage.figures else ""
        display.echo(f"{result.failed} failed{where}")
