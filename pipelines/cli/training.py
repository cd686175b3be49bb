"""``curaug train``: the training harness (:mod:`pipelines.train`) from the command line,
its flags next to it."""

from __future__ import annotations

from pathlib import Path

import click

from curate.errors import CuraugError
from pipelines.cli.app import cli, option_group


DEFAULT_FRACTIONS = "0.1,0.2,0.4,0.7,1.0"


#: ``train --learning-curve``: train on growing subsets of train, fit and extrapolate.
LEARNING_CURVE_OPTIONS = option_group(
    click.option("--learning-curve", is_flag=True, help="Also train on growing stratified subsets of train, "
                 "fit val error = a n^-b + c and say how many more rows would help (RUNDIR/learning_curve.*)."),
    click.option("--fractions", metavar="F1,F2,...", default=DEFAULT_FRACTIONS, show_default=True,
                 help="Shares of train for --learning-curve: increasing, in (0, 1], at least three."),
    click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True,
                 help="Runs per fraction for --learning-curve (nested subsets per seed)."),
    click.option("--target-error", type=float, metavar="E", help="Val error --learning-curve says the rows for "
                 "[default: halfway from the current error to the curve's floor]."),
)


@cli.command()
@click.argument("manifest", type=click.Path(path_type=str))
@click.option("--label", default="label", show_default=True, metavar="COL", help="Label column.")
@click.option("-o", "--output", "rundir", required=True, metavar="RUNDIR",
              help="Run folder: metrics.json, model.pt, config.json, curves.png, errors.csv...")
@click.option("--model", type=click.Choice(["auto", "mlp", "cnn", "rnn", "bow"]), default="auto", show_default=True,
              help="Baseline; auto picks by modality (tabular mlp, image cnn, audio 1-D cnn, text bag of n-grams).")
@click.option("--epochs", type=click.IntRange(min=1), help="Most epochs [default: enough for 500 optimizer "
              "steps, 30 to 100].")
@click.option("--batch-size", type=click.IntRange(min=1), help="[default: an eighth of the train rows, 16 to 64].")
@click.option("--lr", type=float, help="Base learning rate [default: 1e-3 AdamW, 0.05 SGD; 10x for the text bow].")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), default="adamw", show_default=True,
              help="AdamW, or SGD with Nesterov momentum 0.9.")
@click.option("--weight-decay", type=float, help="[default: 1e-4; 0.3 for the text bow].")
@click.option("--schedule", type=click.Choice(["cosine", "step", "none"]), default="cosine", show_default=True)
@click.option("--balanced", is_flag=True, help="Class-balanced mini-batches.")
@click.option("--patience", type=click.IntRange(min=1),
              help="Epochs without relative improvement before stopping [default: a tenth of the epochs, 5 to 20].")
@click.option("--min-delta", type=float, default=0.01, show_default=True,
              help="Relative improvement that counts (0.01: 1 %% of the best value, whatever its sign).")
@click.option("--monitor", type=click.Choice(["val_loss", "val_accuracy"]), default="val_loss", show_default=True)
@click.option("--hard-mining", metavar="none|ohem|replay|triplet", default="none", show_default=True,
              help="Hard-example mining (see docs/training.md); a third party's miner by its name.")
