"""Recipe search (issue 25): which augmentation, and how strong, chosen by cross-validation.

RandAugment (Cubuk et al. 2020) showed that two numbers searched on validation are enough:
``N`` transforms per sample and one magnitude ``M`` (0-10) for all of them. Optuna
proposes ``(N, M, pool subset)`` over the declared ranges; each trial augments the train
and val rows (the ``fold`` column of ``curaug split --folds K``; test rows are never read)
with :func:`augment.randaugment.build_recipe`'s recipe, then for each fold ``k`` trains the
baseline on the other folds' rows plus their augmented copies and scores it on fold ``k``
(copies of fold ``k``'s rows are left out). A trial's score is the mean val accuracy over
the folds. The chosen recipe is written as an ordinary recipe file.

The pool subset is one yes/no per pool transform; a trial that keeps none uses the whole
pool, and an ``N`` larger than the kept transforms applies all of them (the recipe says
what was used). One run without augmentation (``none``) gives the score to beat.

Reproducible and resumable: trials are proposed in rounds of :data:`ROUND`; round ``r``'s
sampler is seeded from (seed, r) and sees the trials of the rounds before it alone, so
the proposals depend neither on the engine (``dask`` runs a round's trials as tasks at
once, ``local`` one after another) nor on an interruption: every finished trial is
appended to ``trials.jsonl`` in the search folder, and a rerun with the same settings
keeps them and runs only the rest (with more ``trials``, it continues the search).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from curate.errors import CuraugError

if TYPE_CHECKING:
    import pandas as pd

#: Trials proposed at once (run at once on Dask); fixed, so results do not depend on the engine.
ROUND = 4
JOURNAL = "trials.jsonl"
SETTINGS = "settings.json"
RESULT = "search.json"
#: Training settings that are whole-run features, not part of one fold's fit.
#: Settings of a whole run, not of a trial's fits (a trial's recipe is the trial's own).
RUN_ONLY = ("search", "search_workers", "folds", "sanity", "recipe")


@dataclass(frozen=True)
class SearchSpace:
    """The declared space: ``n`` and ``magnitude`` as inclusive integer ranges, the trial
    count, and the pool (names of the modality's magnitude transforms)."""

    n: tuple[int, int]
    magnitude: tuple[int, int]
    trials: int
    pool: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"n": list(self.n), "magnitude": list(self.magnitude), "trials": self.trials, "pool": list(self.pool)}


def check_space(modality: str, *, n: Sequence[int], magnitude: Sequence[float], trials: int,
                pool: Sequence[str] | None = None) -> SearchSpace:
    """The space checked: ``1 <= n.lo <= n.hi <= len(pool)``, ``0 <= magnitude.lo <= magnitude.hi
    <= 10`` (integers), ``trials >= 1``; each error names its parameter and the values.

    >>> check_space("image", n=[1, 3], magnitude=[2, 10], trials=12).pool[:3]
    ('rotate', 'shear', 'translate')
    >>> check_space("image", n=[3, 1], magnitude=[2, 10], trials=12)
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: n=[3, 1]: lo > hi; give [lo, hi] with 1 <= lo <= hi <= 8 (the pool's size)
    """
    from augment.magnitude import MAX_MAGNITUDE
    from augment.randaugment import check_pool

    names = check_pool(modality, pool)
    n_range = _int_pair("n", n)
    if not 1 <= n_range[0] <= n_range[1] <= len(names):
        problem = "lo > hi" if n_range[0] > n_range[1] else "out of range"
        raise CuraugError(f"n={list(n_range)}: {problem}; give [lo, hi] with 1 <= lo <= hi <= {len(names)} "
                          "(the pool's size)", param="n")
    m_range = _int_pair("magnitude", magnitude)
    if not 0 <= m_range[0] <= m_range[1] <= MAX_MAGNITUDE:
        problem = "lo > hi" if m_range[0] > m_range[1] else "outside 0-10"
        raise CuraugError(f"magnitude={list(m_range)}: {problem}; give [lo, hi] with 0 <= lo <= hi <= 10",
                          param="magnitude")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise CuraugError(f"trials={trials!r}: give at least 1 trial", param="trials")
    return SearchSpace(n_range, m_range, trials, names)


def _int_pair(name: str, value: Any) -> tuple[int, int]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2 \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
                       for v in value):
        raise CuraugError(f"{name}={value!r}: give a whole number or a range [lo, hi] of whole numbers", param=name)
    return int(value[0]), int(value[1])


