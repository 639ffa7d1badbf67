"""Registries by name that can be listed without importing what they register.

Models, datasets and evaluations register themselves with a decorator when their module
is imported, in the manner of timm's ``register_model``. Planning the workflow and the
analysis steps must not pay for torch, so each registry also has a *catalog*: the
decorated functions read from the source files with :mod:`ast` (name, module, argument
names and literal defaults, the decorator's literal keyword arguments). Names and
signatures come from the catalog; asking for the function itself imports the module the
catalog names. A test checks that catalog and imported registry agree.

Imports nothing of the project and nothing heavy.
"""
from __future__ import annotations

import ast
import difflib
import fnmatch
import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

NO_DEFAULT = object()  # an argument without a default, or with one that is not a literal


class UnknownName(ValueError):
    """A name that no registry entry has; the message lists close matches and the registered names."""


@dataclass(frozen=True)
class Entry:
    """A registered function as read from its source: enough to check a config without importing it."""

    name: str
    module: str
    params: tuple[str, ...]
    defaults: dict = field(default_factory=dict)   # argument -> literal default (where it is a literal)
    meta: dict = field(default_factory=dict)       # the decorator's literal keyword arguments
    doc: str = ""


def package_dir(package: str) -> Path:
    """The directory of a package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {package!r} not found")
    return Path(next(iter(spec.submodule_search_locations)))


def _decorator_name(node: ast.expr) -> tuple[str | None, list[ast.keyword]]:
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call else node
    name = target.id if isinstance(target, ast.Name) else (target.attr if isinstance(target, ast.Attribute) else None)
    return name, (call.keywords if call else [])


def _literal(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return NO_DEFAULT


def scan(path: Path, module: str, decorator: str) -> list[Entry]:
    """Entries of every top-level function in ``path`` decorated with ``decorator``."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            name, keywords = _decorator_name(dec)
            if name != decorator:
                continue
            args = node.args
            positional = args.posonlyargs + args.args
            params = tuple(a.arg for a in positional + args.kwonlyargs)
            defaults = {a.arg: _literal(d) for a, d in zip(positional[len(positional) - len(args.defaults):],
                                                           args.defaults)}
            defaults.update({a.arg: _literal(d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
            meta = {k.arg: _literal(k.value) for k in keywords if k.arg}
            out.append(Entry(node.name, module, params, defaults, meta, ast.get_docstring(node) or ""))
    return out


class Registry:
    """name -> function; ``sources()`` yields (module name, file) pairs the catalog scans."""

    def __init__(self, kind: str, decorator: str, sources: Callable[[], Iterable[tuple[str, Path]]]):
        self.kind, self.decorator, self._sources = kind, decorator, sources
        self._functions: dict[str, Callable] = {}
        self._meta: dict[str, dict] = {}
        self._catalog: dict[str, Entry] | None = None

    def register(self, fn: Callable | None = None, **meta):
        """Decorator: register ``fn`` under its own name (``@register`` or ``@register(key=value)``)."""

        def wrap(f: Callable) -> Callable:
            if f.__name__ in self._functions and self._functions[f.__name__] is not f:
                raise ValueError(f"{self.kind} {f.__name__!r} is registered twice")
            self._functions[f.__name__] = f
            self._meta[f.__name__] = dict(meta)
            return f

        return wrap(fn) if fn is not None else wrap

    def catalog(self) -> dict[str, Entry]:
        """Every registered name as read from the sources, without importing them."""
        if self._catalog is None:
            found: dict[str, Entry] = {}
            for module, path in self._sources():
                for e in scan(path, module, self.decorator):
                    if e.name in found:
                        raise ValueError(f"{self.kind} {e.name!r} is registered twice: in {found[e.name].module} "
                                         f"and {module}")
                    found[e.name] = e
            self._catalog = found
        return self._catalog

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.catalog() if fnmatch.fnmatch(n, pattern))

    def entry(self, name: str) -> Entry:
        if name not in self.catalog():
            raise UnknownName(self.unknown_message(name))
        return self.catalog()[name]

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names(), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}? " if close else "; "
        return f"unknown {self.kind} {name!r}{hint}registered: {', '.join(self.names())}"

    def get(self, name: str) -> Callable:
        """The registered function, importing the module that defines it on first use."""
        if name not in self._functions:
            importlib.import_module(self.entry(name).module)
            if name not in self._functions:
                raise ImportError(f"{self.entry(name).module} did not register {self.kind} {name!r}")
        return self._functions[name]

    def meta(self, name: str) -> dict:
        self.get(name)
        return dict(self._meta[name])

    def load_all(self) -> dict[str, Callable]:
        """Import every module of the catalog (tests compare the result with the catalog)."""
        for e in self.catalog().values():
            importlib.import_module(e.module)
        return dict(self._functions)


def modules_in(package: str, exclude: Iterable[str] = ()) -> Callable[[], list[tuple[str, Path]]]:
    """A ``sources`` function: every ``*.py`` module of ``package`` (not ``__init__``, not ``exclude``)."""

    def sources() -> list[tuple[str, Path]]:
        skip = {"__init__", *exclude}
        return [(f"{package}.{p.stem}", p) for p in sorted(package_dir(package).glob("*.py")) if p.stem not in skip]

    return sources
