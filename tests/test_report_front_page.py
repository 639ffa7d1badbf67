"""The front page of the HTML report (``snakemake --report``) shows REPORT.md's verdict table.

``workflow/report/workflow.rst`` is rendered by Snakemake with Jinja and docutils and cannot
read files itself; the report step writes the table as reStructuredText beside REPORT.md
(``convstudies.report.front_page_path``) and the front page includes it, each study linked to
its category of the HTML report.
"""
import html as html_lib
import re

import pytest
from docutils.core import publish_parts

from convstudies.report import front_page_path, verdict_table_rst


def claim(study, verdict, computed, exploratory=True):
    return {"study": study, "verdict": verdict, "counts": {"evidence": 3, "invariants": 1},
            "exploratory": exploratory, "_computed": computed}


def rows_of(html: str) -> list[list[str]]:
    """The cells of the verdict table, tags removed, row by row (header first)."""
    table = re.search(r'<table[^>]*class="verdicts[^>]*>(.*?)</table>', html, re.S)
    assert table, "no verdict table"
    return [[html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)]


def test_front_page_path_is_beside_the_markdown_report(tmp_path):
    assert front_page_path(tmp_path / "REPORT.md") == tmp_path / "REPORT.verdicts.rst"


def test_the_verdict_table_links_the_studies_this_run_computed_to_their_categories():
    rst = verdict_table_rst([claim("translation", "holds", "this run", exploratory=False),
                             claim("lenet5", "does not hold", "an earlier run; stale: the study changed since")])
    # Snakemake appends one link target per category of the report (only this run's studies have one)
    doc = rst + "\n.. _translation: javascript:app.showCategory('translation')\n"
    html = publish_parts(doc, writer="html", settings_overrides={"halt_level": 2})["html_body"]
    assert "System Message" not in html
    assert rows_of(html) == [["study", "verdict", "evidence", "invariants", "status", "computed"],
                             ["translation", "holds", "3", "1", "confirmatory", "this run"],
                             ["lenet5", "does not hold", "3", "1", "exploratory",
                              "an earlier run; stale: the study changed since"]]
    assert "href=\"javascript:app.showCategory('translation')\">translation</a>" in html
    assert "lenet5</a>" not in html


@pytest.mark.slow
def test_the_html_report_of_a_tiny_run_shows_the_verdict_table(tmp_path_factory):
    from helpers.tiny_study import STUDY, tiny_study

    run = tiny_study(tmp_path_factory)
    run.restore()
    out = run.snakemake("--report", "results/report.html", timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    page = (run.workdir / "results" / "report.html").read_text(errors="replace")
    # the front page is a string inside the report's JavaScript: undo its escapes
    front = page.replace('\\"', '"').replace("\\'", "'").replace("\\n", "\n")
    header, *rows = rows_of(front)
    assert header == ["study", "verdict", "evidence", "invariants", "status", "computed"]
    md = (run.workdir / "results" / "REPORT.md").read_text()
    md_table = md.split("| study | verdict |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]  # past header, rule
    md_rows = [[re.sub(r"\[(\w+)\]\(#\w+\)", r"\1", c.strip()) for c in line.strip("|").split("|")]
               for line in md_table]
    assert rows == md_rows and [r[0] for r in rows] == [STUDY]  # the same table as REPORT.md's
    assert f"href=\"javascript:app.showCategory('{STUDY}')\">{STUDY}</a>" in front
    assert "System Message" not in front
