"""The sample deployment in deploy/ agrees with the code: the commands the systemd units run parse
as ``sanshe`` commands, nginx streams the app's real event route unbuffered for longer than its
keep-alive, the proxy headers reach every location, and nginx, systemd and Prometheus name the
same instances."""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dispatch.app import create_app
from dispatch.cli import build_parser, cmd_migrate, cmd_serve
from dispatch.live.api import KEEPALIVE_SECONDS
from dispatch.ops.api import router as metrics_router
from dispatch.settings import ServerSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NGINX = DEPLOY / "nginx" / "sanshe.conf"
INSTANCE = DEPLOY / "systemd" / "sanshe@.service"
MIGRATE = DEPLOY / "systemd" / "sanshe-migrate.service"
PROMETHEUS = DEPLOY / "prometheus.yml"


# --- nginx: a small parser of its block syntax ------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    children: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        return [c for c in self.children if c.name == name]

    def one(self, name: str) -> Directive:
        (found,) = self.all(name)
        return found

    def location(self, *args: str) -> Directive:
        (found,) = [c for c in self.all("location") if c.args == list(args)]
        return found


_TOKEN = re.compile(r'"[^"]*"|[{};]|[^\s{};"]+')


def parse_nginx(text: str) -> Directive:
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    root = Directive("main", [])
    stack, words = [root], []
    for token in _TOKEN.findall(text):
        if token == ";":
            stack[-1].children.append(Directive(words[0], words[1:]))
            words = []
        elif token == "{":
            block = Directive(words[0], words[1:])
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token.strip('"'))
    assert len(stack) == 1 and not words, "unbalanced braces"
    return root


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value).groups()
    return int(number) * units[unit or "s"]


def megabytes(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG])?", value).groups()
    return int(number) * {"k": 1 / 1024, "m": 1, "g": 1024, "": 1 / (1024 * 1024)}[(unit or "").lower()]


@pytest.fixture(scope="module")
def nginx() -> Directive:
    return parse_nginx(NGINX.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def https(nginx: Directive) -> Directive:
    (server,) = [s for s in nginx.all("server") if any("ssl" in d.args for d in s.all("listen"))]
    return server


@pytest.fixture(scope="module")
def routes() -> set[tuple[str, str]]:
    """(method, path) the app answers: its OpenAPI document, and /metrics (left out of it)."""
    app = create_app(Settings())  # routes only: no lifespan, no database
    documented = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    return documented | {(m, r.path) for r in metrics_router.routes for m in r.methods}


def upstream_ports(nginx: Directive) -> list[int]:
    (upstream,) = nginx.all("upstream")
    return [int(s.args[0].rsplit(":", 1)[1]) for s in upstream.all("server")]


def test_nginx_serves_tls_and_redirects_plain_http(nginx: Directive, https: Directive) -> None:
    assert https.one("ssl_certificate").args and https.one("ssl_certificate_key").args
    plain = [s for s in nginx.all("server") if s is not https]
    assert plain and all(s.one("return").args[0] == "301" for s in plain)


def test_the_event_stream_goes_out_unbuffered_and_outlasts_the_keepalive(
    https: Directive, routes: set[tuple[str, str]]
) -> None:
    sse = https.location("=", "/api/v1/events")
    assert ("GET", "/api/v1/events") in routes  # the app's stream is at that path
    assert sse.one("proxy_buffering").args == ["off"]
    assert sse.one("proxy_pass").args == ["http://sanshe"]
    # A quiet stream still sends a comment every KEEPALIVE_SECONDS: nginx must wait well past that.
    assert seconds(sse.one("proxy_read_timeout").args[0]) >= 4 * KEEPALIVE_SECONDS


def test_every_proxied_location_forwards_the_client_address(https: Directive) -> None:
    headers = {d.args[0].lower(): d.args[1] for d in https.all("proxy_set_header")}
    assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for"
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-request-id"] == "$request_id"
    for location in https.all("location"):
        if location.all("proxy_pass"):
            # One proxy_set_header in a location would drop all the inherited ones.
            assert not location.all("proxy_set_header"), location.args


def test_sign_ins_are_rate_limited_per_address(
    nginx: Directive, https: Directive, routes: set[tuple[str, str]]
) -> None:
    token = https.location("=", "/api/v1/auth/token")
    assert ("POST", "/api/v1/auth/token") in routes
    zone = dict(a.split("=", 1) for a in token.one("limit_req").args if "=" in a)["zone"]
    (declared,) = [z for z in nginx.all("limit_req_zone") if f"zone={zone}:" in " ".join(z.args)]
    assert declared.args[0] == "$binary_remote_addr"
    assert token.one("limit_req_status").args == ["429"]


def test_the_body_limit_matches_the_servers(https: Directive) -> None:
    # [server] max_body_mb where this version has it (1 MB by default), else the 1 MB it documents.
    limit = getattr(ServerSettings(), "max_body_mb", 1.0)
    assert megabytes(https.one("client_max_body_size").args[0]) == pytest.approx(limit)


def test_metrics_are_not_served_to_the_outside(https: Directive, routes: set[tuple[str, str]]) -> None:
    assert ("GET", "/metrics") in routes
    metrics = https.location("=", "/metrics")
    assert metrics.one("return").args == ["404"] and not metrics.all("proxy_pass")


# --- systemd: INI files whose keys may repeat ------------------------------------------------


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], defaultdict(list))
            continue
        assert current is not None and "=" in line, f"{path.name}: {raw!r}"
        key, value = line.split("=", 1)
        current[key.strip()].append(value.strip())
    return sections


