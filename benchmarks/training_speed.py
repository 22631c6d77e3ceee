"""Training speed of a generated project against hand-written PyTorch loops, in one run.

The data: MNIST-format files of scikit-learn's real handwritten digits, shifted and noised
into a larger training set, with held-out digits as the test set. Two anchors:

- the simplest loop that works: a plain CNN (two conv blocks, no batch norm) and Adam on
  the training images normalised once in memory, no validation pass;
- a loop over the generated project's own network, data path, optimizer and schedule,
  with its validation pass: what is left between it and the fit is Lightning's work.

    python benchmarks/training_speed.py --device cpu   # the project's defaults; target <= 1.1x
    python benchmarks/training_speed.py --device cuda  # bf16, three batch sizes; target >= 0.95x

Process start and imports are measured apart from the fit and reported on their own.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# MNIST's mean and standard deviation, the generated model's defaults.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def startup_seconds(runs: int) -> dict[str, float]:
    """Median wall time of a bare interpreter and of importing the training stack."""

    def run(code: str) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    bare = run("pass")
    stack = run("import torch, torchvision, pytorch_lightning, torchmetrics, jsonargparse")
    return {"python": bare, "imports": stack - bare}


def make_project(workdir: Path, train_count: int) -> tuple[Path, Any]:
    """Generate the default project and its data; return the data folder and the package."""
    import importlib

    import numpy as np
    from sklearn.model_selection import train_test_split

    from plscaffold.api import new_project, project_options
    from tests.mnist_format import digits_as_mnist, write_idx

    project = new_project(project_options("bench"), output_dir=workdir).project_abspath
    sys.path.insert(0, str(project / "src"))
    images, labels = digits_as_mnist()
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=0.2, random_state=0, stratify=labels
    )
    rng = np.random.default_rng(0)
    index = rng.integers(0, len(train_y), train_count)
    shifts = rng.integers(-2, 3, (train_count, 2))
    big = np.stack(
        [np.roll(train_x[i], tuple(s), axis=(0, 1)) for i, s in zip(index, shifts, strict=True)]
    )
    big = np.clip(big.astype(np.int16) + rng.integers(-20, 21, big.shape), 0, 255)
    data_dir = workdir / "data"
    write_idx(data_dir / "MNIST" / "raw", "train", big.astype(np.uint8), train_y[index])
    write_idx(data_dir / "MNIST" / "raw", "test", test_x, test_y)
    return data_dir, importlib.import_module("bench")


def test_accuracy(net: Any, images: Any, labels: Any, autocast: Any) -> float:
    import torch

    net.eval()
    with torch.no_grad(), autocast():
        x = (images.unsqueeze(1).float() / 255 - MNIST_MEAN) / MNIST_STD
        accuracy = (net(x).argmax(1) == labels).float().mean().item()
    net.train()
    return accuracy


class Stopwatch:
    """Wall time of a run, less the time spent measuring test accuracy along the way."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.started = self.lap_started = time.perf_counter()
        self.excluded = self.total = 0.0
        self.results: list[tuple[float, float]] = []

    def _now(self) -> float:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def epoch_start(self) -> None:
        self.lap_started = self._now()

    def epoch_end(self, accuracy: Any) -> None:
        """Close an epoch; ``accuracy()`` runs off the clock."""
        ended = self._now()
        value = accuracy()
        self.excluded += time.perf_counter() - ended
        self.results.append((ended - self.lap_started, value))

    def stop(self) -> Stopwatch:
        self.total = self._now() - self.started - self.excluded
        return self


