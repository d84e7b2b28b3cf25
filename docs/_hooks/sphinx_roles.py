"""Griffe extension for the docs build: Sphinx cross-reference roles in docstrings as links.

seqfusion's docstrings use Sphinx roles (``:func:`forecast```, ``:class:`~seqfusion.zoo.Zoo```,
``:data:`CANDIDATES```). mkdocstrings renders docstrings as Markdown, where a role would show
as literal text. This extension rewrites each role into an *optional* autorefs link: the
target is resolved like Sphinx does (as written, then relative to the object, its parents and
its module, then under ``seqfusion``) and linked when that object is rendered on some page;
otherwise the name is shown as code, without a warning. A ``~`` shows only the last
component. It also turns reStructuredText's ``Text::`` (a literal block follows) into
``Text:``, and a NumPy-style section header (``Parameters`` over a dashed line) into a bold
title over a list of its ``name: description`` lines. The Python sources are not changed.
"""
from __future__ import annotations

import html
import re
from typing import Any

import griffe

SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}[ \t]*$", flags=re.MULTILINE)
ENTRY = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z_0-9]*): ", flags=re.MULTILINE)
ROLE = re.compile(r":(?:py:)?(mod|func|class|meth|data|attr|exc|obj|const):`(?P<target>[^`]+)`")
LITERAL_BLOCK = re.compile(r"(?<=\S)::$", flags=re.MULTILINE)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._pkg = pkg
        self._walk(pkg, seen=set())

    def _walk(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = self._rewrite(obj.docstring.value, obj)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]

    def _rewrite(self, text: str, obj: griffe.Object) -> str:
        text = LITERAL_BLOCK.sub(":", text)
        text = self._sections(text)

        def replace(match: re.Match[str]) -> str:
            target = match["target"].strip()
            if "<" in target and target.endswith(">"):  # :func:`title <target>`
                shown, target = target[: target.index("<")].strip(), target[target.index("<") + 1 : -1]
            else:
                shown = None
            short = target.startswith("~")
            target = target.lstrip("~.").removesuffix("()")
            if shown is None:
                shown = target.rsplit(".", 1)[-1] if short else target
            path = self._resolve(target, obj) or target
            return (f'<autoref identifier="{html.escape(path)}" optional>'
                    f"<code>{html.escape(shown)}</code></autoref>")

        return ROLE.sub(replace, text)

    @staticmethod
    def _sections(text: str) -> str:
        """A NumPy-style ``Parameters`` / ``----------`` header becomes a bold title, and its
        ``name: description`` lines (up to the next blank line) a list."""
        out: list[str] = []
        pos = 0
        for match in SECTION.finditer(text):
            out.append(text[pos : match.start()])
            end = text.find("\n\n", match.end())
            end = len(text) if end < 0 else end
            body = ENTRY.sub(lambda m: f"- `{m['name']}`: ", text[match.end() : end].lstrip("\n"))
            out.append(f"**{match['title']}**\n\n{body}")
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _resolve(self, target: str, obj: griffe.Object) -> str | None:
        scopes: list[str] = []
        node: griffe.Object | None = obj
        while node is not None:
            scopes.append(node.path)
            node = node.parent
        candidates = [target] + [f"{scope}.{target}" for scope in scopes] + [f"seqfusion.{target}"]
        for path in candidates:
            if self._exists(path):
                return path
        return None

    def _exists(self, path: str) -> bool:
        root, _, rest = path.partition(".")
        if root != self._pkg.name:
            return False
        if not rest:
            return True
        try:
            self._pkg[rest]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return False
        return True
