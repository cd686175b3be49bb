"""The README's "Where the code lives" table names every package of the tree, and nothing
that is gone; a moved or added folder fails here until the README says where it went."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("curate", "augment", "pipelines", "curaug")


def packages() -> set[str]:
    return {str(init.parent.relative_to(ROOT)) + "/" for top in TOP for init in (ROOT / top).rglob("__init__.py")
            if "__pycache__" not in init.parts}


def listed() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Where the code lives", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_/]+/)` \|", section, flags=re.M))


def test_every_package_is_listed_in_where_the_code_lives():
    assert packages(), "no package found: the test looks in the wrong place"
    assert sorted(packages() - listed()) == []


def test_the_table_lists_no_folder_that_is_gone():
    assert sorted(listed() - packages()) == []
