"""Model registry: every architecture a study can name, created by name.

    >>> from convstudies.models import create_model, list_models
    >>> net = create_model("cnn", in_shape=(1, 28, 28), num_classes=10)

Models are plain ``nn.Module``s; the LightningModule that trains them lives in
``convstudies.engine``.
"""
from ._registry import create_model, list_models, model_entrypoint, register_model, tiny_kwargs
from . import cnn as _cnn  # noqa: F401  (registers)
from . import cnn_sweep as _cnn_sweep  # noqa: F401
from . import lenet as _lenet  # noqa: F401
from . import local as _local  # noqa: F401
from . import mlp as _mlp  # noqa: F401
from . import resnet as _resnet  # noqa: F401
from . import timm_resnet as _timm_resnet  # noqa: F401
from . import textcnn as _textcnn  # noqa: F401

__all__ = ["create_model", "list_models", "model_entrypoint", "register_model", "tiny_kwargs"]
