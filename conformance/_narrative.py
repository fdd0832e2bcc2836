"""Narrative safety: the R4 rules for ``xhtml`` values (``Narrative.div``, txt-1 and txt-2).

Narrative is HTML that every client renders, so what a write may store is held
to https://hl7.org/fhir/R4/narrative.html:

- the value is one well-formed XML element, a ``<div>`` in the XHTML namespace;
- txt-1: only "the basic html formatting elements and attributes described in
  chapters 7-11 (except section 4 of chapter 9) and 15 of the HTML 4.0
  standard, <a> elements (either name or href), images and internally
  contained style attributes": no script, forms, frames, objects, ``base``,
  ``link``, ``xlink``, event handler (``on*``) attributes or external
  stylesheets;
- txt-2: some non-whitespace content.

The element and attribute lists are those of the HL7 reference validator
(``XhtmlValidator``), which is how ``htmlChecks()`` is implemented, plus the
list, table and rule presentation attributes of HTML 4.0 chapters 10, 11 and 15
(``start``, ``bgcolor``, ``noshade``...), which txt-1 names and which can do no
harm. Section 9.4 (``ins``, ``del``) is excluded, as txt-1 says; so are the
deprecated font elements of chapter 15 (``font``, ``center``, ``u``, ``s``,
``strike``, ``basefont``), which neither the validator nor the published txt-1
XPath allow.

On top of the names, URLs and styles are checked, because an allowed attribute
can still carry script: links (``a``/``area`` ``href``, ``cite``, ``longdesc``,
``usemap``) may only be relative (``#id``, ``Patient/1``) or ``http(s):``,
``mailto:``, ``tel:`` and ``urn:`` (transaction Bundles link narrative to
``urn:uuid:`` entries); image ``src`` may be relative, ``http(s):`` or an
inline raster image (``data:image/png`` and kin: the spec's own generated
narratives embed their icons that way). Inline SVG images are refused: they are
a document type that can carry script when opened on their own. ``style`` may
not hold ``expression(``, ``javascript:``, ``@import``, ``behavior``,
``-moz-binding``, CSS escapes (which could spell any of those) or ``url(...)``
other than an inline raster image or a ``#fragment``, so narrative never loads
anything from another host.

Parsing uses the standard library's expat, with a DOCTYPE refused as soon as it
starts: no entity can be declared, so there is no XXE and no billion laughs, and
nothing is fetched. The named character entities of XHTML 1.0 (``&nbsp;``),
which a parser without the XHTML DTD does not know, are read as the characters
they stand for.
"""

from __future__ import annotations

import html.entities
import re
from xml.parsers.expat import ExpatError, ParserCreate, errors

#: ``(IssueType code, diagnostics)``, as in :mod:`conformance._values`.
Problem = tuple[str, str]

XHTML_NS = "http://www.w3.org/1999/xhtml"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_PREFIXES = {_XML_NS: "xml", "http://www.w3.org/1999/xlink": "xlink"}

ALLOWED_ELEMENTS = frozenset(
    {
        # chapter 7: global structure (the body's content)
        *("div", "span", "address", "h1", "h2", "h3", "h4", "h5", "h6"),
        # chapter 8: text direction
        "bdo",
        # chapter 9: text, less section 9.4 (ins, del)
        *("em", "strong", "dfn", "code", "samp", "kbd", "var", "cite", "abbr", "acronym"),
        *("blockquote", "q", "sub", "sup", "p", "br", "pre"),
        # chapter 10: lists
        *("ul", "ol", "li", "dl", "dt", "dd"),
        # chapter 11: tables
        *("table", "caption", "thead", "tfoot", "tbody", "colgroup", "col", "tr", "th", "td"),
        # chapter 15: font styles and rules (less the deprecated ones)
        *("tt", "i", "b", "big", "small", "hr"),
        # <a> elements and images, with client-side image maps
        *("a", "img", "map", "area"),
    }
)

#: Attributes any element may carry (the reference validator's list).
_GLOBAL_ATTRIBUTES = frozenset(
    {
        *("id", "class", "style", "title", "lang", "dir", "accesskey", "tabindex"),
        # table cell and column attributes, allowed anywhere by the reference validator
        *("span", "width", "align", "valign", "char", "charoff", "abbr", "axis", "headers", "scope"),
        *("rowspan", "colspan"),
    }
)

