"""The book's website (``make book``) in headless Chromium, with the network cut.

Every page of ``build/book`` is opened from a local ``http.server``; every request that does not go to
127.0.0.1 is recorded and aborted.  Each page must load with no console error, no failed request and
no request outside the site; its math must be typeset by the shipped MathJax (no raw ``$$``, ``\\frac``
or ``\\(`` left in the visible prose, an ``mjx-container`` in every math element, no MathJax error);
every image must load (natural width > 0); and every link into the site must reach an existing file
and, with a ``#fragment``, an element with that id.  Search must find ``rot180`` on lesson 06, which
derives ``dL/dX = G_zero-pad * F^rot180``.  The page opened from disk (``file://``) must render too.
Screenshots of the landing page and lesson 06 are kept in ``build/book-test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

DERIVES_ROT180 = "lessons/06_gradient_wrt_input.html"
EXPLORER_LESSONS = [
    "lessons/02_stride_and_padding.html",
    "lessons/03_convolution_as_matrix_multiplication.html",
    "lessons/07_pooling.html",
]
RAW_TEX = ["$$", "\\frac", "\\(", "\\)", "\\[", "\\]", "\\partial", "\\mathbf"]

# Prose as a reader sees it: code, outputs and typeset math left out (code may hold TeX in strings).
VISIBLE_PROSE = """() => {
  const root = document.body.cloneNode(true);
  root.querySelectorAll('pre, code, script, style, textarea, .highlight, .cell_output, mjx-container')
      .forEach(e => e.remove());
  return root.textContent;
}"""
MATH_STATE = """() => ({
  math: document.querySelectorAll('.math').length,
  untypeset: [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')
                                                              && e.tagName !== 'MJX-CONTAINER').length,
  containers: document.querySelectorAll('mjx-container').length,
  errors: document.querySelectorAll('mjx-merror').length,
})"""
BROKEN_IMAGES = """() => [...document.images]
  .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src').slice(0, 120))"""
MATHJAX_READY = """async () => {
  if (!document.querySelector('.math')) return 'no math';
  for (let i = 0; i < 100 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 100));
  if (!(window.MathJax && MathJax.startup)) return 'MathJax did not load';
  await MathJax.startup.promise;
  return 'typeset';
}"""


@dataclass
class Visit:
    """What one page did: the problems found and the links it holds."""

    url: str
    problems: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def pages(site: Path) -> list[str]:
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if not p.relative_to(site).parts[0].startswith(("_static", "_downloads", "_sources"))
    )


def new_page(browser, base: str, visit: Visit):
    """A fresh tab whose every request outside ``base`` is recorded and aborted."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)

    def route(r):
        url = r.request.url
        if url.startswith((base + "/", "data:", "blob:")) or url == base:
            r.continue_()
        else:
            visit.external.append(url)
            r.abort()

    if base.startswith("http"):
        page.route("**/*", route)
    else:  # file://: routes do not see file URLs, so requests are only watched
        page.on(
            "request",
            lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else visit.external.append(r.url),
        )
    page.on(
        "console",
        lambda m: visit.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: visit.problems.append(f"page error: {e}"))
    page.on(
        "requestfailed",
        lambda r: (
            None if r.url in visit.external else visit.problems.append(f"failed request {r.url}: {r.failure}")
        ),
    )
    page.on(
        "response", lambda r: visit.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
    )
    return context, page


def inspect_page(page, visit: Visit) -> None:
    """Load ``visit.url`` in ``page`` and record what is wrong with it."""
    page.goto(visit.url, wait_until="load")
    state = page.evaluate(MATHJAX_READY)
    if state == "MathJax did not load":
        visit.problems.append(state)
    prose = page.evaluate(VISIBLE_PROSE)
    for token in RAW_TEX:
        if token in prose:
            at = prose.index(token)
            visit.problems.append(
                f"raw TeX {token!r} in the visible text: ...{prose[max(0, at - 60) : at + 60]!r}"
            )
    math = page.evaluate(MATH_STATE)
    if math["math"] and (math["untypeset"] or not math["containers"]):
        visit.problems.append(f"math not typeset: {math}")
    if math["errors"]:
        visit.problems.append(f"{math['errors']} MathJax errors")
    broken = page.evaluate(BROKEN_IMAGES)
    if broken:
        visit.problems.append(f"images that did not load: {broken}")
    visit.links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")


_IDS = re.compile(r"""\s(?:id|name)=["']([^"']+)["']""")


def broken_links(site: Path, base: str, links: dict[str, set[str]]) -> list[str]:
    """Links into the site (``base``) whose file, or whose ``#fragment`` in that file, does not exist."""
    ids: dict[Path, set[str]] = {}
    broken = []
    for link, sources in sorted(links.items()):
        if not link.startswith(base + "/"):
            continue
        parts = urllib.parse.urlsplit(link)
        target = site / urllib.parse.unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        where = f"{link} (on {', '.join(sorted(sources)[:3])})"
        if not target.is_file():
            broken.append(f"missing file: {where}")
        elif parts.fragment and target.suffix == ".html":
            if target not in ids:
                ids[target] = set(_IDS.findall(target.read_text(encoding="utf-8")))
            if urllib.parse.unquote(parts.fragment) not in ids[target]:
                broken.append(f"missing anchor: {where}")
    return broken


