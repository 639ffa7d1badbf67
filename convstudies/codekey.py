"""Which source files a run depends on, and their hash: runs are keyed on code as well as config.

A run uses the engine (``convstudies.engine.train`` and what it imports), its model's module,
its dataset's module and its evaluations' modules, each with everything of the project that
module imports (read with :mod:`ast`, so nothing is imported here and torch is not needed).
The sha256 of those files goes into the run key: editing a model, a data generator, the
engine or an evaluation gives the affected runs new keys, so they are trained again; editing
a figure, a verdict or the report changes no run key.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Callable

ENGINE = "convstudies.engine.train"


@lru_cache(maxsize=None)
def module_file(name: str) -> Path | None:
    """The source file of a project module (None for other packages and for names that are not modules)."""
    if not name.startswith("convstudies"):
        return None
    parts = name.split(".")
    try:
        # find_spec imports a name's parent; a parent that is a module (``base`` of
        # ``datasets.base.TensorDataset``) would run its imports (torch), so stop at one
        for k in range(1, len(parts)):
            parent = importlib.util.find_spec(".".join(parts[:k]))
            if parent is None or not parent.submodule_search_locations:
                return None
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def import_names(path: Path, name: str, top_level_only: bool = False) -> set[str]:
    """What module ``name`` (source ``path``) imports, as absolute names, relative imports resolved;
    ``from m import x`` gives ``m`` and ``m.x`` (x may be a submodule). Anywhere in the body, or
    only at its top level."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    found = set()
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


@lru_cache(maxsize=None)
def module_imports(name: str) -> frozenset[str]:
    """Project modules a module imports anywhere in its body."""
    path = module_file(name)
    if path is None:
        return frozenset()
    return frozenset(m for m in import_names(path, name)
                     if m.startswith("convstudies") and module_file(m) is not None)


def closure(names) -> set[str]:
    """The modules and every project module they import, transitively (with their parent packages)."""
    seen, todo = set(), list(names)
    while todo:
        m = todo.pop()
        if m in seen or module_file(m) is None:
            continue
        seen.add(m)
        parents = [".".join(m.split(".")[:k]) for k in range(1, m.count(".") + 1)]
        todo += [*module_imports(m), *parents]
    return seen


def run_modules(cfg: dict) -> set[str]:
    """Every project module a run with config ``cfg`` executes."""
    from .datasets import DATASETS
    from .evaluations import EVALUATIONS
    from .models import MODELS

    roots = {ENGINE, MODELS.entry(cfg["model"]["name"]).module, DATASETS.entry(cfg["data"]["dataset"]).module}
    roots |= {EVALUATIONS.entry(ev["name"]).module for ev in cfg["evaluations"]}
    return closure(roots)


def code_files(cfg: dict) -> list[Path]:
    return sorted(module_file(m) for m in run_modules(cfg))


def code_hash(cfg: dict, read: Callable[[Path], bytes] | None = None) -> str:
    """sha256 (16 hex digits) over the names and bytes of every source file a run executes."""
    read = read or (lambda path: path.read_bytes())
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for f in code_files(cfg):
        name = str(f.relative_to(root)) if f.is_relative_to(root) else f.name
        h.update(name.encode() + b"\0" + read(f) + b"\0")
    return h.hexdigest()[:16]
