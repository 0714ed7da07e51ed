"""A report page parsed into tags and text, for the tests that read rendered HTML."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Tags, attributes and text of a page; text remembers whether it sat inside a content-warning block."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, bool]] = []
        self.text: list[tuple[str, bool, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in VOID:
            self.stack.append((tag, "cw-content" in (attributes.get("class") or "").split()))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1][0] if self.stack else ""
        self.text.append((data, any(hidden for _, hidden in self.stack), parent))

    def visible_text(self) -> str:
        return " ".join(d for d, _, parent in self.text if parent not in ("style", "title"))
