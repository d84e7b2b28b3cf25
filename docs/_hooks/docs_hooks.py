"""MkDocs hooks for the seqfusion docs (``hooks:`` in mkdocs.yml).

* ``<!-- include: PATH -->`` in a page is replaced by the committed Markdown file PATH
  (relative to the repository root), its headings moved one level down so that they sit
  under the page's title. The benchmark pages use this for ``benchmarks/results/*.md`` and
  ``benchmarks/gift/results/*.md``: the numbers on the site are those files, never retyped.
  A results file that no page includes is a warning (an error under ``--strict``).
* ``<!-- cli-help: forecast -->`` (or ``zoo``, ``zoo build``, ...) is replaced by that
  command's ``--help`` text, from the installed ``seqfusion.cli`` parser; every option of
  ``seqfusion forecast`` must also appear in the page's prose, or the build warns.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import re
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.seqfusion")

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ("benchmarks/results/*.md", "benchmarks/gift/results/*.md")
INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->[ \t]*$", flags=re.MULTILINE)
CLI_HELP = re.compile(r"^<!-- cli-help: (?P<command>[a-z ]+?) -->[ \t]*$", flags=re.MULTILINE)
FENCE = re.compile(r"^(`{3,}|~{3,})")

_included: set[str] = set()


def on_pre_build(config: Any, **kwargs: Any) -> None:
    _included.clear()


def on_config(config: Any, **kwargs: Any) -> Any:
    # `mkdocs serve` rebuilds when a results file changes
    for pattern in RESULTS:
        folder = str(ROOT / Path(pattern).parent)
        if folder not in config.watch:
            config.watch.append(folder)
    return config


def _shift_headings(text: str, levels: int = 1) -> str:
    out, fence = [], None
    for line in text.splitlines():
        m = FENCE.match(line)
        if m:
            fence = None if fence and line.startswith(fence) else (fence or m.group(1))
        elif fence is None and re.match(r"#{1,5} ", line):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out) + "\n"


def _include(match: re.Match[str]) -> str:
    rel = match["path"]
    path = (ROOT / rel).resolve()
    if ROOT not in path.parents or not path.is_file():
        log.warning("include: %s is not a file of the repository", rel)
        return match.group(0)
    _included.add(path.relative_to(ROOT).as_posix())
    source = f"\n*Included at build time from `{rel}`.*\n\n"
    return source + _shift_headings(path.read_text(encoding="utf-8"))


def _parser(command: str) -> argparse.ArgumentParser:
    from seqfusion.cli import build_parser

    parser = build_parser()
    for word in command.split():
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = actions[0].choices[word]
    return parser


def _cli_help(match: re.Match[str]) -> str:
    command = match["command"].strip()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parser = _parser(command)
        buf = io.StringIO()
        with redirect_stdout(buf):
            parser.print_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    text = buf.getvalue().replace("usage: -", "usage: seqfusion").rstrip()
    return f"```text\n{text}\n```"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    markdown = INCLUDE.sub(_include, markdown)
    if CLI_HELP.search(markdown):
        markdown = CLI_HELP.sub(_cli_help, markdown)
        prose = CLI_HELP.sub("", page.file.content_string)
        for action in _parser("forecast")._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and f"`{option}" not in prose:
                    log.warning("%s: `seqfusion forecast %s` is not described", page.file.src_uri, option)
    return markdown


def on_post_build(config: Any, **kwargs: Any) -> None:
    for pattern in RESULTS:
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in _included:
                log.warning("benchmark results file %s is on no docs page (<!-- include: %s -->)", rel, rel)
