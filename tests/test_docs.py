"""The user reference in docs/ stays true: every flag it documents exists in that command's
``--help`` and every flag in ``--help`` is documented; its links resolve; the README
points into it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FLAG = re.compile(r"(?<![\w-])(--?[a-z][a-z0-9-]*)")


def _sections(text: str) -> dict[str, str]:
    """``## curaug NAME`` sections of docs/cli.md, plus the global and common ones."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def _table_flags(body: str) -> set[str]:
    """Flags named in the first cell of a section's table rows."""
    flags = set()
    for line in body.splitlines():
        if line.startswith("| `"):
            flags |= set(FLAG.findall(line.split(" | ")[0]))
    return flags


def _usage_flags(body: str) -> set[str]:
    block = re.search(r"```\n(.*?)```", body, flags=re.S)
    return set(FLAG.findall(block.group(1))) if block else set()


def _help_flags(cli, *command: str) -> set[str]:
    """The flags of the Options section of ``curaug [COMMAND] --help``."""
    r = cli(*command, "--help")
    assert r.code == 0, r.err
    options = r.out.split("Options:", 1)[1].split("Commands:", 1)[0]
    return {flag for line in options.splitlines() if re.match(r"^  -", line)
            for flag in FLAG.findall(line.split("  ", 2)[1])}


@pytest.fixture(scope="module")
def cli_doc() -> dict[str, str]:
    return _sections((DOCS / "cli.md").read_text(encoding="utf-8"))


def _built_commands() -> list[str]:
    from pipelines.cli import cli

    return [name for name, cmd in cli.commands.items() if "not available yet" not in (cmd.help or "")]


@pytest.mark.parametrize("command", _built_commands())
def test_every_flag_of_a_command_is_documented_and_every_documented_flag_exists(cli, cli_doc, command):
    section = cli_doc[f"curaug {command}"]
    documented = _table_flags(section) | _table_flags(cli_doc["Every command"])
    assert _usage_flags(section) <= documented | {"-h"}, "the usage line names a flag the table does not"
    assert documented == _help_flags(cli, command)


def test_global_flags_are_documented(cli, cli_doc):
    assert _table_flags(cli_doc["Global options"]) == _help_flags(cli)


def test_every_built_command_has_a_section_and_planned_ones_say_so(cli_doc):
    from pipelines.cli import cli

    built = set(_built_commands())
    documented = {title.split()[1] for title in cli_doc if title.startswith("curaug ")}
    assert built <= documented
    for name in set(cli.commands) - built:
        assert cli.commands[name].hidden
        assert "Planned" in cli_doc[f"curaug {name}"]


def test_links_between_docs_resolve_and_the_readme_points_into_docs():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), (page.name, target)
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme and "DESIGN.md" not in readme
    for page in ("cli.md", "manifest.md", "rules.md", "recipes.md", "json.md", "exit-codes.md", "python-api.md"):
        assert f"docs/{page}" in readme, page
        assert (DOCS / page).is_file()