def assert_search_finds_rot180(browser, base: str, visit: Visit) -> None:
    """Open ``visit.url`` (the search page asked for "rot180"), wait for the search to finish and
    assert that a hit is the lesson that derives the rule; ``visit`` collects the page's problems."""
    context, page = new_page(browser, base, visit)
    try:
        page.goto(visit.url, wait_until="load")
        page.wait_for_function(
            "() => (document.querySelector('#search-results')?.textContent || '').includes('Search finished')"
        )
        hits = page.evaluate("() => [...document.querySelectorAll('#search-results li a')].map(a => a.href)")
    finally:
        context.close()
    assert any(h.split("?")[0].split("#")[0].endswith(DERIVES_ROT180) for h in hits), hits


def test_every_page_loads_offline_typesets_and_links(site, server, browser, artifacts):
    all_pages = pages(site)
    assert len(all_pages) >= 20, all_pages
    assert DERIVES_ROT180 in all_pages
    visits, links = [], {}
    for name in all_pages:
        visit = Visit(f"{server}/{name}")
        context, page = new_page(browser, server, visit)
        try:
            inspect_page(page, visit)
            if name in ("index.html", DERIVES_ROT180):
                page.screenshot(path=str(artifacts / (Path(name).stem + ".png")))
        finally:
            context.close()
        visits.append(visit)
        for link in visit.links:
            links.setdefault(link.split("?")[0], set()).add(name)
    report = {v.url: v.problems for v in visits if v.problems}
    external = {v.url: v.external for v in visits if v.external}
    (artifacts / "pages.json").write_text(json.dumps({"pages": all_pages, "problems": report}, indent=1))
    assert not external, f"requests outside the site: {json.dumps(external, indent=1)}"
    assert not report, json.dumps(report, indent=1)
    broken = broken_links(site, server, links)
    assert not broken, "\n".join(broken)
    internal = [link for link in links if link.startswith(server + "/")]
    assert len(internal) > 100, len(internal)  # the links were collected


def test_search_finds_rot180_on_the_lesson_that_derives_it(site, server, browser):
    visit = Visit(f"{server}/search.html?q=rot180")
    assert_search_finds_rot180(browser, server, visit)
    assert not visit.problems and not visit.external, (visit.problems, visit.external)


def test_lessons_fold_solutions_show_explorers_and_link_both_editions(site, server, browser):
    visit = Visit(server)
    context, page = new_page(browser, server, visit)
    try:
        for name in EXPLORER_LESSONS:
            page.goto(f"{server}/{name}", wait_until="load")
            # the explorer's static picture, with the note that it is live in JupyterLab
            assert page.locator("img[alt^='cnnbook explorer']").count() >= 1, name
            assert page.get_by_text("the explorer is live").count() >= 1, name
            # every solution is folded: its summary is visible, its code is not
            folds = page.locator("details:has(summary:has-text('Show the solution'))")
            assert folds.count() >= 1, name
            for i in range(folds.count()):
                fold = folds.nth(i)
                assert fold.get_attribute("open") is None, name
                assert not fold.locator("pre").first.is_visible(), name
            # the download links: the student edition holds no solution, the book edition does
            editions = {}
            for label in ("student edition", "book edition"):
                href = page.get_by_role("link", name=label).get_attribute("href")
                editions[label] = (site / Path(name).parent / href).resolve().read_text(encoding="utf-8")
            assert "BEGIN SOLUTION" not in editions["student edition"], name
            assert "BEGIN SOLUTION" in editions["book edition"], name
    finally:
        context.close()
    assert not visit.problems and not visit.external, (visit.problems, visit.external)


def test_pages_opened_from_disk_render(site, browser):
    for name in ("index.html", DERIVES_ROT180):
        visit = Visit((site / name).as_uri())
        context, page = new_page(browser, "file://", visit)
        try:
            inspect_page(page, visit)
            assert page.evaluate(MATH_STATE)["containers"] > 0, name
        finally:
            context.close()
        assert not visit.external, visit.external
        assert not visit.problems, visit.problems


def test_search_works_from_disk(site, browser):
    """From ``file://`` the search index loads (a script) and finds lesson 06; only the result previews,
    which the search fetches page by page, are refused by the browser (the README says so)."""
    visit = Visit((site / "search.html").as_uri() + "?q=rot180")
    assert_search_finds_rot180(browser, "file://", visit)
    assert not visit.external, visit.external
    previews = ("CORS policy", "net::ERR_FAILED", "Failed to fetch")
    assert not [p for p in visit.problems if not any(s in p for s in previews)], visit.problems
