"""Narrative safety (`conformance._narrative`) through validate_resource: XHTML, txt-1 and txt-2."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from conformance import ValidationIssue, validate_resource
from conformance._narrative import ALLOWED_ELEMENTS, narrative_problems

XHTML = 'xmlns="http://www.w3.org/1999/xhtml"'
EXPR = "Patient.text.div"
LINKS = "links may be relative (`#id`, `Patient/1`) or use `http:`, `https:`, `mailto:`, `tel:` or `urn:`"
IMAGES = "images may be relative, `http(s):` or an inline `data:image/png`, `gif`, `jpeg`, `webp` or `bmp`"
STYLE = "style may not use CSS escapes, run script or load anything but an inline image"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def narrated(div: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "text": {"status": "generated", "div": div}, **fields}


def wrap(inner: str) -> str:
    return f"<div {XHTML}>{inner}</div>"


def invariant(diagnostics: str, expression: str = EXPR) -> ValidationIssue:
    return ValidationIssue("error", "invariant", diagnostics, expression)


def value(diagnostics: str, expression: str = EXPR) -> ValidationIssue:
    return ValidationIssue("error", "value", diagnostics, expression)


def element(name: str) -> ValidationIssue:
    return invariant(f"Element `<{name}>` is not allowed in narrative `{EXPR}` (txt-1).")


def attribute(name: str, on: str) -> ValidationIssue:
    return invariant(f"Attribute `{name}` on `<{on}>` is not allowed in narrative `{EXPR}` (txt-1).")


def scheme(name: str, on: str, used: str, rule: str = LINKS) -> ValidationIssue:
    return invariant(
        f"Attribute `{name}` on `<{on}>` in narrative `{EXPR}` uses the `{used}:` scheme, which is not allowed (txt-1): {rule}."
    )


def style(on: str, found: str) -> ValidationIssue:
    return invariant(
        f"Attribute `style` on `<{on}>` in narrative `{EXPR}` contains `{found}`, which is not allowed (txt-1): {STYLE}."
    )


def event(name: str, on: str) -> ValidationIssue:
    return invariant(f"Event handler attribute `{name}` on `<{on}>` is not allowed in narrative `{EXPR}` (txt-1).")


NO_CONTENT = invariant(f"Narrative `{EXPR}` has no non-whitespace content (txt-2).")

UNSAFE: list[tuple[str, str, list[ValidationIssue]]] = [
    ("script", wrap("<script>alert(1)</script>Ann"), [element("script")]),
    ("script-twice-one-issue", wrap("<script>a()</script><p><script>b()</script></p>"), [element("script")]),
    ("onclick", wrap('<p onclick="steal()">Ann</p>'), [event("onclick", "p")]),
    ("onerror-upper-case", wrap('<img src="x.png" ONERROR="steal()"/>'), [event("ONERROR", "img")]),
    ("onload-on-root", f'<div {XHTML} onload="steal()">Ann</div>', [event("onload", "div")]),
    ("javascript-href", wrap('<a href="javascript:alert(1)">Ann</a>'), [scheme("href", "a", "javascript")]),
    ("javascript-mixed-case", wrap('<a href="  JaVaScRiPt:alert(1)">Ann</a>'), [scheme("href", "a", "javascript")]),
    (
        "javascript-tab-reference",
        wrap('<a href="java&#9;script:alert(1)">Ann</a>'),
        [scheme("href", "a", "javascript")],
    ),
    ("javascript-entity-colon", wrap('<a href="javascript&#58;alert(1)">Ann</a>'), [scheme("href", "a", "javascript")]),
    ("vbscript-href", wrap('<a href="vbscript:msgbox(1)">Ann</a>'), [scheme("href", "a", "vbscript")]),
    (
        "data-html-href",
        wrap('<a href="data:text/html,&lt;script&gt;x()&lt;/script&gt;">Ann</a>'),
        [scheme("href", "a", "data")],
    ),
    (
        "javascript-area",
        wrap('<map name="m"><area href="javascript:x()" alt="a"/></map>Ann'),
        [scheme("href", "area", "javascript")],
    ),
    ("javascript-img", wrap('<img src="javascript:x()" alt="a"/>'), [scheme("src", "img", "javascript", IMAGES)]),
    (
        "svg-data-img",
        wrap('<img src="data:image/svg+xml;base64,PHN2Zy8+" alt="a"/>'),
        [scheme("src", "img", "data", IMAGES)],
    ),
    ("iframe", wrap('<iframe src="https://evil.example"></iframe>Ann'), [element("iframe")]),
    ("object", wrap('<object data="x.swf"></object>Ann'), [element("object")]),
    ("embed", wrap('<embed src="x.swf"/>Ann'), [element("embed")]),
    (
        "applet-frame",
        wrap("<applet>a</applet><frameset><frame/></frameset>"),
        [element("applet"), element("frameset"), element("frame")],
    ),
    (
        "form",
        wrap('<form action="https://evil.example"><input name="pw"/></form>Ann'),
        [element("form"), element("input")],
    ),
    ("base", wrap('<base href="https://evil.example/"/>Ann'), [element("base")]),
    ("link-stylesheet", wrap('<link rel="stylesheet" href="https://evil.example/x.css"/>Ann'), [element("link")]),
    ("style-element", wrap("<style>p { color: red }</style>Ann"), [element("style")]),
    (
        "head-body",
        wrap("<head><title>t</title></head><body>Ann</body>"),
        [element("head"), element("title"), element("body")],
    ),
    ("ins-del-section-9-4", wrap("<ins>new</ins><del>old</del>"), [element("ins"), element("del")]),
    ("deprecated-font", wrap('<font color="red">Ann</font>'), [element("font")]),
    ("target-attribute", wrap('<a href="https://example.org" target="_blank">Ann</a>'), [attribute("target", "a")]),
    (
        "srcset-attribute",
        wrap('<img src="a.png" srcset="https://evil.example/x.png 2x" alt="a"/>'),
        [attribute("srcset", "img")],
    ),
    (
        "xlink-href",
        f'<div {XHTML} xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="x">Ann</a></div>',
        [attribute("xlink:href", "a")],
    ),
    ("style-expression", wrap('<p style="width: expression(alert(1))">Ann</p>'), [style("p", "expression(")]),
    (
        "style-expression-comment",
        wrap('<p style="width: expr/**/ession(alert(1))">Ann</p>'),
        [style("p", "expression(")],
    ),
    ("style-escape", wrap('<p style="width: expr\\65ssion(alert(1))">Ann</p>'), [style("p", "\\")]),
    (
        "style-javascript-url",
        wrap('<p style="background: url(javascript:alert(1))">Ann</p>'),
        [style("p", "javascript:")],
    ),
    (
        "style-external-url",
        wrap("<p style=\"background: URL('https://evil.example/t.png')\">Ann</p>"),
        [style("p", "url('https://evil.example/t.png')")],
    ),
    ("style-relative-url", wrap('<p style="background: url(t.png)">Ann</p>'), [style("p", "url(t.png)")]),
    ("style-import", wrap("<p style=\"@import 'x.css'\">Ann</p>"), [style("p", "@import")]),
    ("style-behavior", wrap('<p style="behavior: url(x.htc)">Ann</p>'), [style("p", "behavior:")]),
    ("style-moz-binding", wrap('<p style="-moz-binding: url(x.xml#b)">Ann</p>'), [style("p", "-moz-binding")]),
    (
        "processing-instruction",
        wrap('<?xml-stylesheet href="https://evil.example/x.css"?>Ann'),
        [invariant(f"Processing instruction `<?xml-stylesheet?>` is not allowed in narrative `{EXPR}` (txt-1).")],
    ),
    (
        "cdata-read-as-markup-by-html",
        wrap("<![CDATA[ > <img src=x onerror=alert(1)> ]]>"),
        [
            invariant(
                f"CDATA sections are not allowed in narrative `{EXPR}` (txt-1): HTML does not read them as text; escape `<` and `&` instead."
            )
        ],
    ),
    (
        "comment-ended-at-once-by-html",
        wrap("<!--><img src=x onerror=alert(1)>-->Ann"),
        [
            invariant(
                f"A comment starting `<!-->` is not allowed in narrative `{EXPR}` (txt-1): HTML ends it at once, so what follows would be read as markup."
            )
        ],
    ),
    (
        "svg-element",
        wrap('<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>Ann'),
        [
            invariant(f"Element `<svg>` in narrative `{EXPR}` is not XHTML (txt-1)."),
            invariant(f"Element `<script>` in narrative `{EXPR}` is not XHTML (txt-1)."),
        ],
    ),
    (
        "no-namespace",
        "<div>Ann</div>",
        [
            value(
                f'Narrative `{EXPR}` must be in the XHTML namespace: its `<div>` needs `xmlns="http://www.w3.org/1999/xhtml"`.'
            )
        ],
    ),
    (
        "other-namespace",
        '<div xmlns="http://example.org/ns">Ann</div>',
        [
            value(
                f'Narrative `{EXPR}` must be in the XHTML namespace: its `<div>` needs `xmlns="http://www.w3.org/1999/xhtml"`.'
            )
        ],
    ),
    (
        "not-a-div-root",
        f"<divx {XHTML}>Ann</divx>",
        [value(f"Narrative `{EXPR}` must have a `<div>` root element, not `<divx>`.")],
    ),
    ("not-xhtml-at-all", "<p>Ann</p>", [value(f"Narrative `{EXPR}` must be an XHTML `<div>` element.")]),
    (
        "unclosed-element",
        wrap("<p>Ann"),
        [value(f"Narrative `{EXPR}` is not well-formed XHTML: mismatched tag at line 1, column 51.")],
    ),
    (
        "html-not-xml",
        wrap("<br>Ann"),
        [value(f"Narrative `{EXPR}` is not well-formed XHTML: mismatched tag at line 1, column 52.")],
    ),
    (
        "two-roots",
        wrap("Ann") + "<div>Bob</div>",
        [value(f"Narrative `{EXPR}` is not well-formed XHTML: junk after document element at line 1, column 52.")],
    ),
    (
        "unknown-entity",
        wrap("&colon;Ann"),
        [value(f"Narrative `{EXPR}` is not well-formed XHTML: undefined entity at line 1, column 43.")],
    ),
    (
        "xxe",
        f'<!DOCTYPE div [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><div {XHTML}>&xxe;</div>',
        [value(f"Narrative `{EXPR}` must be an XHTML `<div>` element.")],
    ),
    (
        "doctype-inside-div",
        f'<div {XHTML}><!DOCTYPE div [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>&xxe;</div>',
        [value(f"Narrative `{EXPR}` is not well-formed XHTML: not well-formed (invalid token) at line 1, column 45.")],
    ),
    ("empty", wrap(""), [NO_CONTENT]),
    ("whitespace-only", wrap(" \n\t<p>  </p><br/>&#160;"), [NO_CONTENT]),
    ("comment-only", wrap("<!-- nothing -->"), [NO_CONTENT]),
]

SAFE: list[tuple[str, str]] = [
    ("plain-text", wrap("Ann Smith")),
    ("synthea", wrap('Generated by <a href="https://github.com/synthetichealth/synthea">Synthea</a>.')),
    ("list", wrap("Care Plan.<br/>Activities: <ul><li>Self care</li><li>Wound care</li></ul>")),
    (
        "generated-table",
        wrap(
            '<table class="grid" border="0" cellpadding="0" cellspacing="0" summary="s" style="border: 0px #F0F0F0 solid">'
            '<caption>Ids</caption><colgroup span="2"><col width="40%"/></colgroup>'
            '<thead><tr><th scope="col" abbr="n">Name</th><th colspan="2">Value</th></tr></thead>'
            '<tbody><tr style="vertical-align: top"><td rowspan="2" valign="top" nowrap="nowrap">MRN</td>'
            '<td align="left" class="hierarchy" style="padding:0px 4px 0px 4px; white-space: nowrap">12345</td></tr></tbody>'
            "<tfoot><tr><td>end</td></tr></tfoot></table>"
        ),
    ),
    (
        "links",
        wrap(
            '<a href="#obs1">obs</a> <a name="top">top</a> <a href="Patient/1">p</a> <a href="mailto:a@example.org">m</a> <a href="tel:+15555550100">t</a> <a href="urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e8">u</a> <a href="https://example.org/x?y=1" title="x" rel="help">h</a>'
        ),
    ),
    (
        "images",
        wrap(
            f'<img src="https://example.org/logo.png" alt="logo" width="10" height="10"/><img src="#att1" alt="a"/><img src="{PNG}" alt="dot"/><img src="data: image/png;base64,R0lGODlh" alt="gif"/>'
        ),
    ),
    ("image-only", wrap('<img src="help16.png" alt="help"/>')),
    ("style-inline-image", wrap(f'<td style="background-image: url({PNG}); color: #333"/>x')),
    ("style-fragment-url", wrap('<span style="fill: url(#grad)">x</span>')),
    (
        "formatting",
        wrap(
            '<h1>T</h1><p class="c" id="p1" lang="en" dir="ltr"><b>b</b> <i>i</i> <em>e</em> <strong>s</strong> <small>s</small> <big>b</big> <tt>t</tt> <code>c</code> <sub>1</sub><sup>2</sup> <abbr title="x">x</abbr> <acronym>a</acronym> <dfn>d</dfn> <kbd>k</kbd> <samp>s</samp> <var>v</var> <cite>c</cite> <q cite="https://example.org">q</q> <bdo dir="rtl">b</bdo></p><pre xml:space="preserve">p</pre><blockquote>b</blockquote><address>a</address><hr/><dl><dt>t</dt><dd>d</dd></dl><ol start="3" type="a"><li value="3">x</li></ol>'
        ),
    ),
    ("xml-lang", f'<div {XHTML} xml:lang="en" lang="en">Ann</div>'),
    ("xhtml-entities", wrap("Ann&nbsp;Smith &copy; &eacute; &lt;b&gt; &amp; &#160; &#x263A;")),
    ("comment", wrap("<!-- generated --><p>Ann</p>")),
    ("leading-whitespace", f"  <div {XHTML}>Ann</div>\n"),
    ("prefixed-inner-xhtml", f'<div {XHTML} xmlns:h="http://www.w3.org/1999/xhtml"><h:p>Ann</h:p></div>'),
]


@pytest.mark.parametrize(("div", "expected"), [(d, e) for _, d, e in UNSAFE], ids=[name for name, _, _ in UNSAFE])
def test_unsafe_narrative_is_rejected(div: str, expected: list[ValidationIssue]) -> None:
    assert validate_resource(narrated(div)) == expected


@pytest.mark.parametrize("div", [d for _, d in SAFE], ids=[name for name, _ in SAFE])
def test_safe_narrative_is_accepted(div: str) -> None:
    assert validate_resource(narrated(div)) == []


def test_every_allowed_element_is_accepted() -> None:
    inner = "".join(f"<{name}>x</{name}>" for name in sorted(ALLOWED_ELEMENTS))
    assert narrative_problems(wrap(inner), EXPR) == []


def test_several_problems_are_each_reported_in_document_order() -> None:
    div = wrap('<script>x()</script><p onclick="y()">a</p><a href="javascript:z()">b</a>')
    assert validate_resource(narrated(div)) == [
        element("script"),
        event("onclick", "p"),
        scheme("href", "a", "javascript"),
    ]


def test_billion_laughs_is_refused_without_expanding() -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    div = f'<!DOCTYPE div [<!ENTITY l0 "lol">{lol}]><div {XHTML}>&l9;</div>'
    start = time.perf_counter()
    problems = narrative_problems(div, EXPR)
    assert time.perf_counter() - start < 0.5
    assert problems == [
        ("value", f"Narrative `{EXPR}` must not contain a DOCTYPE: entity declarations are refused in narrative.")
    ]


def test_external_entity_is_refused_before_anything_is_read() -> None:
    div = f'<!DOCTYPE div [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><div {XHTML}>&xxe;</div>'
    assert narrative_problems(div, EXPR) == [
        ("value", f"Narrative `{EXPR}` must not contain a DOCTYPE: entity declarations are refused in narrative.")
    ]


def test_contained_resource_narrative_has_its_own_path() -> None:
    contained = {
        "resourceType": "Practitioner",
        "id": "p1",
        "text": {"status": "generated", "div": wrap("<script/>Dr")},
    }
    issues = validate_resource(narrated(wrap("Ann"), contained=[contained], generalPractitioner=[{"reference": "#p1"}]))
    assert issues == [
        invariant(
            "Element `<script>` is not allowed in narrative `Patient.contained[0].text.div` (txt-1).",
            "Patient.contained[0].text.div",
        )
    ]


def test_bundle_entry_narrative_has_its_own_path() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": narrated(wrap("Ann")), "request": {"method": "POST", "url": "Patient"}},
            {"resource": narrated(wrap('<p onclick="x()">Bob</p>')), "request": {"method": "POST", "url": "Patient"}},
        ],
    }
    where = "Bundle.entry[1].resource.text.div"
    assert validate_resource(bundle) == [
        invariant(f"Event handler attribute `onclick` on `<p>` is not allowed in narrative `{where}` (txt-1).", where)
    ]


def test_synthea_narratives_are_accepted(synthea_files: list[Path]) -> None:
    checked = 0
    for path in synthea_files:
        for entry in orjson.loads(path.read_bytes())["entry"]:
            div = entry["resource"].get("text", {}).get("div")
            if div is not None:
                checked += 1
                assert narrative_problems(div, "text.div") == [], path.name
    assert checked > 10


def test_official_r4_narratives_are_accepted(fhir_r4_dir: Path) -> None:
    # The spec's generated narratives (tables, inline data: icons, styles, links): a large, opt-in run.
    bundle_path = fhir_r4_dir / "official-bundles" / "profiles-types.json"
    if not bundle_path.is_file():
        pytest.skip(f"`{bundle_path}` is not there: the official narratives come from the spec's profiles-types.json.")
    entries = orjson.loads(bundle_path.read_bytes())["entry"]
    rejected = {
        entry["resource"]["id"]: problems
        for entry in entries
        if (problems := narrative_problems(entry["resource"]["text"]["div"], "StructureDefinition.text.div"))
    }
    assert rejected == {}
    assert len(entries) > 50
