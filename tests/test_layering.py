"""What may import what: the layers written down in docs/architecture.md, checked on every import.

The package spans three directories (``convstudies/``, ``models/`` imported as
``convstudies.models``, ``studies/`` as ``convstudies.studies``), which import-graph tools
that walk one directory do not see, so the modules are read here with ``ast``. Every import
counts, also one inside a function (a lazy import is still a dependency).
"""
import re
from pathlib import Path

import pytest

from convstudies.codekey import import_names

from conftest import REPO

ROOTS = {"convstudies": REPO / "convstudies", "convstudies.models": REPO / "models",
         "convstudies.studies": REPO / "studies"}

# top to bottom; a module may import its own package and anything in a lower layer
LAYERS = [
    ["convstudies.__main__"],
    ["convstudies.cli"],
    ["convstudies.engine", "convstudies.report"],
    ["convstudies.steps"],
    ["convstudies.plan", "convstudies.registration", "convstudies.anchors"],
    ["convstudies.contract", "convstudies.codekey"],
    ["convstudies.studies", "convstudies.figures_generic"],
    ["convstudies.evaluations"],
    ["convstudies.models", "convstudies.datasets"],
    ["convstudies.config", "convstudies.tables", "convstudies.stats", "convstudies.verdicts", "convstudies.plots",
     "convstudies.shifts"],
    ["convstudies.intervals"],
    ["convstudies.registry"],
]
TORCH = ("torch", "torchvision", "pytorch_lightning", "lightning", "lightning_fabric", "timm", "torchmetrics")
PLOTTING = ("matplotlib", "seaborn")


def modules() -> dict[str, Path]:
    out = {}
    for pkg, root in ROOTS.items():
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts])
            if pkg == "convstudies" and parts and parts[0] in ("models", "studies"):
                continue
            out[name] = path
    return out


MODULES = modules()


def imports(name: str, top_level_only: bool = False) -> set[str]:
    """Absolute names of what a module imports (relative imports resolved; ``m.x`` for ``from m import x``)."""
    return import_names(MODULES[name], name, top_level_only)


def layer_of(name: str) -> int | None:
    for i, group in enumerate(LAYERS):
        if any(name == m or name.startswith(m + ".") for m in group):
            return i
    return None


def group_of(name: str) -> str | None:
    for group in LAYERS:
        for m in group:
            if name == m or name.startswith(m + "."):
                return m
    return None


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "convstudies" and layer_of(m) is None] == []


def test_no_module_imports_a_higher_layer_or_a_sibling_of_its_layer():
    bad = []
    for name in MODULES:
        if name == "convstudies":
            continue
        for imp in imports(name):
            if not imp.startswith("convstudies.") or group_of(imp) == group_of(name):
                continue
            if layer_of(imp) is None or layer_of(imp) <= layer_of(name):
                bad.append(f"{name} imports {imp}")
    assert bad == []


def test_no_import_cycles():
    graph = {m: {i for i in imports(m) if i in MODULES and i != m} for m in MODULES}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert cycles == []


def loaded_with(name: str) -> set[str]:
    """Every module imported at module level when ``name`` is imported (the package's own, followed)."""
    seen, todo, external = set(), [name], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        parents = [".".join(m.split(".")[:k]) for k in range(1, m.count(".") + 1)]
        for i in imports(m, top_level_only=True) | {p for p in parents if p in MODULES}:
            if i in MODULES:
                todo.append(i)
            elif not i.startswith("convstudies"):
                external.add(i.split(".")[0])
    return external


LIGHT = ["convstudies.registry", "convstudies.config", "convstudies.plan", "convstudies.contract",
         "convstudies.codekey", "convstudies.registration", "convstudies.anchors", "convstudies.intervals", "convstudies.tables",
         "convstudies.steps", "convstudies.report", "convstudies.cli", "convstudies.models", "convstudies.datasets",
         "convstudies.evaluations", "convstudies.datasets.sources"]


@pytest.mark.parametrize("name", LIGHT + [m for m in MODULES if re.match(r"convstudies\.studies\.\w+\.(analysis|figures)$", m)])
def test_planning_and_analysis_modules_import_no_torch(name):
    assert loaded_with(name) & set(TORCH) == set()
    if name.endswith(".analysis") or name in ("convstudies.steps", "convstudies.report", "convstudies.plan"):
        assert loaded_with(name) & set(PLOTTING) == set(), "tables and verdicts do not need matplotlib"


def test_the_layers_are_written_down_in_the_architecture_doc():
    doc = (REPO / "docs" / "architecture.md").read_text()
    table = re.search(r"## Layers.*?\n((?:\|[^\n]*\n)+)", doc, re.S).group(1).splitlines()[2:]
    documented = [sorted(re.findall(r"`(convstudies[\w.]*)`", row.split("|")[2])) for row in table]
    assert documented == [sorted(g) for g in LAYERS]
