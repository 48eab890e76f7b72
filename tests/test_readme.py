"""The README says only what is true: every command and option it shows exists (checked against
`uschina-digest <command> --help`), its config example is a valid config, its links resolve, and it
stays under 10 KB. The command lines shown in docs/ are checked the same way."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from flows.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

OPTION = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")
CHOICES = re.compile(r"(?<![\w-])(--[a-z][a-z-]*) ([a-z]+(?:\|[a-zA-Z]+)+)")


def section(text: str, heading: str) -> str:
    """The body of the `## heading` section."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {heading}' section"
    return match.group(1)


def table_commands(text: str) -> list[str]:
    """The code spans in the first column of the Commands table, `\\|` unescaped."""
    spans = []
    for line in section(text, "Commands").splitlines():
        if not line.startswith("| `"):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]
        spans += [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", first)]
    return spans


def code_block_commands(text: str) -> list[str]:
    """`uschina-digest …` lines of the sh code blocks, comments dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^(\w+=\S+\s+)+", "", line.split("#", 1)[0].strip())  # VAR=value prefixes
            if line.startswith("uschina-digest "):
                lines.append(line.removeprefix("uschina-digest "))
        # a piped command: `echo … | uschina-digest classify`
        lines += [m for m in re.findall(r"\| uschina-digest ([^\n#]+)", block)]
    return lines


def resolve(usage: str) -> tuple[list[str], click.Command]:
    """The command path a usage line starts with (`feeds import-opml`) and its click command."""
    command: click.Command = main
    path: list[str] = []
    for word in usage.split():
        if isinstance(command, click.Group) and word in command.commands:
            command = command.commands[word]
            path.append(word)
        else:
            break
    assert path, f"{usage!r} names no uschina-digest command"
    return path, command


def check_usage(usage: str) -> None:
    path, command = resolve(usage)
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    help_text = result.output
    for option in OPTION.findall(usage):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), (
            f"`uschina-digest {' '.join(path)}` has no option {option} (README shows: {usage})"
        )
    for option, values in CHOICES.findall(usage):
        param = next(p for p in command.params if option in p.opts + p.secondary_opts)
        shown = [v for v in values.split("|") if v.islower()]
        if isinstance(param.type, click.Choice):
            assert set(shown) <= set(param.type.choices), (usage, param.type.choices)
        else:
            assert values in help_text, f"{option} does not take {values}: {usage}"


def test_readme_is_under_10_kb():
    assert len(README.read_bytes()) < 10_000


def test_every_command_and_option_in_the_readme_table_exists():
    usages = table_commands(README.read_text())
    assert len(usages) >= 10
    for usage in usages:
        check_usage(usage)
    # and the table leaves no command out
    assert {resolve(u)[0][0] for u in usages} == set(main.commands)


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_command_lines_in_code_blocks_exist(page: Path):
    for usage in code_block_commands(page.read_text()):
        check_usage(usage)


def test_the_readme_config_example_is_a_valid_config(tmp_path):
    from tests.conftest import load_settings_with

    text = section(README.read_text(), "Configuration")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "pipeline.yaml" in b]
    config = yaml.safe_load(block)
    config["seeds_dir"] = None  # the example's paths are relative to config/
    config["issues_file"] = str(ROOT / "config" / "issues.yaml")
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    settings = load_settings_with(path, {})
    assert settings.feeds and settings.email.recipients[1].issues == ["taiwan", "military"]


def test_links_and_the_screenshot_resolve():
    text = README.read_text()
    targets = re.findall(r"\]\(([^)#]+)\)", text)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert "docs/img/digest.png" in local
    for target in local:
        assert (ROOT / target).is_file(), f"README links to a missing {target}"
    linked = {t for t in local if t.startswith("docs/") and t.endswith(".md")}
    assert linked == {f"docs/{p.name}" for p in DOCS}, "every docs/ page is linked from the README"
