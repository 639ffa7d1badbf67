"""Registries list names and signatures from the sources; importing the modules registers the same."""
import inspect
import subprocess
import sys

import pytest

from convstudies.datasets import DATASETS
from convstudies.evaluations import EVALUATIONS
from convstudies.models import MODELS
from convstudies.registry import NO_DEFAULT, Registry, UnknownName, scan


@pytest.mark.parametrize("registry", [MODELS, DATASETS, EVALUATIONS], ids=lambda r: r.kind)
def test_catalog_read_from_the_sources_equals_the_imported_registry(registry):
    loaded = registry.load_all()
    assert sorted(loaded) == registry.names()
    for name, fn in loaded.items():
        entry = registry.entry(name)
        assert entry.params == tuple(inspect.signature(fn).parameters), name
        assert fn.__module__ == entry.module


def test_listing_imports_no_torch():
    code = ("import sys; from convstudies.models import list_models, model_arguments; "
            "from convstudies.datasets import list_datasets; from convstudies.evaluations import list_evaluations; "
            "assert 'lenet5' in list_models() and 'mnist5k' in list_datasets() and 'accuracy' in list_evaluations(); "
            "model_arguments('cnn'); assert 'torch' not in sys.modules, 'torch was imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_scan_reads_names_arguments_literal_defaults_and_decorator_keywords(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("import x\n@register_thing(tiny={'width': 2})\ndef a(in_shape, depth: int = 2, *, act=x.relu):\n"
                   "    '''Doc.'''\n\n@other\ndef b(): pass\n\n@x.register_thing\ndef c(k=(1, 2)): pass\n")
    a, c = scan(src, "pkg.mod", "register_thing")
    assert (a.name, a.module, a.params, a.meta, a.doc) == ("a", "pkg.mod", ("in_shape", "depth", "act"),
                                                          {"tiny": {"width": 2}}, "Doc.")
    assert a.defaults["depth"] == 2 and a.defaults["act"] is NO_DEFAULT and "in_shape" not in a.defaults
    assert c.defaults == {"k": (1, 2)}


def test_unknown_name_suggests_close_matches_and_a_name_registered_twice_is_refused(tmp_path):
    (tmp_path / "one.py").write_text("@reg\ndef resnet(): pass\n")
    (tmp_path / "two.py").write_text("@reg\ndef vgg(): pass\n")
    reg = Registry("model", "reg", lambda: [("one", tmp_path / "one.py"), ("two", tmp_path / "two.py")])
    with pytest.raises(UnknownName, match=r"unknown model 'resnt'; did you mean 'resnet'\? registered: resnet, vgg"):
        reg.entry("resnt")
    (tmp_path / "two.py").write_text("@reg\ndef resnet(): pass\n")
    with pytest.raises(ValueError, match="'resnet' is registered twice: in one and two"):
        Registry("model", "reg", lambda: [("one", tmp_path / "one.py"), ("two", tmp_path / "two.py")]).names()
