"""The spec's two formats: JSON (a list at the top, an object for a service definition) and XML
(``<services><service>``, ``<service_requests><request>``, ``<service_definition>``,
``<errors><error>``), UTF-8 with the XML declaration. Pure: bytes and a media type.

XML 1.0 cannot carry most control characters, which a resident's description may hold (a pasted
text); they are left out of the XML, so every answer parses.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Literal

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# A list's element name inside its parent (the spec's nesting).
_SINGULAR = {"attributes": "attribute", "values": "value"}
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        child = ET.SubElement(element, name)
        if isinstance(value, list):
            for entry in value:
                _fill(ET.SubElement(child, _SINGULAR.get(name, "item")), entry)
        else:
            child.text = _text(value)


def _xml(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def listing(fmt: Format, rows: list[dict[str, Any]], *, root: str, item: str) -> tuple[bytes, str]:
    """A list: ``[{…}, …]`` or ``<root><item>…</item>…</root>``."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False).encode(), MEDIA_TYPES[fmt]
    top = ET.Element(root)
    for row in rows:
        _fill(ET.SubElement(top, item), row)
    return _xml(top), MEDIA_TYPES[fmt]


def single(fmt: Format, fields: dict[str, Any], *, root: str) -> tuple[bytes, str]:
    """One object: ``{…}`` or ``<root>…</root>`` (a service definition)."""
    if fmt == "json":
        return json.dumps(fields, ensure_ascii=False).encode(), MEDIA_TYPES[fmt]
    top = ET.Element(root)
    _fill(top, fields)
    return _xml(top), MEDIA_TYPES[fmt]


def errors(fmt: Format, status: int, description: str) -> tuple[bytes, str]:
    """The spec's error answer: ``[{"code", "description"}]`` or ``<errors><error>``; the code is
    the HTTP status."""
    return listing(fmt, [{"code": status, "description": description}], root="errors", item="error")


def format_of(path: str) -> Format:
    """The format a path asks for (``….xml``); JSON for anything else, an unknown one included."""
    return "xml" if path.rsplit("/", 1)[-1].lower().endswith(".xml") else "json"
