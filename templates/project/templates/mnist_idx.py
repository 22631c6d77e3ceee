def write_idx(raw_dir: Path, split: str, images: Any, labels: Any) -> None:
    """Write one MNIST split in its IDX files, as ``torchvision.datasets.MNIST`` reads them.

    ``images`` hold N 28x28 pixels and ``labels`` N classes, uint8 in any buffer (a NumPy
    array, ``bytes``); ``split`` is ``train`` or ``test``.
    """
    pixels, classes = bytes(memoryview(images)), bytes(memoryview(labels))
    count = len(classes)
    if len(pixels) != count * 28 * 28:
        raise ValueError(f"{len(pixels)} bytes of pixels for {count} labels: give 28x28 uint8")
    prefix = "train" if split == "train" else "t10k"
    raw_dir.mkdir(parents=True, exist_ok=True)
    images_header = struct.pack(">IIII", 0x0803, count, 28, 28)
    labels_header = struct.pack(">II", 0x0801, count)
    (raw_dir / f"{prefix}-images-idx3-ubyte").write_bytes(images_header + pixels)
    (raw_dir / f"{prefix}-labels-idx1-ubyte").write_bytes(labels_header + classes)
