"""Checks that an answer is a page a Gigaset handset can show, against the tables of `gigaset.py`.

The element set, attributes, content model and styles are written down once, in
`privateline.services.devices.info.gigaset`; this module only walks a page and compares.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from privateline.services.devices.info import gigaset

PREFIX = "{" + gigaset.XHTML_NAMESPACE + "}"


def local(tag: str) -> str:
    assert tag.startswith(PREFIX), f"element {tag} is outside the XHTML namespace"
    return tag[len(PREFIX) :]


def problems(body: bytes) -> list[str]:
    """Everything about `body` that breaks XHTML-GP 2.0 or privateline's limits; empty if none."""
    found: list[str] = []
    if len(body) > gigaset.MAX_PAGE_BYTES:
        found.append(f"{len(body)} bytes, more than {gigaset.MAX_PAGE_BYTES}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [*found, "not UTF-8"]
    if not text.startswith(gigaset.XML_DECLARATION):
        found.append("does not start with the XML declaration")
    if gigaset.DOCTYPE not in text[:300]:
        found.append("has not the XHTML Mobile 1.2 DOCTYPE")
    try:
        root = ET.fromstring(body)  # noqa: S314 - privateline's own output
    except ET.ParseError as exc:
        return [*found, f"not well-formed XML: {exc}"]
    if local(root.tag) != "html":
        found.append("the root is not <html>")
    _walk(root, found)
    children = list(root)
    if [local(c.tag) for c in children] != ["head", "body"]:
        return [*found, "<html> holds other than one <head> and one <body>"]
    head, body_element = children
    if [local(c.tag) for c in head].count("title") != 1:
        found.append("<head> has not exactly one <title>")
    kinds = [local(c.tag) for c in body_element]
    if not (kinds and (set(kinds) == {"p"} or kinds in (["ul"], ["form"]))):
        found.append(f"<body> holds {kinds}: not paragraphs only, one <ul> or one <form>")
    return found


def _walk(element: ET.Element, found: list[str]) -> None:
    tag = local(element.tag)
    if tag not in gigaset.ELEMENTS:
        found.append(f"<{tag}> is not an XHTML-GP element")
        return
    for name, value in element.attrib.items():
        if name not in gigaset.ELEMENTS[tag]:
            found.append(f"<{tag}> has attribute {name}, not allowed by XHTML-GP")
        if not _latin1(value):
            found.append(f"<{tag} {name}> has characters outside ISO-8859-1")
    for child in element:
        if local(child.tag) not in gigaset.CHILDREN.get(tag, frozenset()):
            found.append(f"<{tag}> may not contain <{local(child.tag)}>")
    for piece in (element.text, element.tail):
        if piece and not _latin1(piece):
            found.append(f"text in <{tag}> has characters outside ISO-8859-1: {piece!r}")
    _check_element(tag, element, found)
    for child in element:
        _walk(child, found)


def _check_element(tag: str, element: ET.Element, found: list[str]) -> None:
    if "style" in element.attrib:
        for declaration in filter(None, (d.strip() for d in element.attrib["style"].split(";"))):
            prop, _, value = (part.strip() for part in declaration.partition(":"))
            if value not in gigaset.STYLES.get(prop, frozenset()):
                found.append(f"style {declaration!r} is not in XHTML-GP")
    if tag == "br" and (len(element) or (element.text or "").strip()):
        found.append("<br/> is not empty")
    if tag == "meta":
        if element.get("name") != "expires":
            found.append("<meta> other than expires")
        content = element.get("content", "")
        if not content.isdigit() or not (int(content) == 0 or 15 <= int(content) <= gigaset.MAX_EXPIRES):
            found.append(f"<meta expires> {content!r} outside 0, 15..86400")
    if tag == "a" and not (element.get("href") or "").startswith("/info/"):
        found.append(f"link {element.get('href')!r} leaves the Info Center")
    if tag == "form":
        if element.get("method") != "get":
            found.append("a form not sent with GET")
        submits = [i for i in element.iter(PREFIX + "input") if i.get("type") == "submit"]
        if len(submits) != 1:
            found.append(f"a form with {len(submits)} submit buttons")
        elif len(submits[0].get("value", "")) > gigaset.MAX_SUBMIT_LABEL:
            found.append(f"submit label {submits[0].get('value')!r} longer than {gigaset.MAX_SUBMIT_LABEL}")
    if tag == "input":
        if element.get("type") not in gigaset.INPUT_TYPES:
            found.append(f"input type {element.get('type')!r}")
        if "inputmode" in element.attrib and element.get("inputmode") not in gigaset.INPUT_MODES:
            found.append(f"inputmode {element.get('inputmode')!r}")
        if "maxlength" in element.attrib and not 1 <= int(element.get("maxlength", "0")) <= gigaset.MAX_INPUT_LENGTH:
            found.append(f"maxlength {element.get('maxlength')!r} outside 1..{gigaset.MAX_INPUT_LENGTH}")
        if element.get("type") == "text" and len(element.get("value", "")) > int(element.get("maxlength", "32")):
            found.append("a text field prefilled with more than its maxlength")


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def parse(body: bytes) -> ET.Element:
    """The page as an element tree, after asserting it is a valid XHTML-GP page."""
    assert problems(body) == []
    return ET.fromstring(body)  # noqa: S314 - privateline's own output


def text_of(root: ET.Element) -> str:
    """All text of the page, as one string with single spaces."""
    return " ".join(" ".join(root.itertext()).split())