def environment(service: dict[str, list[str]]) -> dict[str, str]:
    pairs = [p for value in service["Environment"] for p in shlex.split(value)]
    return dict(p.split("=", 1) for p in pairs)


def sanshe_command(exec_start: str, port: int | None = None):
    argv = shlex.split(exec_start.replace("%i", str(port)) if port else exec_start)
    assert Path(argv[0]).name == "sanshe", argv
    return argv[0], build_parser().parse_args(argv[1:])


def test_each_instance_serves_its_port_after_the_migration(nginx: Directive) -> None:
    unit = parse_unit(INSTANCE)
    service = unit["Service"]
    for port in upstream_ports(nginx):  # every instance nginx sends to is this unit on that port
        _, args = sanshe_command(service["ExecStart"][0], port)
        assert args.handler is cmd_serve and args.port == port and args.host == "127.0.0.1"
    for key in ("Requires", "After"):
        assert "sanshe-migrate.service" in " ".join(unit["Unit"][key]).split()
    env = environment(service)
    assert env["SANSHE_CONFIG"]
    # The metrics directory is the one systemd creates empty at each start of the instance.
    (runtime,) = service["RuntimeDirectory"]
    assert env["PROMETHEUS_MULTIPROC_DIR"] == f"/run/{runtime}" and "%i" in runtime
    assert service["KillSignal"] == ["SIGTERM"]  # a clean stop releases the tracking lease


def test_the_migration_runs_once_with_the_instances_configuration() -> None:
    migrate, instance = parse_unit(MIGRATE)["Service"], parse_unit(INSTANCE)["Service"]
    assert migrate["Type"] == ["oneshot"] and migrate["RemainAfterExit"] == ["yes"]
    binary, args = sanshe_command(migrate["ExecStart"][0])
    assert args.handler is cmd_migrate and args.revision == "head"
    # The same code, configuration and secrets as the instances: it migrates their database.
    assert binary == shlex.split(instance["ExecStart"][0])[0]
    assert environment(migrate)["SANSHE_CONFIG"] == environment(instance)["SANSHE_CONFIG"]
    assert migrate["EnvironmentFile"] == instance["EnvironmentFile"]
    assert migrate["User"] == instance["User"]


# --- Prometheus and the README ---------------------------------------------------------------


def test_prometheus_scrapes_every_instance(nginx: Directive, routes: set[tuple[str, str]]) -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sanshe"]
    assert ("GET", job["metrics_path"]) in routes
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    # Each instance directly (127.0.0.1 is in the default [metrics] allow), none through nginx.
    assert sorted(int(t.rsplit(":", 1)[1]) for t in targets) == sorted(upstream_ports(nginx))
    assert all(t.startswith("127.0.0.1:") for t in targets)


def test_the_readme_guides_a_production_deployment() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = readme[readme.index("## Running in production") :]
    guide = guide[: guide.index("\n## ", 1)]
    for path in (NGINX, INSTANCE, MIGRATE, PROMETHEUS):
        assert f"({path.relative_to(ROOT)})" in guide, f"the guide does not link {path.name}"
    for words in ("sanshe migrate", "pg_dump", "PROMETHEUS_MULTIPROC_DIR", "log_format", "trusted_proxies"):
        assert words in guide
