"""Checks a static site: every page parses and every local link or asset exists.

Usage: python3 check_links.py SITE_DIR. Exits 1 and lists the broken links.
Only the standard library, so the stack's python3 runs it.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, unquote


class Links(HTMLParser):
    """Collects href and src attributes."""

    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.targets.append(value)


def broken_links(site):
    """(page, link) for each local link that names no file under site."""
    broken = []
    pages = sorted(site.rglob("*.html"))
    if not pages:
        broken.append((site, "(no .html pages at all)"))
    for page in pages:
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for link in parser.targets:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site, or a fragment on this page
            path = unquote(parts.path)
            # "/x" is relative to the site's root, where the server serves it.
            base = site if path.startswith("/") else page.parent
            target = (base / path.lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(site.resolve()) or not target.is_file():
                broken.append((page.relative_to(site), link))
    return broken


def main():
    if len(sys.argv) != 2:
        print("usage: python3 check_links.py SITE_DIR", file=sys.stderr)
        return 2
    site = Path(sys.argv[1])
    broken = broken_links(site)
    for page, link in broken:
        print(f"{page}: broken link {link}", file=sys.stderr)
    if broken:
        return 1
    print(f"{site}: {len(list(site.rglob('*.html')))} pages, every local link resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
