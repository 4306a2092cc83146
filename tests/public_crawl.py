"""A crawl of what a logged-out visitor can reach, and a search of every answer for text it must not hold.

The crawl reads every URL it is given, every permalink an export or the API writes, every API `next_cursor`
to the last page, and the same-origin links pages offer (href, src, a GET form's action, the map's data-…-url
and data-export-base attributes, redirects): one link of each shape, a path with a set of parameter names
(the timeline links every week to the map, the list and the exports: the same pages with other dates). It
sends nothing but GET, skips /logout, and stops with an error past MAX_URLS rather than quietly leaving
pages unread. tests/test_leaks.py seeds what must stay private and searches the answers with `leaks`.
"""

from __future__ import annotations

import html
import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from flask.testing import FlaskClient

ORIGIN = "http://localhost/"  # the test client's address: what _external URLs and permalinks are built on
MAX_URLS = 600
PER_SHAPE = 1
NEVER = ("/logout",)  # a GET there is refused anyway; never worth a request


@dataclass(frozen=True)
class Answer:
    url: str
    status: int
    mimetype: str
    text: str  # what is searched: the headers and the body, also with HTML entities and JSON escapes undone


@dataclass(frozen=True)
class Leak:
    url: str
    marker: str
    what: str

    def __str__(self) -> str:
        return f"{self.url} shows {self.what} ({self.marker!r})"


def crawl(
    client: FlaskClient, seeds: Iterable[str], max_urls: int = MAX_URLS, per_shape: int = PER_SHAPE
) -> dict[str, Answer]:
    """Every answer reachable from seeds, by URL (path and query), read as a logged-out visitor.

    Every seed is read, and every link a JSON answer gives (its next page, permalinks); of the links pages
    offer, per_shape of each shape (a path and the names of its parameters).
    """
    queue: deque[str] = deque()
    seen: set[str] = set()
    shapes: Counter[tuple[str, frozenset[str]]] = Counter()

    def add(link: str, base: str, *, offered: bool) -> None:
        url = _same_origin(link, base)
        if url is None or url in seen:
            return
        if offered:
            parts = urlsplit(url)
            shape = (parts.path, frozenset(name for name, _ in parse_qsl(parts.query)))
            if shapes[shape] >= per_shape:
                return
            shapes[shape] += 1
        seen.add(url)
        queue.append(url)
        assert len(seen) <= max_urls, f"the public crawl passed {max_urls} URLs: a link explosion?"

    for seed in seeds:
        add(seed, "/", offered=False)
    answers: dict[str, Answer] = {}
    while queue:
        url = queue.popleft()
        answer, offered, given = _fetch(client, url)
        answers[url] = answer
        for link in given:
            add(link, url, offered=False)
        for link in offered:
            add(link, url, offered=True)
    return answers


def leaks(answers: Mapping[str, Answer], markers: Mapping[str, str]) -> list[Leak]:
    """Each (URL, marker) where an answer holds a marker (text → what it is), in any case."""
    wanted = {marker.casefold(): (marker, what) for marker, what in markers.items()}
    return [
        Leak(url, marker, what)
        for url, answer in answers.items()
        for folded, (marker, what) in wanted.items()
        if folded in answer.text
    ]


def report(found: Iterable[Leak]) -> str:
    return "public output shows what it must not:\n" + "\n".join(sorted(map(str, found)))


def with_query(path: str, query: str | Mapping[str, str] | None) -> str:
    """path with a query (a string, or parameters), as the crawl keys its answers."""
    if isinstance(query, Mapping):
        query = urlencode(query)
    return f"{path}?{query}" if query else path


# -- reading one answer --------------------------------------------------------------------------------------


def _fetch(client: FlaskClient, url: str) -> tuple[Answer, list[str], list[str]]:
    """The answer, the links it offers (pages, redirects) and those it gives (JSON: next page, permalinks)."""
    response = client.get(url)
    try:
        body = response.get_data(as_text=True)
    finally:
        response.close()
    assert response.status_code < 500, f"GET {url}: {response.status_code}"
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    texts = [headers, body]
    offered: list[str] = []
    given: list[str] = []
    if response.status_code in (301, 302, 303, 307, 308) and response.location:
        offered.append(response.location)
    if response.mimetype == "text/html":
        texts.append(html.unescape(body))
        offered += _html_links(body)
    elif response.is_json or response.mimetype == "application/geo+json":
        document = json.loads(body)
        texts.append(json.dumps(document, ensure_ascii=False))
        given += _json_links(document, url)
    text = "\n".join(texts).casefold()
    return Answer(url, response.status_code, response.mimetype or "", text), offered, given


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in ("href", "src") or name.endswith("-url") or name == "data-export-base":
                self.found.append(value)
        if tag == "form" and values.get("method", "get").lower() == "get" and "action" in values:
            self.found.append(values["action"])


def _html_links(body: str) -> list[str]:
    parser = _Links()
    parser.feed(body)
    parser.close()
    return parser.found


def _json_links(document: Any, url: str) -> Iterator[str]:
    """The document's next page, and the addresses it writes on this origin (permalinks; the map's
    features give theirs as paths, under "url")."""
    if isinstance(document, dict):
        cursor = document.get("next_cursor")
        if isinstance(cursor, str):
            parts = urlsplit(url)
            query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "cursor"]
            yield with_query(parts.path, urlencode([*query, ("cursor", cursor)]))
        link = document.get("url")
        if isinstance(link, str) and link.startswith("/"):
            yield link
        values: Iterable[Any] = document.values()
    elif isinstance(document, list):
        values = document
    else:
        if isinstance(document, str) and document.startswith(ORIGIN):
            yield document
        return
    for value in values:
        yield from _json_links(value, url)


def _same_origin(link: str, base: str = "/") -> str | None:
    """The link as a path and query when it is on this origin and worth a GET, else None."""
    if link.startswith(("data:", "mailto:", "javascript:")):
        return None
    parts = urlsplit(urljoin(urljoin(ORIGIN, base), link))
    if f"{parts.scheme}://{parts.netloc}/" != ORIGIN or parts.path in NEVER:
        return None
    return with_query(parts.path, parts.query)
