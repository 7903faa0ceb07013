"""What the Open311 tests share: a request's form, reading the spec's errors in either format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

# A resident's request as an application sends it: her name, number and door are in it.
RESIDENT = {"last_name": "王", "first_name": "秀英", "phone": "13800138000"}
EXACT_ADDRESS = "阳光花园3幢501室"
FORM = {
    "service_code": "HOME-01",
    "address_string": EXACT_ADDRESS,
    "description": "王秀英家厨房水管漏水，联系电话13800138000，住501室",
    **RESIDENT,
}


def spec_error(response: Any) -> tuple[int, str]:
    """(code, description) of the spec's error answer, JSON or XML, after checking its shape."""
    media = response.headers["content-type"]
    if response.request.url.path.endswith(".xml"):
        assert media.startswith("text/xml"), media
        root = ET.fromstring(response.content)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"], response.text
        error = root.find("error")
        return int(error.findtext("code")), error.findtext("description")
    assert media.startswith("application/json"), media
    body = json.loads(response.content)
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}, body
    assert body[0]["code"] == response.status_code
    return body[0]["code"], body[0]["description"]


def xml_requests(response: Any) -> list[dict[str, str]]:
    """``<service_requests><request>…`` as dicts of text (empty elements: "")."""
    root = ET.fromstring(response.content)
    assert root.tag == "service_requests", response.text
    return [{child.tag: child.text or "" for child in request} for request in root.findall("request")]