@click.option("--search", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Random search of N settings (coarse, then fine), scored by K-fold CV over the fold column.")
@click.option("--search-sampler", type=click.Choice(["random", "tpe"]), default="random", show_default=True,
              help="After the coarse half: random trials near the best (random) or Optuna's TPE over the whole space.")
@click.option("--workers", "--search-workers", "search_workers", type=click.IntRange(min=1), default=1,
              show_default=True, help="Search trials run at once (--search-workers: the old name).")
@click.option("--oof-probs", "--folds", "folds", is_flag=True,
              help="Write out-of-fold class probabilities over the fold column (oof_probs.parquet) for the "
              "label_issues check (--folds: the old name; split's --folds is a number of folds).")
@click.option("--init", metavar="CHECKPOINT", help="Start from these weights (fine-tuning: lower rates for early layers).")
@click.option("--freeze", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Freeze the first N layer groups.")
@click.option("--sanity", is_flag=True, help="First check that the model can overfit a small subset (exit 1 if not).")
@click.option("--width", type=click.IntRange(min=4), help="Model width [default: 64; image and audio CNNs "
              "16 under 2,000 train rows, 32 under 20,000].")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True)
@click.option("--activation", type=click.Choice(["relu", "leaky_relu", "maxout"]), default="relu", show_default=True,
              help="Hidden activation (maxout: the maximum of --maxout-pieces affine pieces).")
@click.option("--maxout-pieces", type=click.IntRange(min=2), default=2, show_default=True, metavar="K",
              help="Pieces per maxout unit.")
@click.option("--exclude", "exclude", multiple=True, metavar="COL",
              help="A column never used as a feature (tabular; repeat or comma-separate): a domain column after "
                   "`split --domain`, a key the model must not see.")
@click.option("--human-error", type=click.FloatRange(0, 1, max_open=True), metavar="E",
              help="Human-level (Bayes) error rate the avoidable bias is measured from [default: 0].")
@click.option("--image-size", type=click.IntRange(min=8), help="Resize images to this square size "
              "[default: the median train size, at most 64].")
@click.option("--recipe", metavar="RECIPE.yaml", help="Augment every training sample afresh each epoch with this "
              "recipe (seeded by seed, epoch and row id); val and test are never augmented.")
@click.option("--data-memory", metavar="SIZE", help="Decoded rows held in memory, splits together (2GiB, 500MB); "
              "a split past it streams from the manifest [default: 2GiB].")
@click.option("--data-workers", type=click.IntRange(min=0), metavar="N", help="Loader processes that decode "
              "streamed rows and augment [default: 2 where rows are decoded or augmented per batch, else 0].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where --search runs its trials: threads here, or one Dask task per trial.")
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://HOST:PORT) [default: a LocalCluster].")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Level of the val and test intervals (exact binomial and Hoeffding).")
@LEARNING_CURVE_OPTIONS
@click.pass_context
def train(ctx: click.Context, manifest: str, label: str, rundir: str, learning_curve: bool, fractions: str,
          seeds: int, target_error: float | None, **settings) -> None:
    """Train a baseline on the train split of MANIFEST, select on val, test once at the end.

    Ctrl-C keeps the last epoch's checkpoint: rerunning the same command resumes it.
    """
    from pipelines.console.progress import search_progress, training_progress
    from pipelines.console.training import print_training_summary
    from pipelines.train.monitor import SanityError
    from pipelines.train.run import train as run_train

    if learning_curve:
        from curate.io.manifest import load_data
        from pipelines.train.learning_curve import check_has_val, parse_fractions

        parse_fractions(fractions)
        if target_error is not None and not 0 < target_error < 1:
            raise CuraugError(f"--target-error {target_error}: must lie strictly between 0 and 1")
        check_has_val(load_data(manifest), manifest)
    elif any(ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
             for name in ("fractions", "seeds", "target_error")):
        raise click.UsageError("--fractions, --seeds and --target-error need --learning-curve")
    settings["exclude"] = [name.strip() for given in settings["exclude"] for name in given.split(",") if name.strip()]
    try:
        with training_progress() as progress, search_progress() as on_trial:
            metrics = run_train(manifest, label=label, out=rundir, progress=progress, search_progress=on_trial,
                                notice=lambda line: click.echo(f"warning: {line}", err=True), **settings)
    except SanityError as exc:
        click.echo(f"sanity check failed: {exc}", err=True)
        ctx.exit(1)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the last finished epoch is checkpointed in {rundir}; "
                   "rerun the same command to resume", err=True)
        ctx.exit(130)
    print_training_summary(metrics, rundir)
    if learning_curve:
        _learning_curve(manifest, label, rundir, fractions, seeds, target_error, settings)


def _learning_curve(manifest: str, label: str, rundir: str, fractions: str, seeds: int, target_error: float | None,
                    settings: dict) -> None:
    from pipelines.console.output import stdout_console, wrote
    from pipelines.train.learning_curve import FILES, learning_curve

    console = stdout_console()
    result = learning_curve(manifest, label=label, out=rundir, fractions=fractions, seeds=seeds,
                            target_error=target_error, trained=Path(rundir),
                            progress=lambda line: console.print(line, highlight=False, markup=False), **settings)
    for line in result["answers"]:
        console.print(f"learning curve: {line}", highlight=False, markup=False)
    wrote(rundir, "learning curve: " + ", ".join(FILES) + ", one run per fraction and seed in learning_curve/")