def plain_loop(
    package: Any,
    data_dir: Path,
    device: str,
    batch: int,
    epochs: int,
    fused: bool = True,
    compile: str | None = None,
    seed: int = 0,
) -> Stopwatch:
    """Train with a hand-written loop: the generated project's network, data and optimizer."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    clock = Stopwatch(device)
    datamodule = package.MNISTDataModule(data_dir=str(data_dir), batch_size=batch)
    datamodule.setup("fit")
    datamodule.setup("test")
    train, val = datamodule.train_dataloader(), datamodule.val_dataloader()
    net = package.ConvNet().to(device)  # the network configs/default.yaml names
    if compile:
        net.compile(mode=None if compile == "default" else compile)
    # The generated defaults: AdamW (fused unless asked otherwise), and a cosine over the
    # run's optimizer steps, stepped after each one (the model's configure_optimizers).
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=1e-3, weight_decay=1e-4, fused=True if fused else None
    )
    total_steps = epochs * len(train)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (1 + math.cos(math.pi * min(step / total_steps, 1))) / 2
    )
    test = datamodule.datasets["test"]
    test_images, test_labels = test.images.to(device), test.labels.to(device)
    bf16 = device == "cuda"
    autocast = lambda: torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731

    def normalised(images: Any) -> Any:  # what the datamodule and the model do on the device
        return (images.to(device, non_blocking=True).float() / 255 - MNIST_MEAN) / MNIST_STD

    for _ in range(epochs):
        clock.epoch_start()
        for images, labels in train:
            images, labels = normalised(images), labels.to(device, non_blocking=True)
            with autocast():
                loss = F.cross_entropy(net(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        net.eval()
        correct = total = 0
        with torch.no_grad(), autocast():
            for images, labels in val:
                images, labels = normalised(images), labels.to(device)
                correct += (net(images).argmax(1) == labels).sum().item()
                total += len(labels)
        net.train()
        clock.epoch_end(lambda: test_accuracy(net, test_images, test_labels, autocast))
    return clock.stop()


class SimpleCNN:
    """The simplest network that does well on MNIST: the second anchor's model.

    Two 3x3 convolution blocks (32 and 64 channels, ReLU, 2x2 max pooling), 128 hidden
    units, dropout 0.25, no batch norm.
    """

    @staticmethod
    def build() -> Any:
        from torch import nn

        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(128, 10),
        )


def simple_loop(data_dir: Path, device: str, batch: int, epochs: int, seed: int = 0) -> Stopwatch:
    """Train the simplest thing that works: a plain CNN, Adam, normalised tensors in memory.

    The training set is read once from the IDX files (torchvision's MNIST, no transform),
    normalised once, and shuffled each epoch by indexing; no validation pass. Test
    accuracy is measured after each epoch, off the clock.
    """
    import torch
    import torch.nn.functional as F
    from torchvision.datasets import MNIST

    torch.manual_seed(seed)
    clock = Stopwatch(device)
    train = MNIST(str(data_dir), train=True)
    images = ((train.data.float() / 255 - MNIST_MEAN) / MNIST_STD).unsqueeze(1).to(device)
    labels = train.targets.to(device)
    test = MNIST(str(data_dir), train=False)
    test_images, test_labels = test.data.to(device), test.targets.to(device)
    net = SimpleCNN.build().to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    bf16 = device == "cuda"
    autocast = lambda: torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    for _ in range(epochs):
        clock.epoch_start()
        order = torch.randperm(len(labels), device=device)
        for start in range(0, len(labels), batch):
            index = order[start : start + batch]
            with autocast():
                loss = F.cross_entropy(net(images[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        clock.epoch_end(lambda: test_accuracy(net, test_images, test_labels, autocast))
    return clock.stop()


def lightning_fit(
    package: Any,
    data_dir: Path,
    workdir: Path,
    device: str,
    batch: int,
    epochs: int,
    workers: int | None,
    compile: str | None = None,
    seed: int | None = None,
) -> Stopwatch:
    """Train through the generated entry point's config; the clock runs around trainer.fit.

    ``workers`` and ``seed`` left as None keep the project's own defaults.
    """
    import torch
    from bench.cli import cli_main
    from pytorch_lightning import Callback
    from torchvision.datasets import MNIST

    test = MNIST(str(data_dir), train=False)
    test_images, test_labels = test.data.to(device), test.targets.to(device)

    def autocast() -> Any:
        return torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")

    class EpochClock(Callback):
        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            clock.epoch_start()

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            clock.epoch_end(
                lambda: test_accuracy(pl_module.net, test_images, test_labels, autocast)
            )

    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{device}-{batch}-", dir=workdir))
    args = [
        f"--trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "--trainer.devices=1",
        f"--trainer.precision={'bf16-mixed' if device == 'cuda' else '32-true'}",
        f"--trainer.max_epochs={epochs}",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={run_dir}",
        f"--trainer.logger.init_args.save_dir={run_dir / 'logs'}",
        f"--model.init_args.compile={'true' if compile == 'default' else compile or 'false'}",
        f"--data.data_dir={data_dir}",
        f"--data.batch_size={batch}",
    ]
    if workers is not None:
        args.append(f"--data.num_workers={workers}")
    if seed is not None:
        args.append(f"--seed_everything={seed}")
    cli = cli_main(args, run=False)
    cli.trainer.callbacks.append(EpochClock())
    clock = Stopwatch(device)
    cli.trainer.fit(cli.model, cli.datamodule)
    return clock.stop()


def summarize(name: str, clock: Stopwatch, images: int) -> float:
    """Print a run's steady throughput and seconds to 99% test accuracy; return images/s."""
    results = clock.results
    steady = statistics.median(seconds for seconds, _ in results[1:] or results)
    elapsed, to_99 = 0.0, float("nan")
    for seconds, accuracy in results:
        elapsed += seconds
        if accuracy >= 0.99:
            to_99 = elapsed
            break
    rate = images / steady
    print(
        f"{name:<50} {steady:6.2f} s/epoch {rate:9,.0f} images/s  "
        f"test acc {results[-1][1]:.4f}  to 99%: {to_99:6.2f} s",
        flush=True,
    )
    return rate


def cpu_ratio(package: Any, data_dir: Path, workdir: Path, epochs: int, pairs: int) -> None:
    """Whole-fit wall time against both loops', in interleaved rounds to share the noise.

    The generated project's fit runs with its own defaults (data path, workers, validation
    each epoch). The anchors: the simplest loop that works (a plain CNN on tensors
    normalised in memory), and a loop over the project's own network, data and optimizer.
    """
    runs: dict[str, list[Stopwatch]] = {"simple": [], "same": [], "fit": []}
    for seed in range(1, pairs + 1):  # one seed per round, the same for all three
        runs["simple"].append(simple_loop(data_dir, "cpu", 64, epochs, seed=seed))
        runs["same"].append(plain_loop(package, data_dir, "cpu", 64, epochs, seed=seed))
        runs["fit"].append(
            lightning_fit(package, data_dir, workdir, "cpu", 64, epochs, None, seed=seed)
        )
    names = {
        "simple": "simplest loop (plain CNN, tensors in memory)",
        "same": "loop over the project's network and data",
        "fit": "generated project's fit, its defaults",
    }
    for key, clocks in runs.items():
        totals = ", ".join(f"{c.total:.2f}" for c in clocks)
        accuracies = [c.results[-1][1] for c in clocks]
        listed = ", ".join(f"{a:.4f}" for a in accuracies)
        print(
            f"{names[key]:<48} s: {totals}   test acc: {listed} "
            f"(mean {statistics.mean(accuracies):.4f})"
        )
    for anchor in ("simple", "same"):
        ratios = sorted(
            fit.total / loop.total for fit, loop in zip(runs["fit"], runs[anchor], strict=True)
        )
        best = min(c.total for c in runs["fit"]) / min(c.total for c in runs[anchor])
        print(
            f"fit / {names[anchor]}: {best:.3f}x on the fastest of each, "
            f"median round {statistics.median(ratios):.3f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=3, help="CPU: rounds, one seed each")
    parser.add_argument("--startup-runs", type=int, default=3, help="runs of the import timing")
    parser.add_argument("--batch-sizes", default="256,512,1024", help="CUDA batch sizes")
    parser.add_argument(
        "--compile", metavar="MODE", help="CUDA: add runs compiled in this torch.compile mode"
    )
    args = parser.parse_args()
    cpu = args.device == "cpu"
    train_count = args.train_images or (8_000 if cpu else 60_000)
    epochs = args.epochs or (5 if cpu else 6)
    start = startup_seconds(args.startup_runs)
    print(
        f"process start {start['python']:.2f} s, torch + Lightning imports {start['imports']:.2f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data_dir, package = make_project(workdir, train_count)
        images = train_count - round(train_count * 0.1)
        print(f"{args.device}: {images} training images per epoch, {epochs} epochs", flush=True)
        if cpu:
            cpu_ratio(package, data_dir, workdir, epochs, args.pairs)
            return
        batches = [int(b) for b in args.batch_sizes.split(",")]
        for batch in batches:
            loop = plain_loop(package, data_dir, "cuda", batch, epochs)
            ours = lightning_fit(package, data_dir, workdir, "cuda", batch, epochs, 0)
            simple = simple_loop(data_dir, "cuda", batch, epochs)
            rate = summarize(f"hand-written loop, batch {batch}", loop, images)
            ratio = summarize(f"generated project, batch {batch}", ours, images) / rate
            print(f"  generated / hand-written: {ratio:.2f}x (target >= 0.95)", flush=True)
            summarize(f"simplest loop (Adam, no validation), batch {batch}", simple, train_count)
        for batch in batches if args.compile else ():
            mode = args.compile
            summarize(
                f"hand-written loop, compiled {mode}, batch {batch}",
                plain_loop(package, data_dir, "cuda", batch, epochs, compile=mode),
                images,
            )
            summarize(
                f"generated project, compile={mode}, batch {batch}",
                lightning_fit(package, data_dir, workdir, "cuda", batch, epochs, 0, compile=mode),
                images,
            )


if __name__ == "__main__":
    main()
