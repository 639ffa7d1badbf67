"""The README's Quick start is what CI runs."""
import re

from conftest import REPO


def quick_start_commands():
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    reproduce, test = quick_start_commands()
    assert "snakemake" in reproduce and "pip install" in reproduce
    assert "pytest" in test and "pip install" in test
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_every_config_key_is_documented():
    import yaml

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    doc = (REPO / "config" / "README.md").read_text()
    for key, spec in schema["properties"].items():
        assert f"`{key}`" in doc
        assert spec.get("description") and "default" in spec
