"""Real Open311 clients from PyPI against a real ``sanshe serve``, in JSON and in XML.

No Python client on PyPI does everything in both formats, so two are used, each for what it does:
- ``georeport`` (GeoReport v2 reads; JSON and XML, XML parsed with xmltodict): lists services,
  reads a definition, lists requests and reads one, in both formats. It cannot POST.
- ``civicbot`` (its ``open311.Open311Client``; JSON only): checks a request against the live
  service list and definition, POSTs it with an API key, reads it back by id, in a list, and
  follows a token.
A POST answered in XML and a token read in XML, which neither client does, are checked with
httpx. (``three`` and ``open311`` on PyPI are Python 2 only and do not import.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from civicbot.http import HttpError
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

from dispatch.db import make_engine, make_sessionmaker
from models import Role
from tests.factories import bearer, load_catalogue, make_small_district, make_user
from tests.support.open311 import FORM, xml_requests
from tests.support.serve import sanshe_env, served

SECRET = "open311-client-test-secret-0123456789"


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A served database with the catalogue and the small district, and an API key an admin issued
    over the API; (the Open311 root, the key)."""
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        load_catalogue(session)
        make_small_district(session)
        admin = make_user(session, role=Role.ADMIN)
        session.commit()
        headers = bearer(admin, SimpleNamespace(auth=SimpleNamespace(jwt_secret=SECRET)))
    engine.dispose()
    env = sanshe_env(
        SANSHE_DATABASE_URL=db_url, SANSHE_AUTH__JWT_SECRET=SECRET, SANSHE_OPEN311__ENABLED="true"
    )
    with served(env, tmp_path) as running:
        r = httpx.post(
            f"{running.base}/api/v1/open311/keys",
            json={"name": "街道微信小程序"},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        yield f"{running.base}/open311/v2", r.json()["key"]


def civicbot(root: str) -> Open311Client:
    return Open311Client(Endpoint(id="sanshe", name="sanshe", base_url=root, write=True), fmt="json")


def test_clients_list_define_post_and_read_back_in_json_and_xml(server: tuple[str, str]) -> None:
    root, key = server

    # Services and a definition, in both formats (georeport).
    for fmt in ("json", "xml"):
        client = GeoReport(root, output_format=fmt)
        services = {s["service_code"]: s for s in client.get_service_list()}
        assert services["HOME-04"]["service_name"] == "开锁换锁"
        assert str(services["HOME-04"]["metadata"]).lower() == "true"
        definition = client.get_service_definition("HOME-01")
        attributes = definition["attributes"]
        if fmt == "xml":  # xmltodict: <attributes><attribute>…, a dict for a single one
            attributes = attributes["attribute"]
            attributes = attributes if isinstance(attributes, list) else [attributes]
        assert "preferred_time" in {a["code"] for a in attributes}

    # A request POSTed with the key, checked against the live definition first (civicbot, JSON).
    bot = civicbot(root)
    sent = bot.create_request(
        "HOME-01",
        dry_run=False,
        confirm="SEND",
        api_key=key,
        validate_remote=True,
        address_string="阳光花园3幢",
        description="厨房水管漏水",
        phone=FORM["phone"],
        first_name="秀英",
        last_name="王",
        attributes={"preferred_time": "afternoon"},
        device_id="wx-openid-1",
    )
    [answer] = sent.response
    number = answer["service_request_id"]
    assert number and "已受理" in answer["service_notice"]

    # Read back by id and in a list: civicbot (JSON), georeport (JSON and XML).
    assert bot.get_request(number)["service_request_id"] == number
    assert [r["service_request_id"] for r in bot.list_requests(service_request_ids=[number])] == [number]
    for fmt in ("json", "xml"):
        client = GeoReport(root, output_format=fmt)
        one = client.get_service_request(number)
        assert one["service_request_id"] == number and one["status"] == "open"
        assert one["address"] == "翠苑街道 翠苑一区社区" and "秀英" not in str(one)
        listed = client.get_service_requests(service_request_id=number)
        listed = listed if isinstance(listed, list) else [listed]
        assert [r["service_request_id"] for r in listed] == [number]
        assert number in {
            r["service_request_id"]
            for r in (lambda x: x if isinstance(x, list) else [x])(client.get_service_requests(status="open"))
        }

    # A place the gazetteer does not know: a token, followed by civicbot.
    waiting = bot.create_request(
        "HOME-02", dry_run=False, confirm="SEND", api_key=key, address_string="火星基地", phone="13900139000"
    ).response[0]
    assert "service_request_id" not in waiting
    assert bot.get_token(waiting["token"]) == [{"service_request_id": None, "token": waiting["token"]}]

    # What neither client does: a POST answered in XML, a token read in XML.
    r = httpx.post(f"{root}/requests.xml", data={"api_key": key, **FORM}, timeout=30)
    assert r.status_code == 201 and r.headers["content-type"] == "text/xml; charset=utf-8"
    [made] = xml_requests(r)
    assert made["service_request_id"] != number
    r = httpx.get(f"{root}/tokens/{waiting['token']}.xml", timeout=30)
    assert xml_requests(r) == [{"service_request_id": "", "token": waiting["token"]}]

    # A wrong key: the client sees the spec's 403.
    with pytest.raises(HttpError) as refused:
        bot.create_request(
            "HOME-01",
            dry_run=False,
            confirm="SEND",
            api_key="s311_wrong",
            address_string="阳光花园",
            phone="13900139000",
        )
    assert refused.value.status == 403
    assert json.loads(refused.value.body) == [{"code": 403, "description": "api_key 无效：请核对接口密钥"}]
