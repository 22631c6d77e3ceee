"""Training speed of a generated project against a hand-written PyTorch loop, in one run.

Both train the generated project's own network on the same MNIST-format data (scikit-learn's
real handwritten digits, shifted and noised into a larger training set, with held-out
digits as the test set), with the same batch size, epochs, optimizer, schedule and a
validation pass per epoch.

    python benchmarks/training_speed.py --device cpu   # DataLoader path, 2-core target <= 1.05x
    python benchmarks/training_speed.py --device cuda  # resident and DataLoader paths, bf16

Process start and imports are measured apart from the fit and reported on their own.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def startup_seconds() -> dict[str, float]:
    """Median wall time of a bare interpreter and of importing the training stack."""

    def run(code: str) -> float:
        times = []
        for _ in range(3):
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
    from bench.datamodule import MNIST_MEAN, MNIST_STD

    net.eval()
    with torch.no_grad(), autocast():
        x = (images.unsqueeze(1).float() / 255 - MNIST_MEAN) / MNIST_STD
        accuracy = (net(x).argmax(1) == labels).float().mean().item()
    net.train()
    return accuracy


def plain_loop(
    package: Any, data_dir: Path, device: str, batch: int, epochs: int, resident: bool
) -> list[tuple[float, float]]:
    """Train with a hand-written loop; return (epoch seconds, test accuracy) per epoch."""
    import torch
    import torch.nn.functional as F

    datamodule = package.MNISTDataModule(
        data_dir=str(data_dir), batch_size=batch, num_workers=0, device_resident=resident
    )
    datamodule.setup(None)  # no trainer: resident batches start on the CPU, moved below
    train, val = datamodule.train_dataloader(), datamodule.val_dataloader()
    model = package.BenchLitModule()
    net = model.net.to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    test = datamodule.test_set
    test_images, test_labels = test.data.to(device), test.targets.to(device)
    bf16 = device == "cuda"
    autocast = lambda: torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    if resident:
        train.images, train.labels = train.images.to(device), train.labels.to(device)
        val.images, val.labels = val.images.to(device), val.labels.to(device)
    results = []
    for _ in range(epochs):
        started = time.perf_counter()
        for images, labels in train:
            images, labels = (
                images.to(device, non_blocking=True),
                labels.to(device, non_blocking=True),
            )
            with autocast():
                loss = F.cross_entropy(net(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        net.eval()
        correct = total = 0
        with torch.no_grad(), autocast():
            for images, labels in val:
                images, labels = images.to(device), labels.to(device)
                correct += (net(images).argmax(1) == labels).sum().item()
                total += len(labels)
        net.train()
        scheduler.step()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        results.append((seconds, test_accuracy(net, test_images, test_labels, autocast)))
    return results


def lightning_fit(
    package: Any,
    data_dir: Path,
    workdir: Path,
    device: str,
    batch: int,
    epochs: int,
    resident: bool,
    workers: int,
) -> list[tuple[float, float]]:
    """Train through the generated entry point's config; return per-epoch figures."""
    import torch
    from bench.cli import cli_main
    from pytorch_lightning import Callback

    class EpochClock(Callback):
        def __init__(self) -> None:
            self.results: list[tuple[float, float]] = []

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            self.started = time.perf_counter()

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - self.started
            self.results.append((seconds, self.accuracy(pl_module)))

        def accuracy(self, pl_module: Any) -> float:
            def autocast() -> Any:
                return torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")

            return test_accuracy(
                pl_module.net, test.data.to(device), test.targets.to(device), autocast
            )

    from torchvision.datasets import MNIST

    test = MNIST(str(data_dir), train=False)
    run_dir = Path(tempfile.mkdtemp(prefix=f"run-{device}-{batch}-", dir=workdir))
    args = [
        f"--trainer.accelerator={'gpu' if device == 'cuda' else 'cpu'}",
        "--trainer.devices=1",
        f"--trainer.precision={'bf16-mixed' if device == 'cuda' else '32-true'}",
        f"--trainer.max_epochs={epochs}",
        "--trainer.enable_progress_bar=false",
        f"--trainer.default_root_dir={run_dir}",
        f"--trainer.logger.init_args.save_dir={run_dir / 'logs'}",
        f"--checkpoint.dirpath={run_dir / 'checkpoints'}",
        "--early_stopping.patience=1000",
        f"--data.data_dir={data_dir}",
        f"--data.batch_size={batch}",
        f"--data.num_workers={workers}",
        f"--data.device_resident={str(resident).lower()}",
    ]
    cli = cli_main(args, run=False)
    clock = EpochClock()
    cli.trainer.callbacks.append(clock)
    cli.trainer.fit(cli.model, cli.datamodule)
    return clock.results


def summarize(name: str, results: list[tuple[float, float]], images: int) -> dict[str, float]:
    steady = [seconds for seconds, _ in results[1:]] or [results[0][0]]
    elapsed, to_99 = 0.0, float("nan")
    for seconds, accuracy in results:
        elapsed += seconds
        if accuracy >= 0.99:
            to_99 = elapsed
            break
    rate = images / statistics.median(steady)
    print(
        f"{name:<44} {statistics.median(steady):7.2f} s/epoch  {rate:10,.0f} images/s  "
        f"final test acc {results[-1][1]:.4f}  to 99%: {to_99:6.2f} s"
    )
    return {"seconds": sum(seconds for seconds, _ in results), "rate": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-sizes", default="256,512,1024", help="CUDA batch sizes")
    parser.add_argument("--no-dataloader", action="store_true", help="CUDA: skip that path")
    args = parser.parse_args()
    cpu = args.device == "cpu"
    train_count = args.train_images or (8_000 if cpu else 60_000)
    epochs = args.epochs or (3 if cpu else 6)
    start = startup_seconds()
    print(
        f"process start {start['python']:.2f} s, torch + Lightning imports {start['imports']:.2f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        data_dir, package = make_project(workdir, train_count)
        train_images = train_count - round(train_count * 0.1)
        print(f"{args.device}: {train_images} training images per epoch, {epochs} epochs")
        if cpu:
            fits, loops = [], []
            for _ in range(2):  # interleaved, to share the machine's noise
                loops.append(plain_loop(package, data_dir, "cpu", 64, epochs, False))
                fits.append(lightning_fit(package, data_dir, workdir, "cpu", 64, epochs, False, 0))
            loop = min(loops, key=lambda r: sum(s for s, _ in r))
            fit = min(fits, key=lambda r: sum(s for s, _ in r))
            plain = summarize("hand-written loop, DataLoader, batch 64", loop, train_images)
            ours = summarize("generated project (Lightning), batch 64", fit, train_images)
            ratio = ours["seconds"] / plain["seconds"]
            print(f"fit / hand-written loop: {ratio:.3f}x (target <= 1.05x)")
            return
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            summarize(
                f"hand-written loop, resident, bf16, batch {batch}",
                plain_loop(package, data_dir, "cuda", batch, epochs, True),
                train_images,
            )
            summarize(
                f"generated project, resident, bf16, batch {batch}",
                lightning_fit(package, data_dir, workdir, "cuda", batch, epochs, True, 0),
                train_images,
            )
        for workers in () if args.no_dataloader else (0, 4):
            summarize(
                f"generated project, DataLoader x{workers} workers, batch 512",
                lightning_fit(package, data_dir, workdir, "cuda", 512, epochs, False, workers),
                train_images,
            )


if __name__ == "__main__":
    main()
