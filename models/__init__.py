"""Model registry: every architecture a study can name, created by name.

    >>> from convstudies.models import create_model, list_models
    >>> net = create_model("cnn", in_shape=(1, 28, 28), num_classes=10)

Models are plain ``nn.Module``s, one family per module, each registered with
``@register_model``; the LightningModule that trains them lives in ``convstudies.engine``.
Importing this package imports no torch: names and arguments are read from the sources,
and a model's module is imported when the model is created.
"""
from ._factory import build_model
from ._registry import MODELS, create_model, list_models, model_arguments, model_entrypoint, register_model, tiny_kwargs

__all__ = ["MODELS", "build_model", "create_model", "list_models", "model_arguments", "model_entrypoint",
           "register_model", "tiny_kwargs"]
