"""MNIST IDX files in the real format (optionally gzipped), for tests of the readers."""
import gzip
import struct

import numpy as np

from convstudies.datasets.vision import IDX_FILES


def write_idx(directory, split, images, labels, gz=False):
    names = IDX_FILES[split]
    directory.mkdir(parents=True, exist_ok=True)
    img = struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    lab = struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, payload in zip(names, (img, lab)):
        if gz:
            with gzip.open(directory / f"{name}.gz", "wb") as f:
                f.write(payload)
        else:
            (directory / name).write_bytes(payload)
