"""Training harness against a plain hand-written torch loop, on the 1,797 digits.

Builds scikit-learn's 8x8 digits as a class-folder image set (grey PNGs), ingests and
splits it (60/20/20), then measures in one run:

1. the harness (``curaug.train``, CNN baseline): time to its result, test accuracy,
   training samples per second;
2. a plain torch loop over the same prepared tensors, the same model and optimizer,
   the same batch size and number of epochs, with a validation pass per epoch as any
   loop would have: samples per second;
3. the ratio harness / plain (aim: >= 0.95), and the seconds the harness needs to reach
   the target accuracy on val.

With ``--recipe R`` it measures augmentation on the fly instead: seconds per epoch of the
harness drawing ``R`` afresh for every training image on 2 loader workers, against the
same epoch without augmentation (aim: within 1.3x): the fastest epoch of each after the
first (when the workers start), as the other figures count the best run on a shared
machine. With ``--device cuda`` the harness and the plain loop
run with AMP (bf16) on and off, and the harness once more with every split streamed
(``data_memory=0``: pinned batches from the loader, non-blocking copies).

    python benchmarks/bench_train.py [--epochs 20] [--target 0.97] [--device cpu|cuda]
    python benchmarks/bench_train.py --recipe sample_data/digits.recipe.yaml [--epochs 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_digits(folder: Path) -> int:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.images * (255 / 16)).round().astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, digits.target)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(folder / str(label) / f"digit_{i:04d}.png")
    return len(pixels)


def plain_loop(prepared, config, epochs: int, device, amp: bool = False) -> tuple[float, int]:
    """The loop an engineer writes by hand: shuffled index batches, AdamW, a val pass per
    epoch; with ``amp`` the forward passes under bf16 autocast."""
    import contextlib

    import torch

    from pipelines.train.models import build_model

    torch.manual_seed(config.seed)
    model = build_model(prepared.spec, config).to(device)
    x, y = (t.to(device) for t in prepared.splits["train"].tensors())
    vx, vy = (t.to(device) for t in prepared.splits["val"].tensors())
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.base_lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(config.seed)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad(), autocast():
            (model(vx).argmax(1) == vy).float().mean().item()
    return time.perf_counter() - started, epochs * len(x)


def harness_fit(prepared, config, epochs: int, rundir: Path | None) -> tuple[float, int]:
    seconds, samples, _ = harness_run(prepared, config, epochs, rundir)
    return seconds, samples


def harness_run(prepared, config, epochs: int, rundir: Path | None):
    """The harness's own loop as ``curaug train`` drives it (val pass, early-stopping
    bookkeeping, a checkpoint every epoch, the activation/gradient histograms), or with
    ``rundir=None`` the loop alone (no checkpoint, no histograms)."""
    from pipelines.train.loop import fit
    from pipelines.train.models import build_model
    from pipelines.train.run import TrainingRun

    callbacks = [TrainingRun(config, rundir)._histograms(prepared.splits["train"], epochs)] if rundir else []
    model = build_model(prepared.spec, config)
    started = time.perf_counter()
    result = fit(model, prepared.splits["train"], prepared.splits["val"], config, rundir=rundir, callbacks=callbacks,
                 epochs=epochs)
    return time.perf_counter() - started, epochs * len(prepared.splits["train"]), result


def online_epochs(split, tmp: Path, recipe: str, epochs: int, device: str) -> None:
    """Seconds per epoch with ``recipe`` drawn on 2 workers against the same epoch without
    it; then what drawing costs a process (milliseconds per sample, the loader's work), and
    the same comparison where the trainer and the loader do not share a core (one torch
    thread, one worker): what a machine with cores to spare for the workers sees."""
    import torch

    from pipelines.train.data import prepare_data
    from pipelines.train.run import make_config

    def best_epoch(threads: int, **extra) -> tuple[float, list[float], int]:
        torch.set_num_threads(threads)
        config = make_config(label="label", epochs=epochs, patience=epochs, device=device, seed=0, **extra)
        prepared = prepare_data(split, config, base_dir=tmp)
        result = harness_run(prepared, config, epochs, None)[2]
        seconds = [row["seconds"] for row in result.history]
        return min(seconds[1:] or seconds), seconds, len(prepared.splits["train"])

    threads = torch.get_num_threads()
    runs = {}
    for name, extra in (("without augmentation", {}), ("online, 2 workers", {"recipe": recipe, "data_workers": 2})):
        runs[name], seconds, n = best_epoch(threads, **extra)
        print(f"{name}: best {runs[name]:.2f} s per epoch ({n} train images; epochs: "
              f"{', '.join(f'{s:.2f}' for s in seconds)})")
    ratio = runs["online, 2 workers"] / runs["without augmentation"]
    print(f"ratio online/without: {ratio:.2f}x (aim <= 1.3)")

    in_process, _, n = best_epoch(threads, recipe=recipe, data_workers=0)
    per_sample = (in_process - runs["without augmentation"]) / n * 1e3
    print(f"drawing in the training process: {in_process:.2f} s per epoch, {per_sample:.2f} ms per sample "
          f"({threads} torch threads on {os.cpu_count()} cores: the loader's workers share them with the trainer)")
    if (os.cpu_count() or 1) >= 2:
        plain1, _, _ = best_epoch(1)
        online1, _, _ = best_epoch(1, recipe=recipe, data_workers=1)
        print(f"trainer and loader on cores of their own (1 torch thread, 1 worker): {online1:.2f} vs "
              f"{plain1:.2f} s per epoch, ratio {online1 / plain1:.2f}x")
    torch.set_num_threads(threads)


def cuda_figures(prepared, split, tmp: Path, epochs: int) -> None:
    """Samples/s of the harness and the plain loop with AMP (bf16) on and off, and the
    harness streaming every split (pinned batches, non-blocking copies)."""
    import torch

    from pipelines.train.data import prepare_data
    from pipelines.train.run import make_config

    from pipelines.train.sizing import size_to_data

    device = torch.device("cuda")
    print(f"GPU: {torch.cuda.get_device_name(device)}")
    for amp in ("bf16", "off"):
        config = make_config(label="label", epochs=epochs, patience=epochs, device="cuda", seed=0, amp=amp)
        config = size_to_data(config, prepared.spec, len(prepared.splits["train"]))
        harness = max(s / t for t, s in (harness_fit(prepared, config, epochs, None) for _ in range(2)))
        plain = max(s / t for t, s in (plain_loop(prepared, config, epochs, device, amp=amp != "off")
                                       for _ in range(2)))
        print(f"cuda amp {amp}: harness {harness:.0f} train samples/s, plain torch loop {plain:.0f} "
              f"({harness / plain:.2f}x)")
    config = make_config(label="label", epochs=epochs, patience=epochs, device="cuda", seed=0, data_memory=0)
    streamed = prepare_data(split, config, base_dir=tmp)
    seconds, samples = harness_fit(streamed, config, epochs, None)
    print(f"cuda amp auto, every split streamed (2 workers, pinned): {samples / seconds:.0f} train samples/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--target", type=float, default=0.97)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each loop; the best counts")
    parser.add_argument("--recipe", help="measure augmentation on the fly with this image recipe instead")
    args = parser.parse_args()

    import torch

    import curaug
    from pipelines.train.data import prepare_data
    from pipelines.train.device import resolve_device
    from pipelines.train.run import make_config
    from pipelines.train.sizing import size_to_data

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"device {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = write_digits(tmp / "digits")
        manifest = curaug.ingest(str(tmp / "digits")).manifest
        split = curaug.split(manifest, label="label", ratios=(0.6, 0.2, 0.2), seed=0)
        curaug.save_manifest(split, str(tmp / "digits.parquet"))
        if args.recipe:
            online_epochs(split, tmp, str(Path(args.recipe).resolve()), args.epochs, args.device)
            return

        # 1. the whole command: early stopping on val, test once, every file written
        started = time.perf_counter()
        metrics = curaug.train(str(tmp / "digits.parquet"), label="label", out=str(tmp / "run"),
                               epochs=args.epochs, device=args.device, seed=0)
        whole = time.perf_counter() - started
        history = metrics["history"]
        reached = next((row for row in history if row["val_accuracy"] >= args.target), None)

        # 2. throughput: the harness's loop and a plain loop, same model, data and epochs,
        # interleaved so that both meet the same machine load; the best of each counts
        config = make_config(label="label", epochs=args.epochs, patience=args.epochs, device=args.device, seed=0)
        prepared = prepare_data(split, config, base_dir=tmp)
        # the sizes curaug train gives a None (batch, rates, width): the plain loop needs them too
        config = size_to_data(config, prepared.spec, len(prepared.splits["train"]))
        device = resolve_device(args.device)
        harness, bare, plain = [], [], []
        for repeat in range(args.repeats):
            seconds, samples = harness_fit(prepared, config, args.epochs, tmp / f"fit{repeat}")
            harness.append(samples / seconds)
            seconds, samples = harness_fit(prepared, config, args.epochs, None)
            bare.append(samples / seconds)
            seconds, samples = plain_loop(prepared, config, args.epochs, device)
            plain.append(samples / seconds)
        if device.type == "cuda":
            cuda_figures(prepared, split, tmp, args.epochs)

    print(f"digits: {n} images 8x8, model {metrics['model']}, batch {config.batch_size}")
    print(f"curaug train: test accuracy {metrics['test']['accuracy']:.4f} (evaluated once, best epoch "
          f"{metrics['best_epoch']} of {metrics['stopped_epoch']}), {whole:.1f} s for the whole run "
          f"(decode, {len(history)} epochs, histograms, checkpoints, test, files)")
    if reached is not None:
        print(f"val accuracy >= {args.target}: epoch {reached['epoch']}, "
              f"{sum(r['seconds'] for r in history[:reached['epoch']]):.1f} s of training")
    else:
        print(f"val accuracy never reached {args.target} in {len(history)} epochs")
    print(f"harness loop ({args.epochs} epochs, checkpoints and histograms on): best {max(harness):.0f} "
          f"train samples/s (runs: {', '.join(f'{r:.0f}' for r in harness)})")
    print(f"harness loop without checkpoints and histograms: best {max(bare):.0f} train samples/s "
          f"({max(bare) / max(plain):.2f}x the plain loop)")
    print(f"plain torch loop: best {max(plain):.0f} train samples/s (runs: {', '.join(f'{r:.0f}' for r in plain)})")
    print(f"ratio harness/plain: {max(harness) / max(plain):.2f}x (aim >= 0.95)")


if __name__ == "__main__":
    main()
