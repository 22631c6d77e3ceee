"""Check that this machine has the GPUs a config asks for, before Lightning tries to use them."""

from __future__ import annotations

from typing import Any

import torch

from {{ cookiecutter.package_name }}.errors import DevicesUnavailableError

GPU_ACCELERATORS = ("gpu", "cuda", "mps")


def visible_gpus() -> int:
    """Return how many GPUs this process can use (CUDA devices, or Apple's one MPS device)."""
    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1 if torch.backends.mps.is_available() else 0


def requested_gpus(devices: Any) -> list[int] | int | None:
    """Return what ``trainer.devices`` asks for: indices, a count, or None for "all of them"."""
    if isinstance(devices, str):
        text = devices.strip()
        if text in ("auto", "-1"):
            return None
        if "," in text or text.startswith("["):
            return [int(part) for part in text.strip("[]").split(",") if part.strip()]
        devices = int(text)
    if isinstance(devices, (list, tuple)):
        return [int(index) for index in devices]
    return None if devices == -1 else int(devices)


def check_devices(accelerator: Any, devices: Any) -> None:
    """Refuse a GPU config on a machine without those GPUs, naming both and the fix.

    Raises:
        DevicesUnavailableError: no GPU is visible, or fewer than the config asks for.
    """
    if not isinstance(accelerator, str) or accelerator not in GPU_ACCELERATORS:
        return
    visible = visible_gpus()
    wanted = requested_gpus(devices)
    if isinstance(wanted, list):
        enough = all(0 <= index < visible for index in wanted)
    else:
        enough = visible > 0 and (wanted is None or wanted <= visible)
    if enough:
        return
    has = "no GPU" if visible == 0 else f"{visible} GPU{'s' if visible > 1 else ''}"
    asked = repr(devices) if wanted is None else wanted  # 2, not '2' from the command line
    other = f" or `--trainer.devices {visible}` to use what it has," if visible else ""
    raise DevicesUnavailableError(
        f"the config asks for accelerator {accelerator!r} with devices {asked}, but this "
        f"machine has {has}. Train on the CPU with `--trainer.accelerator cpu "
        f"--trainer.devices 1`,{other} or make the CPU the default with "
        "`plscaffold generate config --gpus 0`."
    )