def parse_search_option(text: str) -> dict[str, Any]:
    """``curaug augment --search``'s value: comma-separated ``key=value`` with ``n=LO:HI``,
    ``magnitude=LO:HI`` (or one number), ``trials=T``, ``pool=a+b+c``, ``modality=M``,
    ``epochs=E``, ``augment=online|offline`` (how each trial's fits augment; default offline).

    >>> parse_search_option("n=1:3,magnitude=2:10,trials=12,pool=rotate+noise")
    {'n': [1, 3], 'magnitude': [2, 10], 'trials': 12, 'pool': ['rotate', 'noise']}
    >>> parse_search_option("n=1:3,trails=4")
    Traceback (most recent call last):
    ...
    curate.errors.CuraugError: search='n=1:3,trails=4': unknown key 'trails' (did you mean 'trials'?); keys: n, magnitude, trials, pool, modality, epochs, augment
    """
    from curate.errors import did_you_mean

    keys = ("n", "magnitude", "trials", "pool", "modality", "epochs", "augment")
    found: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in keys:
            what = f"unknown key '{key}'{did_you_mean(key, list(keys))}" if sep else f"'{part}' is not key=value"
            raise CuraugError(f"search={text!r}: {what}; keys: {', '.join(keys)}", param="search")
        try:
            if key in ("n", "magnitude"):
                lo, _, hi = value.partition(":")
                found[key] = [int(lo), int(hi or lo)]
            elif key in ("trials", "epochs"):
                found[key] = int(value)
            elif key == "pool":
                found[key] = [name.strip() for name in value.split("+") if name.strip()]
            else:
                found[key] = value.strip()
        except ValueError:
            raise CuraugError(f"search={text!r}: {key}={value!r} is not "
                              f"{'LO:HI (whole numbers)' if key in ('n', 'magnitude') else 'a whole number'}",
                              param="search") from None
    if found.get("augment", "offline") not in ("online", "offline"):
        raise CuraugError(f"search={text!r}: augment={found['augment']!r}: choose online or offline", param="search")
    for key in ("n", "magnitude", "trials"):
        if key not in found:
            raise CuraugError(f"search={text!r}: missing {key}= (e.g. n=1:3,magnitude=2:10,trials=12)",
                              param="search")
    return found


def search_modality(df: "pd.DataFrame") -> str:
    """The data's modality: its ``modality`` column's one value, else ``text`` for a table
    with a ``text`` column."""
    if "modality" in df.columns:
        values = sorted(df["modality"].dropna().astype(str).unique())
        if len(values) == 1:
            return values[0]
        raise CuraugError(f"data: {len(values)} modalities ({', '.join(values)}); name the one to search "
                          "(modality=...)", param="modality")
    if "text" in df.columns:
        return "text"
    raise CuraugError("data: no 'modality' column and no 'text' column; name the modality to search "
                      "(modality=...)", param="modality")


