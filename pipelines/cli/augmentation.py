"""``curaug augment``: a recipe (or a recipe search) over a manifest's train split, thin
over :mod:`augment.api`, with its flags next to it."""

from __future__ import annotations

from pathlib import Path

import click

from curate.errors import CuraugError
from pipelines.cli.app import cli, refuse_overwrite


@cli.command()
@click.argument("manifest", type=click.Path(path_type=str))
@click.option("--recipe", "recipe_path", metavar="RECIPE.yaml", help="Augmentation recipe (not needed with --replay).")
@click.option("-o", "--output", "outdir", required=True, metavar="OUTDIR", help="Folder for the new files and manifest.parquet.")
@click.option("--copies", type=click.IntRange(min=0), help="Augmented copies per train sample [default: the recipe's, else 1].")
@click.option("--balance", is_flag=True, help="Augment minority classes up to the largest (or the recipe's balance.target).")
@click.option("--all-rows", is_flag=True, help="Augment every usable row, whatever its split (needed when there is no split column).")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed (with sample id and copy: each sample's seed).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")
@click.option("--label", default="label", show_default=True, help="Label column (balancing, copy_paste donors, the label-preserving gate).")
@click.option("--replay", "replay_id", metavar="ID", help="Regenerate one augmented sample of OUTDIR and compare bytes.")
@click.option("--search", metavar="SPEC", help="Search the recipe instead of --recipe (RandAugment's N and "
              "magnitude, on the fold column): n=LO:HI,magnitude=LO:HI,trials=T[,pool=a+b][,epochs=E]; "
              "writes OUTDIR/recipe.yaml, then augments with it.")
@click.pass_context
def augment(ctx: click.Context, manifest: str, recipe_path: str | None, outdir: str, copies: int | None, balance: bool,
            all_rows: bool, seed: int, workers: int, engine: str, scheduler: str | None, label: str,
            replay_id: str | None, search: str | None) -> None:
    """Augment the train split of MANIFEST into OUTDIR (other rows pass through unchanged).

    Ctrl-C stops at once (exit 130) and says how many samples were written; rerunning the
    same command resumes without redoing them.
    """
    from pathlib import Path

    from augment.recipe_file import load_recipe
    from curate.io.manifest import load_data
    from pipelines.console.output import stdout_console
    from pipelines.console.progress import progress_bar
    from pipelines.console.summaries import print_augment_summary

    if replay_id:
        import hashlib

        from augment.runner import replay

        files = replay(outdir, replay_id)
        same = all(fresh == stored for fresh, stored in files.values())
        fresh, stored = next(iter(files.values()))  # the sample's own file; side files count in `same`
        stored_sha = hashlib.sha256(stored).hexdigest()[:16] if stored is not None else "missing"
        stdout_console().print(f"replay {replay_id}: {'identical' if same else 'DIFFERENT'} "
                               f"(sha256 {hashlib.sha256(fresh).hexdigest()[:16]}, stored {stored_sha})",
                               highlight=False, markup=False)
        ctx.exit(0 if same else 1)
    if search is not None:
        if recipe_path is not None:
            raise click.UsageError("give --recipe or --search, not both")
        from pipelines.train.recipe_search import search_from_cli

        recipe_path = search_from_cli(manifest, search, outdir, label=label, copies=copies, seed=seed,
                                      engine=engine, scheduler=scheduler, workers=workers,
                                      progress=lambda line: click.echo(line, err=True))
    if recipe_path is None:
        raise click.UsageError("Missing option '--recipe' (or --search)")
    if copies is not None and balance:
        raise click.UsageError("give --copies or --balance, not both")
    if scheduler and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    loaded = load_recipe(recipe_path)
    refuse_overwrite(manifest, str(Path(outdir) / "manifest.parquet"))
    df = load_data(manifest)
    from augment.runner import Interrupted, augment_manifest

    try:
        with progress_bar("augmenting") as progress:
            result = augment_manifest(df, loaded, outdir, seed=seed, copies=copies, balance=balance, workers=workers,
                                      engine=engine, scheduler=scheduler, label=label, all_rows=all_rows,
                                      progress=progress)
    except Interrupted as stop:
        click.echo(str(stop), err=True)
        ctx.exit(130)
    except CuraugError as exc:
        if exc.param != "all_rows":
            raise
        # the library's message names its parameter (all_rows=True); this one names the flag
        raise CuraugError(f"{manifest}: no 'split' column, and only the train split is augmented; split it first "
                          "(curaug split), or pass --all-rows to augment every row") from None
    print_augment_summary(result.summary, str(Path(outdir) / "manifest.parquet"))
