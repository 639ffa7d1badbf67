"""Put this directory on PYTHONPATH and every Python process started refuses to import torch.

An import of torch (or lightning, torchvision, timm) prints ``NO-TORCH VIOLATION: <module>`` to
stderr and raises ImportError; tests look for the marker, so a library that swallows the
ImportError cannot hide the attempt.
"""
import sys

FORBIDDEN = ("torch", "torchvision", "pytorch_lightning", "lightning", "lightning_fabric", "timm", "torchmetrics")


class _RefuseTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            sys.stderr.write(f"NO-TORCH VIOLATION: {name}\n")
            raise ImportError(f"{name} must not be imported in this process (tests/helpers/no_torch)")
        return None


sys.meta_path.insert(0, _RefuseTorch())