def trial_choice(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """What a trial's Optuna ``params`` (``n``, ``magnitude``, ``use_<name>``) apply: the
    kept pool (all of it when none is kept) and ``n`` cut to its size."""
    kept = [name for name in space.pool if params.get(f"use_{name}", True)] or list(space.pool)
    return {"n": min(int(params["n"]), len(kept)), "magnitude": int(params["magnitude"]), "pool": kept}


def trial_recipe(modality: str, choice: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recipe of a :func:`trial_choice`, with ``base``'s other recipe keys (copies,
    protect, gate...)."""
    from augment.randaugment import build_recipe

    base = base or {}
    built = build_recipe(modality, choice["n"], choice["magnitude"], choice["pool"],
                         copies=int(base.get("copies") or 1))
    return {**built, **{k: v for k, v in base.items() if k not in ("modality", "copies", "transforms", "preset")}}


def _distributions(space: SearchSpace) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    found: dict[str, Any] = {"n": IntDistribution(*space.n), "magnitude": IntDistribution(*space.magnitude)}
    if len(space.pool) > 1:
        found.update({f"use_{name}": CategoricalDistribution([True, False]) for name in space.pool})
    return found


def search_recipe(data: "pd.DataFrame", *, label: str, folder: str | os.PathLike, recipe_out: str | os.PathLike,
                  n: Sequence[int], magnitude: Sequence[float], trials: int, pool: Sequence[str] | None = None,
                  modality: str | None = None, base: dict[str, Any] | None = None, seed: int = 0,
                  train: dict[str, Any] | None = None, base_dir: str | os.PathLike | None = None,
                  engine: str = "local", scheduler: str | None = None, workers: int = 1, online: bool = False,
                  progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Search ``(N, M, pool subset)`` on the folds of ``data`` and write the best recipe.

    Parameters
    ----------
    data : DataFrame
        A split manifest with a ``fold`` column (``curaug split --folds K``); rows of
        fold -1 (test) are never read.
    label : str
        The label column.
    folder : path
        The search's folder: ``trials.jsonl`` (the finished trials, kept for a resumed
        run), ``settings.json``, ``search.json`` (every trial and the choice).
    recipe_out : path
        Where the chosen recipe is written (an ordinary recipe file).
    n, magnitude, trials, pool
        The space: ``[lo, hi]`` transforms per sample, ``[lo, hi]`` magnitude (0-10), the
        trial count and the pool (default: the plugin's default pool).
    modality : str, optional
        Default: the data's (:func:`search_modality`).
    base : dict, optional
        Recipe keys every trial's recipe keeps (``copies``, ``protect``, ``gate``...).
    seed : int
        Seeds the Optuna sampler and every trial's augmentation.
    train : dict, optional
        :class:`~pipelines.train.config.TrainConfig` settings of each fold's fit
        (``epochs``...); whole-run ones (search, folds, sanity) are dropped.
    engine, scheduler, workers
        ``dask`` runs each round's trials as Dask tasks (on ``scheduler``, else a
        LocalCluster of ``workers`` processes); the result is the local engine's.
    online : bool
        Each trial's fits augment their training rows on the fly with the trial's recipe
        (``curaug train --recipe``) instead of on a corpus written once per trial.

    Returns
    -------
    dict
        What ``search.json`` holds: ``trials``, ``none`` (the score without augmentation),
        ``best`` (with its ``recipe``).
    """
    from augment.runner import with_ids

    if engine not in ("local", "dask"):
        raise CuraugError(f"engine={engine!r}: choose 'local' or 'dask'", param="engine")
    df = with_ids(data)
    modality = modality or search_modality(df)
    space = check_space(modality, n=n, magnitude=magnitude, trials=trials, pool=pool)
    rows = _fold_rows(df, label)
    folder = Path(folder).resolve()  # augmented rows' root: absolute, whatever base_dir is
    settings = {k: v for k, v in (train or {}).items() if k not in RUN_ONLY and v is not None}
    # the trial count is not a setting of the trials: a rerun asking for more continues
    journal = _Journal(folder, {"modality": modality, "space": {**space.as_dict(), "trials": None},
                                "base": base or {}, "seed": seed,
                                "train": settings, "label": label, "online": bool(online),
                                "data": _data_digest(rows, label)})
    job = _TrialJob(rows, label, settings, seed, str(Path(base_dir or Path.cwd()).resolve()), str(folder), online)
    with _runner(engine, scheduler, workers) as run_all:
        if "none" not in journal.done:
            progress("recipe search: training without augmentation (the score to beat)")
            journal.add({"number": "none", **job(None, "none")})
        total = space.trials
        for start in range(0, total, ROUND):
            asked = _ask_round(space, journal, seed, start, min(ROUND, total - start))
            choices = {number: trial_choice(params, space) for number, params in asked if number not in journal.done}
            recipes = {number: trial_recipe(modality, choice, base) for number, choice in choices.items()}
            for number, scored in run_all(job, [(recipes[k], f"{k:03d}") for k in recipes], list(recipes)):
                journal.add({"number": number, "params": dict(asked)[number], **choices[number], **scored})
                best = max(t["score"] for t in journal.trials())
                progress(f"recipe search: trial {number + 1}/{total} ({_describe(choices[number])}): val accuracy "
                         f"{scored['score']:.3f} (best {best:.3f}, none {journal.done['none']['score']:.3f})")
    shutil.rmtree(folder / "work", ignore_errors=True)
    result = _result(journal, space, modality, seed, rows, trial_recipe(modality, _chosen(journal), base))
    if result["best"]["score"] <= result["none"]["score"]:
        progress(f"recipe search: no trial beat training without augmentation ({result['none']['score']:.3f}); "
                 "the best trial's recipe is written all the same (see the ablation)")
    from curate.io.atomic import write_json_atomic, write_text_atomic

    write_text_atomic(recipe_out, recipe_text(result))
    write_json_atomic(folder / RESULT, result)
    return result


def search_from_cli(manifest: str, option: str, outdir: str | os.PathLike, *, label: str, copies: int | None,
                    seed: int, engine: str, scheduler: str | None, workers: int,
                    progress: Callable[[str], None]) -> str:
    """``curaug augment MANIFEST --search OPTION -o OUTDIR``: search in ``OUTDIR/search/``,
    write ``OUTDIR/recipe.yaml`` and return its path (the command then augments with it).
    A bad space names ``--search``."""
    from curate.io.manifest import load_data

    spec = parse_search_option(option)
    epochs = spec.pop("epochs", None)
    online = spec.pop("augment", "offline") == "online"
    target = Path(outdir) / "recipe.yaml"
    try:
        search_recipe(load_data(manifest), label=label, folder=Path(outdir) / "search", recipe_out=target,
                      base={"copies": copies} if copies is not None else None, seed=seed,
                      train={"epochs": epochs}, base_dir=Path(manifest).resolve().parent, engine=engine,
                      scheduler=scheduler, workers=workers, online=online, progress=progress, **spec)
    except CuraugError as exc:
        if exc.param in ("n", "magnitude", "trials", "pool", "modality"):
            raise CuraugError(f"--search: {exc}", param="search") from None
        if exc.param == "data":
            raise CuraugError(f"{manifest}: {exc}", param="data") from None
        raise
    return str(target)


def _fold_rows(df: "pd.DataFrame", label: str) -> "pd.DataFrame":
    """The train and val rows (fold >= 0) of ``df``; refuse data without folds."""
    if "fold" not in df.columns:
        raise CuraugError("data has no 'fold' column: recipe search scores each trial on validation folds; "
                          "split with `curaug split --folds K` first", param="data")
    if label not in df.columns:
        raise CuraugError(f"label={label!r}: no such column in the data", param="label")
    rows = df[df["fold"].notna() & (df["fold"] >= 0)]
    folds = sorted(rows["fold"].astype(int).unique())
    if len(folds) < 2:
        raise CuraugError(f"data: {len(folds)} fold(s) among the train and val rows; recipe search needs at "
                          "least 2 (curaug split --folds K)", param="data")
    return rows


def _data_digest(rows: "pd.DataFrame", label: str) -> str:
    import hashlib

    import pandas as pd

    key = rows[["id", label, "fold"]].astype(str)
    return hashlib.sha256(pd.util.hash_pandas_object(key, index=False).values.tobytes()).hexdigest()[:16]


def _ask_round(space: SearchSpace, journal: "_Journal", seed: int, start: int, count: int) -> list[tuple[int, dict]]:
    """The ``count`` proposals of the round starting at trial ``start``: a study holding the
    finished trials before ``start`` alone, sampled with a sampler seeded from (seed, round)."""
    import optuna
    from optuna.trial import create_trial

    from pipelines.train.search import derived_seed

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        sampler = optuna.samplers.TPESampler(seed=derived_seed(seed, "recipe", start // ROUND),
                                             n_startup_trials=ROUND)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        distributions = _distributions(space)
        for number in range(start):
            done = journal.done[number]
            study.add_trial(create_trial(params=done["params"], distributions=distributions, value=done["score"]))
        asked = []
        for _ in range(count):
            trial = study.ask(distributions)
            asked.append((trial.number, dict(trial.params)))
        return asked
    finally:
        optuna.logging.set_verbosity(previous)


class _TrialJob:
    """One trial's work (module-level data only, so Dask can ship it): augment the fold rows
    with the recipe, then per fold fit on the other folds (and their copies) and score;
    ``online``, the fits draw the recipe on the fly instead (no copies written)."""

    def __init__(self, rows: "pd.DataFrame", label: str, settings: dict[str, Any], seed: int, base_dir: str,
                 folder: str, online: bool = False):
        self.rows, self.label, self.settings, self.seed = rows, label, settings, seed
        self.base_dir, self.folder, self.online = base_dir, folder, online

    def __call__(self, recipe: dict[str, Any] | None, name: str) -> dict[str, Any]:
        import pandas as pd

        rows = self.rows
        made = rows.iloc[:0]
        workdir = Path(self.folder) / "work" / name
        settings = {**self.settings, "recipe": recipe} if self.online else self.settings
        if recipe is not None and not self.online:
            from augment.recipe_file import load_recipe
            from augment.runner import augment_manifest

            # every fold row is augmented once; a fold's fits leave out the copies of its own rows
            result = augment_manifest(rows.assign(split="train"), load_recipe(recipe), workdir, seed=self.seed,
                                      label=self.label)
            made = result.manifest[result.manifest["source_id"].notna()]
            made = made.assign(fold=made["source_id"].map(dict(zip(rows["id"], rows["fold"]))).to_numpy())
        scores = []
        for k in sorted(rows["fold"].astype(int).unique()):
            frame = pd.concat([rows.assign(split=(rows["fold"] == k).map({True: "val", False: "train"})),
                               made[made["fold"] != k].assign(split="train")], ignore_index=True)
            scores.append(fit_and_score(frame, self.label, settings, Path(self.base_dir)))
        shutil.rmtree(workdir, ignore_errors=True)  # the score is kept; the files are not needed again
        return {"score": float(sum(scores) / len(scores)), "folds": scores}


def fit_and_score(frame: "pd.DataFrame", label: str, settings: dict[str, Any], base_dir: Path) -> float:
    """Val accuracy of the baseline fitted on ``frame``'s train rows (the fit ``train
    --search`` runs per fold: no run folder, no figures)."""
    from pipelines.train.data import prepare_data
    from pipelines.train.metrics import classification_metrics
    from pipelines.train.run import evaluate_on_model_device, fit_fresh, make_config
    from pipelines.train.sizing import size_to_data

    config = make_config(label=label, **settings)
    prepared = prepare_data(frame, config, base_dir=base_dir)
    config = size_to_data(config, prepared.spec, len(prepared.splits["train"]))
    model, _ = fit_fresh(config, prepared.splits["train"], prepared.splits["val"])
    pred = evaluate_on_model_device(model, prepared.splits["val"])
    return float(classification_metrics(pred, prepared.spec.classes)["accuracy"])


class _runner:
    """``run_all(job, args, keys)`` yielding ``(key, result)`` as each finishes: one after
    another locally, as Dask tasks (one per trial) on the Dask engine."""

    def __init__(self, engine: str, scheduler: str | None, workers: int):
        self.engine, self.scheduler, self.workers = engine, scheduler, workers
        self._scope = None

    def __enter__(self):
        if self.engine != "dask":
            return lambda job, args, keys: ((key, job(*a)) for key, a in zip(keys, args))
        from curate.engine import dask_client

        self._scope = dask_client(self.workers, self.scheduler)
        client, _ = self._scope.__enter__()

        def run_all(job, args, keys):
            from distributed import as_completed

            futures = {client.submit(job, *a, pure=False): key for key, a in zip(keys, args)}
            for future, result in as_completed(list(futures), with_results=True):
                yield futures[future], result

        return run_all

    def __exit__(self, *exc):
        return self._scope.__exit__(*exc) if self._scope is not None else False


class _Journal:
    """``trials.jsonl``: one line per finished trial, appended and flushed as it finishes.
    A last line cut short by a kill is a trial that did not finish (it reruns). The
    settings the trials were run under are in ``settings.json``; other settings are refused."""

    def __init__(self, folder: Path, settings: dict[str, Any]):
        self.path = folder / JOURNAL
        self.done: dict[Any, dict[str, Any]] = {}
        stored = folder / SETTINGS
        if stored.is_file() and json.loads(stored.read_text(encoding="utf-8")) != json.loads(json.dumps(settings)):
            raise CuraugError(f"{folder} holds the trials of a search with other settings (space, seed, training "
                              "or data); give a new folder or remove it", param="out")
        folder.mkdir(parents=True, exist_ok=True)
        if not stored.is_file():
            from curate.io.atomic import write_json_atomic

            write_json_atomic(stored, settings)
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.done[record["number"]] = record

    def add(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.done[record["number"]] = record

    def trials(self) -> list[dict[str, Any]]:
        return sorted((t for k, t in self.done.items() if k != "none"), key=lambda t: t["number"])


def _describe(choice: dict[str, Any]) -> str:
    return f"n={choice['n']} magnitude={choice['magnitude']} pool={'+'.join(choice['pool'])}"


def _chosen(journal: _Journal) -> dict[str, Any]:
    """The best trial (ties: the earliest)."""
    return max(journal.trials(), key=lambda t: (t["score"], -t["number"]))


def _result(journal: _Journal, space: SearchSpace, modality: str, seed: int, rows: "pd.DataFrame",
            recipe: dict[str, Any]) -> dict[str, Any]:
    return {"modality": modality, "space": space.as_dict(), "seed": seed, "round": ROUND,
            "folds": int(rows["fold"].nunique()), "rows": int(len(rows)),
            "metric": "val accuracy, mean over the folds (each fold validates a model trained on the others)",
            "none": {k: journal.done["none"][k] for k in ("score", "folds")},
            "trials": journal.trials(), "best": {**_chosen(journal), "recipe": recipe}}


def recipe_text(result: dict[str, Any]) -> str:
    """The chosen recipe as a recipe file, headed by where it came from."""
    import yaml

    best, none = result["best"], result["none"]
    header = (f"# Chosen by curaug's recipe search (seed {result['seed']}): trial {best['number'] + 1} of "
              f"{len(result['trials'])}, {_describe(best)}\n"
              f"# val accuracy {best['score']:.4f} over {result['folds']} folds; without augmentation "
              f"{none['score']:.4f}\n")
    return header + yaml.safe_dump(best["recipe"], sort_keys=False)
