"""The model registry, in the manner of timm's ``register_model`` / ``create_model``.

Listing names and argument signatures reads the sources (no torch import); creating a model
imports the module that registers it.
"""
from __future__ import annotations

from convstudies.registry import Registry, UnknownName, modules_in

MODELS = Registry("model", "register_model", modules_in("convstudies.models", exclude=("_registry", "_factory")))


def register_model(fn=None, *, tiny: dict | None = None):
    """Register ``fn`` under its name. ``tiny`` are kwargs for a seconds-fast test variant."""
    return MODELS.register(fn, tiny=dict(tiny or {}))


def list_models(pattern: str = "*") -> list[str]:
    return MODELS.names(pattern)


def model_entrypoint(name: str):
    try:
        return MODELS.get(name)
    except UnknownName as e:
        raise ValueError(str(e)) from None


def model_arguments(name: str) -> tuple[str, ...]:
    """The arguments a model takes, read from its source (no torch import)."""
    try:
        return MODELS.entry(name).params
    except UnknownName as e:
        raise ValueError(str(e)) from None


def tiny_kwargs(name: str) -> dict:
    model_entrypoint(name)
    return dict(MODELS.meta(name)["tiny"])


def create_model(name: str, **kwargs):
    """Build a registered model. Unknown keyword arguments are an error naming the allowed ones."""
    allowed = model_arguments(name)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"model {name!r} got unknown argument(s) {unknown}; allowed: {sorted(allowed)}")
    return model_entrypoint(name)(**kwargs)