#: Attributes allowed on one element only: ``(element, attribute)``.
_ELEMENT_ATTRIBUTES = frozenset(
    {
        *(("a", name) for name in ("href", "name", "charset", "type", "hreflang", "rel", "rev", "shape", "coords")),
        *(("img", name) for name in ("src", "alt", "longdesc", "height", "width", "usemap", "ismap", "border")),
        *(("img", name) for name in ("hspace", "vspace")),
        ("map", "name"),
        *(("area", name) for name in ("shape", "coords", "href", "nohref", "alt")),
        *(("table", name) for name in ("summary", "border", "frame", "rules", "cellspacing", "cellpadding")),
        *((cell, name) for cell in ("td", "th") for name in ("nowrap", "height", "bgcolor")),
        ("table", "bgcolor"),
        ("tr", "bgcolor"),
        ("blockquote", "cite"),
        ("q", "cite"),
        *(("ol", name) for name in ("type", "start", "compact")),
        *(("ul", name) for name in ("type", "compact")),
        *(("li", name) for name in ("type", "value")),
        ("dl", "compact"),
        ("br", "clear"),
        *(("hr", name) for name in ("noshade", "size")),
    }
)

#: Expat's names of the allowed elements ("namespace local"), to their local names.
_XHTML_NAMES = {f"{XHTML_NS} {name}": name for name in ALLOWED_ELEMENTS}
#: Global attributes whose value cannot carry script or a reference (all but ``style``).
_PLAIN_ATTRIBUTES = _GLOBAL_ATTRIBUTES - {"style"}

#: ``xml:`` attributes: the language, and ``xml:space``, which only says how to treat white space.
_XML_ATTRIBUTES = frozenset({"lang", "space"})

#: Attributes holding a URL that a click or the renderer follows, and which rule applies.
_LINKS = frozenset({("a", "href"), ("area", "href"), ("blockquote", "cite"), ("q", "cite"), ("img", "longdesc")})
_LINKS_USEMAP = ("img", "usemap")
_IMAGE_SOURCE = ("img", "src")

_LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel", "urn"})
_IMAGE_SCHEMES = frozenset({"http", "https"})
_INLINE_IMAGE_TYPES = frozenset({"image/png", "image/gif", "image/jpeg", "image/jpg", "image/webp", "image/bmp"})
_LINK_FORMS = "links may be relative (`#id`, `Patient/1`) or use `http:`, `https:`, `mailto:`, `tel:` or `urn:`"
_IMAGE_FORMS = "images may be relative, `http(s):` or an inline `data:image/png`, `gif`, `jpeg`, `webp` or `bmp`"

# Browsers drop ASCII tabs and newlines anywhere in a URL and C0 controls and spaces
# around it before reading the scheme ("java\tscript:" is javascript:). XML has already
# turned a raw tab in an attribute into a space, which an HTML parser (innerHTML) would
# not, so spaces are dropped too: "java script:" is refused rather than taken as relative.
_URL_IGNORED = str.maketrans("", "", "\t\n\r\f ")
_URL_TRIMMED = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")

_CSS_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
# Style content that runs script, binds behaviour or imports a stylesheet, whatever the case.
_CSS_FORBIDDEN = re.compile(
    r"expression\s*\(|javascript\s*:|vbscript\s*:|@import|behavior\s*:|-moz-binding|image-set\s*\("
)
_CSS_URL_START = re.compile(r"url\s*\(")
_CSS_URL = re.compile(r"url\s*\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^\"')]*))\s*\)")

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


class _Refused(Exception):
    """Raised from a parser callback to stop at a DOCTYPE, before any declaration in it is read."""


def narrative_problems(div: str, expr: str) -> list[Problem]:
    """Check one ``xhtml`` value against the R4 narrative rules.

    :param div: the value, already known to be a string starting with ``<div``.
    :param expr: FHIRPath of the element, e.g. ``Patient.text.div``, for the messages.
    :return: each distinct problem once, in document order; empty when the narrative is fine.
    """
    scan = _Scan(expr)
    parser = ParserCreate(namespace_separator=" ")
    # Names arrive as "namespace local prefix", so messages can show `xlink:href`.
    parser.namespace_prefixes = True
    parser.buffer_text = True  # one text callback per run of text, not per line
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.text
    parser.ProcessingInstructionHandler = scan.instruction
    parser.CommentHandler = scan.comment
    parser.StartCdataSectionHandler = scan.cdata
    source = _NAMED_ENTITY.sub(_entity_as_number, div) if "&" in div else div
    try:
        parser.Parse(source, True)
    except _Refused:
        return [
            (
                "value",
                f"Narrative `{expr}` must not contain a DOCTYPE: entity declarations are refused in narrative.",
            )
        ]
    except ExpatError as error:
        reason = errors.messages[error.code] if error.code is not None else str(error)
        where = f"line {error.lineno}, column {error.offset + 1}"
        return [("value", f"Narrative `{expr}` is not well-formed XHTML: {reason} at {where}.")]
    if not scan.content:
        scan.add("invariant", f"Narrative `{expr}` has no non-whitespace content (txt-2).")
    return list(scan.problems)


