"""The whole path: ``curaug card`` (the dataset card from what curaug measured,
:mod:`curate.card`) and ``curaug run`` (a pipeline file's stages in order, :mod:`pipelines.run`)."""

from __future__ import annotations

import click

from pipelines.cli.app import LABEL_HELP, cli


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@click.option("--label", metavar="COL", help=LABEL_HELP + " Must exist when given; else the rules', else label if present.")
@click.option("--rules", "rules_path", metavar="RULES.yaml",
              help="Rules to validate with when no `curaug run` beside DATA did [default: the default checks].")
@click.option("--license", "license_id", metavar="ID", help="License identifier for the YAML header (e.g. cc-by-4.0).")
@click.option("--description", metavar="TEXT", help="A paragraph of your own at the top of the card.")
@click.option("-o", "--output", "output", required=True, metavar="CARD.md",
              help="The card; with a split column also data/<split>.parquet beside it (the header's configs).")
def card(data: str, label: str | None, rules_path: str | None, license_id: str | None, description: str | None,
         output: str) -> None:
    """Write a dataset card (Markdown, Hugging Face YAML header) from what curaug measures on DATA.

    DATA in a `curaug run` folder: that run's figures (checks, clean log, split, augmentation,
    ablation, baseline) are used too. A figure curaug did not measure is left out.
    """
    from curate.card import write_card

    write_card(data, output, label=label, rules=rules_path, license=license_id, description=description)


@cli.command()
@click.argument("pipeline", metavar="PIPELINE.yaml", type=click.Path(path_type=str))
@click.option("--from", "from_stage", metavar="STAGE",
              help="Run this stage and every one after it, changed or not (the ones before are not run).")
@click.option("--only", metavar="STAGE", help="Run just this stage (what it reads must exist).")
@click.option("--force", is_flag=True, help="Run every stage, changed or not.")
@click.option("--engine", type=click.Choice(["local", "dask"]),
              help="Where augmentation runs [default: the file's engine:, else local].")
@click.option("--scheduler", metavar="ADDR", help="Dask scheduler tcp://HOST:PORT [default: the file's, else a LocalCluster].")
@click.pass_context
def run(ctx: click.Context, pipeline: str, from_stage: str | None, only: str | None, force: bool,
        engine: str | None, scheduler: str | None) -> None:
    """Run a pipeline file's stages in order, skipping every stage whose settings and inputs are unchanged.

    The stages: ingest, validate, clean, split, clean_fitted, validate_splits, search_recipe, augment, train,
    ablation, learning_curve, card, report.
    The plan (which stages run, and why) comes first. Exit 1 when a validation stage fails;
    Ctrl-C (exit 130) keeps what finished and the same command resumes.
    """
    from pipelines.console.output import stdout_console
    from pipelines.console.progress import progress_bar, training_progress
    from pipelines.run.runner import PipelineInterrupted, run_pipeline
    from pipelines.run.stages import Display

    console = stdout_console()
    display = Display(echo=lambda line: console.print(line, highlight=False, markup=False),
                      bar=progress_bar, epochs=training_progress)
    try:
        result = run_pipeline(pipeline, from_stage=from_stage, only=only, force=force, engine=engine,
                              scheduler=scheduler, display=display)
    except PipelineInterrupted as stop:
        click.echo(str(stop), err=True)
        ctx.exit(130)
    ctx.exit(0 if result.success else 1)
