"""A name -> constructor registry in the manner of timm's ``register_model``."""
from __future__ import annotations

import fnmatch
import inspect
from typing import Callable

_ENTRYPOINTS: dict[str, Callable] = {}
_TINY_KWARGS: dict[str, dict] = {}


def register_model(fn: Callable | None = None, *, tiny: dict | None = None):
    """Register ``fn`` under its name. ``tiny`` are kwargs for a seconds-fast test variant."""

    def wrap(f: Callable) -> Callable:
        if f.__name__ in _ENTRYPOINTS:
            raise ValueError(f"model {f.__name__!r} is registered twice")
        _ENTRYPOINTS[f.__name__] = f
        _TINY_KWARGS[f.__name__] = dict(tiny or {})
        return f

    return wrap(fn) if fn is not None else wrap


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _ENTRYPOINTS if fnmatch.fnmatch(n, pattern))


def model_entrypoint(name: str) -> Callable:
    if name not in _ENTRYPOINTS:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return _ENTRYPOINTS[name]


def tiny_kwargs(name: str) -> dict:
    model_entrypoint(name)
    return dict(_TINY_KWARGS[name])


def create_model(name: str, **kwargs):
    """Build a registered model. Unknown keyword arguments are an error naming the allowed ones."""
    fn = model_entrypoint(name)
    allowed = inspect.signature(fn).parameters
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"model {name!r} got unknown argument(s) {unknown}; allowed: {sorted(allowed)}"
        )
    return fn(**kwargs)