def _refuse_doctype(*_args: object) -> None:
    raise _Refused


def _refuse_entity(*_args: object) -> None:
    raise _Refused  # unreachable behind the DOCTYPE refusal; kept so no declaration is ever honoured


def _entity_as_number(match: re.Match[str]) -> str:
    """Turn an XHTML named entity into a character reference; leave XML's own and unknown names."""
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    code = html.entities.name2codepoint.get(name)
    return match.group(0) if code is None else f"&#{code};"


def _split(name: str) -> tuple[str | None, str, str]:
    """Split an expat name into (namespace, local name, name as written)."""
    parts = name.split(" ")
    if len(parts) == 1:
        return None, name, name
    namespace, local = parts[0], parts[1]
    prefix = parts[2] if len(parts) == 3 else _PREFIXES.get(namespace)
    return namespace, local, f"{prefix}:{local}" if prefix else local


class _Scan:
    """Callbacks for one parse; collects problems in document order, each once."""

    __slots__ = ("content", "depth", "expr", "problems")

    def __init__(self, expr: str) -> None:
        self.expr = expr
        #: Problems as dict keys: ordered and without repeats (a table of 100 bad cells is one issue).
        self.problems: dict[Problem, None] = {}
        self.depth = 0
        #: Whether any non-whitespace text or an image has been seen (txt-2).
        self.content = False

    def add(self, code: str, diagnostics: str) -> None:
        self.problems[(code, diagnostics)] = None

    def start(self, name: str, attributes: dict[str, str]) -> None:
        # Fast path for the usual case, an allowed XHTML element below the root whose
        # attributes need no look at their values; this runs once per element of every write.
        local = _XHTML_NAMES.get(name)
        if local is None or self.depth == 0:
            local = self._unusual_start(name)
            if local is None:  # refused whole; its attributes would only add noise
                self.depth += 1
                return
        elif local == "img":
            self.content = True
        self.depth += 1
        for key, value in attributes.items():
            if key not in _PLAIN_ATTRIBUTES:
                self._attribute(local, key, value)

    def _unusual_start(self, name: str) -> str | None:
        """Check the root, or an element that is not allowed XHTML; return its local name unless refused."""
        namespace, local, shown = _split(name)
        expr = self.expr
        if self.depth == 0:
            if shown != "div":
                self.add("value", f"Narrative `{expr}` must have a `<div>` root element, not `<{shown}>`.")
            elif namespace != XHTML_NS:
                self.add(
                    "value",
                    f'Narrative `{expr}` must be in the XHTML namespace: its `<div>` needs `xmlns="{XHTML_NS}"`.',
                )
            return local
        if namespace != XHTML_NS:
            self.add("invariant", f"Element `<{shown}>` in narrative `{expr}` is not XHTML (txt-1).")
            return None
        if local in ALLOWED_ELEMENTS:  # allowed, written with a prefix: `<h:p xmlns:h="...xhtml">`
            self.content = self.content or local == "img"
            return local
        self.add("invariant", f"Element `<{local}>` is not allowed in narrative `{expr}` (txt-1).")
        return None

    def _attribute(self, element: str, key: str, value: str) -> None:
        namespace, name, shown = _split(key)
        expr = self.expr
        if namespace is not None:
            if namespace == _XML_NS and name in _XML_ATTRIBUTES:
                return
            self.add("invariant", f"Attribute `{shown}` on `<{element}>` is not allowed in narrative `{expr}` (txt-1).")
            return
        lowered = name.lower()
        if lowered.startswith("on"):
            self.add(
                "invariant",
                f"Event handler attribute `{name}` on `<{element}>` is not allowed in narrative `{expr}` (txt-1).",
            )
            return
        pair = (element, name)
        if name not in _GLOBAL_ATTRIBUTES and pair not in _ELEMENT_ATTRIBUTES:
            self.add("invariant", f"Attribute `{name}` on `<{element}>` is not allowed in narrative `{expr}` (txt-1).")
            return
        if name == "style":
            self._style(element, value)
        elif pair in _LINKS or pair == _LINKS_USEMAP:
            self._url(element, name, value, _LINK_SCHEMES, _LINK_FORMS)
        elif pair == _IMAGE_SOURCE:
            self._url(element, name, value, _IMAGE_SCHEMES, _IMAGE_FORMS)

    def _url(self, element: str, name: str, value: str, schemes: frozenset[str], forms: str) -> None:
        url = value.translate(_URL_IGNORED).strip(_URL_TRIMMED)
        match = _SCHEME.match(url)
        if match is None:
            return  # relative: `#id`, `Patient/1`, `page.html#x`
        scheme = match.group(1).lower()
        if scheme in schemes or (schemes is _IMAGE_SCHEMES and _inline_image(url)):
            return
        self.add(
            "invariant",
            f"Attribute `{name}` on `<{element}>` in narrative `{self.expr}` uses the `{scheme}:` scheme, "
            f"which is not allowed (txt-1): {forms}.",
        )

    def _style(self, element: str, value: str) -> None:
        css = value.lower()
        if "/*" in css:
            css = _CSS_COMMENT.sub("", css)  # `expr/**/ession(` is `expression(` to old IE
        found: str | None = None
        if "\\" in css:
            found = "\\"
        else:
            bad = _CSS_FORBIDDEN.search(css)
            if bad is not None:
                found = bad.group(0)
            else:
                found = _bad_css_url(css)
        if found is not None:
            self.add(
                "invariant",
                f"Attribute `style` on `<{element}>` in narrative `{self.expr}` contains `{found}`, which is not "
                "allowed (txt-1): style may not use CSS escapes, run script or load anything but an inline image.",
            )

    def end(self, _name: str) -> None:
        self.depth -= 1

    def text(self, data: str) -> None:
        if not self.content and data and not data.isspace():
            self.content = True

    # Clients often render narrative with an HTML parser (innerHTML), not an XML one, and
    # the two must not disagree about what is markup: an HTML parser ends `<!-->` and
    # `<!--->` at once and a CDATA section at its first `>`, so what XML reads as comment
    # or text, such as `<![CDATA[ > <img src=x onerror=...> ]]>`, would be live HTML.

    def comment(self, data: str) -> None:
        if data[:1] == ">" or data[:2] == "->":
            opening = "<!-->" if data[:1] == ">" else "<!--->"
            self.add(
                "invariant",
                f"A comment starting `{opening}` is not allowed in narrative `{self.expr}` (txt-1): "
                "HTML ends it at once, so what follows would be read as markup.",
            )

    def cdata(self) -> None:
        self.add(
            "invariant",
            f"CDATA sections are not allowed in narrative `{self.expr}` (txt-1): HTML does not read them as text; "
            "escape `<` and `&` instead.",
        )

    def instruction(self, target: str, _data: str) -> None:
        # `<?xml-stylesheet href=...?>` would be an external stylesheet reference.
        self.add(
            "invariant", f"Processing instruction `<?{target}?>` is not allowed in narrative `{self.expr}` (txt-1)."
        )


def _inline_image(url: str) -> bool:
    """Whether ``url`` is a ``data:`` URL of a raster image type (``data: image/png;base64,...``)."""
    if url[:5].lower() != "data:":
        return False
    media = url[5:].split(",", 1)[0].split(";", 1)[0].strip().lower()
    return media in _INLINE_IMAGE_TYPES


def _bad_css_url(css: str) -> str | None:
    """The first ``url(...)`` in lower-cased CSS that is neither an inline raster image nor a ``#fragment``."""
    for start in _CSS_URL_START.finditer(css):
        match = _CSS_URL.match(css, start.start())
        if match is None:
            return start.group(0)  # an unterminated url( is refused rather than guessed at
        target = (match.group(1) or match.group(2) or match.group(3) or "").strip()
        if not (target.startswith("#") or _inline_image(target)):
            return match.group(0) if len(match.group(0)) <= 60 else match.group(0)[:57] + "..."
    return None
