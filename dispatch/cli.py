"""The ``sanshe`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from dispatch import __version__
from dispatch.settings import ConfigError, Settings, load_settings


class CliError(Exception):
    """A failure to report in one line and exit non-zero."""


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"sanshe: {message}", file=sys.stderr)
    raise SystemExit(code)


def _settings() -> Settings:
    return load_settings()


def cmd_version(_: argparse.Namespace) -> None:
    print(f"sanshe {__version__}")


def cmd_migrate(args: argparse.Namespace) -> None:
    from dispatch import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}: {_safe_url(settings.database_url)}")
    if args.revision == "head":
        from dispatch.context import AppContext
        from dispatch.db import transaction
        from dispatch.timelimits.calendar import library_years, seed_calendar

        ctx = AppContext.build(settings)
        try:
            with transaction(ctx.sessions) as session:
                added = seed_calendar(session, library_years())
                coverage = ctx.caches.calendars.coverage(session, ctx.clock.now())
        finally:
            ctx.close()
        years = library_years()
        print(f"working-day calendar: {added} days added from chinese-calendar ({min(years)}–{max(years)})")
        print(
            f"working-day calendar: official until {coverage.official_until} ({coverage.days_left} days left)"
        )
        if coverage.warning:
            print(f"sanshe: warning: {coverage.warning}", file=sys.stderr)


def cmd_seed_demo(_: argparse.Namespace) -> None:
    from dispatch.clock import Clock
    from dispatch.context import AppContext
    from dispatch.db import transaction
    from dispatch.seed.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo

    settings = _settings()
    if settings.environment == "production":
        raise CliError(
            f"seed-demo creates staff accounts whose password ({DEMO_PASSWORD!r}) is published: "
            'refused with environment = "production"'
        )
    ctx = AppContext.build(settings)
    _require_current_schema(ctx)
    with transaction(ctx.sessions) as session:
        report = seed_demo(session, now=Clock().now())
    counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
    print(("seeded demo data: " if report.created else "demo data already present: ") + counts)
    print(f"demo-only staff accounts (password {DEMO_PASSWORD!r}):")
    for username, role, note in DEMO_USERS:
        print(f"  {username:<12} {role:<11} {note}")
    ctx.close()


def _read_password() -> str:
    """The new account's password, never from the command line (which shell history and the
    process list keep): asked twice on a terminal, else the first line of standard input."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("密码 / password: ")
        if getpass.getpass("再输入一次 / again: ") != first:
            raise CliError("两次输入的密码不一致 / the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CliError("没有读到密码 / no password on standard input (one line)")
    return line.rstrip("\r\n")


def cmd_user_add(args: argparse.Namespace) -> None:
    from dispatch.auth.users import UserError, create_user
    from dispatch.context import AppContext
    from dispatch.db import transaction

    password = args.password if args.password is not None else _read_password()
    ctx = AppContext.build(_settings())
    _require_current_schema(ctx)
    try:
        with transaction(ctx.sessions) as session:
            user = create_user(
                session,
                username=args.name,
                role=args.role,
                password=password,
                provider_id=args.provider,
                display_name=args.display_name or args.name,
                extension=args.extension,
            )
    except UserError as exc:
        raise CliError(str(exc)) from None
    finally:
        ctx.close()
    print(f"user {user.username} ({user.role.value}) created with id {user.id}")


def cmd_catalogue_import(args: argparse.Namespace) -> None:
    from dispatch.catalogue.csvio import CatalogueFormatError, read_catalogue
    from dispatch.catalogue.service import import_catalogue
    from dispatch.context import AppContext
    from dispatch.db import transaction

    try:
        rows = read_catalogue(args.file)
    except (OSError, CatalogueFormatError) as exc:
        raise CliError(f"{args.file}: {exc}") from None
    ctx = AppContext.build(_settings())
    _require_current_schema(ctx)
    try:
        with transaction(ctx.sessions) as session:
            report = import_catalogue(session, rows)
    finally:
        ctx.close()
    print(
        f"categories: {report.categories_created} created, {report.categories_updated} updated; "
        f"items: {report.items_created} created, {report.items_updated} updated"
    )


def cmd_catalogue_export(args: argparse.Namespace) -> None:
    from dispatch.catalogue.csvio import format_catalogue
    from dispatch.catalogue.service import export_rows
    from dispatch.context import AppContext

    ctx = AppContext.build(_settings())
    _require_current_schema(ctx)
    try:
        with ctx.sessions() as session:
            text = format_catalogue(export_rows(session))
    finally:
        ctx.close()
    if args.file in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.file, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        print(f"wrote {text.count(chr(10)) - 1} items to {args.file}")


def cmd_eval_intake(args: argparse.Namespace) -> None:
    import time

    from dispatch.catalogue.csvio import read_catalogue
    from dispatch.catalogue.evaluate import evaluate, format_result, read_eval_csv
    from dispatch.catalogue.suggest import ItemText, Suggester

    try:
        rows = read_eval_csv(args.file)
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"{args.file}: {exc}") from None
    if args.from_db:
        from dispatch.catalogue.index import load_item_texts
        from dispatch.context import AppContext

        ctx = AppContext.build(_settings())
        _require_current_schema(ctx)
        with ctx.sessions() as session:
            items = load_item_texts(session)
        ctx.close()
    else:
        items = [ItemText.from_row(r) for r in read_catalogue()]
    suggester = Suggester(items)
    started = time.perf_counter()
    result = evaluate(suggester, rows)
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(format_result(result))
    print(f"mean time per request: {elapsed_ms / max(1, result.n):.2f} ms")


def cmd_eval_geocode(args: argparse.Namespace) -> None:
    from dispatch.context import AppContext
    from dispatch.geo.evaluate import evaluate_geocoder
    from dispatch.geo.gazetteer import Gazetteer

    ctx = AppContext.build(_settings())
    _require_current_schema(ctx)
    with ctx.sessions() as session:
        gazetteer = Gazetteer.load(session)
    ctx.close()
    if not gazetteer.places:
        raise CliError(
            "the gazetteer is empty: run `sanshe seed-demo` or import your district's places first"
        )
    print(evaluate_geocoder(gazetteer, per_compound=args.per_compound).format())


def cmd_dispatch_batch(_: argparse.Namespace) -> None:
    from dispatch.context import AppContext
    from dispatch.db import transaction
    from dispatch.orders.batch import run_batch

    ctx = AppContext.build(_settings())
    _require_current_schema(ctx)
    try:
        with transaction(ctx.sessions) as session:
            report = run_batch(
                session, ctx=ctx.dispatch_context(session), now=ctx.clock.now(), actor="cli:batch"
            )
    finally:
        ctx.close()
    print(
        f"{report.orders} waiting orders: {len(report.assigned)} offered, {len(report.unassigned)} without a "
        f"free eligible provider, {len(report.failed)} failed; total {report.total_km:.1f} km "
        f"(greedy nearest-first: {report.greedy_km:.1f} km for {report.greedy_assigned} orders)"
    )
    for number, reason in report.failed.items():
        print(f"  {number}: {reason}")


BENCHES = ("suggest", "dispatch", "intake", "tracking", "stats", "telephony", "login-flood", "scale")


def cmd_uploads_sweep(args: argparse.Namespace) -> None:
    from datetime import timedelta
    from pathlib import Path

    from dispatch.context import AppContext
    from dispatch.db import transaction
    from dispatch.orders.upload_sweep import sweep

    settings = _settings()
    ctx = AppContext.build(settings)
    _require_current_schema(ctx)
    root = Path(settings.uploads.dir)
    older_than = ctx.clock.now() - timedelta(minutes=args.older_than_minutes)
    with transaction(ctx.sessions) as session:
        result = sweep(session, root, older_than=older_than, dry_run=args.dry_run)
    for relative in result.removed:
        print(relative)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {len(result)} orphan file(s) under {root}; kept {result.kept}", file=sys.stderr)


def cmd_bench(args: argparse.Namespace) -> None:
    import platform

    chosen = BENCHES if args.which == "all" else (args.which,)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for name in chosen:
        print(f"\n== {name} ==", flush=True)
        if name == "suggest":
            from dispatch.benchmarks.suggest import bench_suggest, format_suggest

            print(format_suggest(bench_suggest()))
        elif name == "dispatch":
            from dispatch.benchmarks.dispatch import bench_matching, format_table

            sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
            print(format_table(bench_matching(sizes=sizes, queries=200 if args.quick else 500)))
        elif name == "login-flood":
            from dispatch.benchmarks.login_flood import bench_login_flood, format_login_flood

            print(format_login_flood(bench_login_flood(seconds=3.0 if args.quick else 8.0)))
        elif name == "intake":
            from dispatch.benchmarks.intake import bench_intake, format_intake

            print(format_intake(bench_intake(seconds=3.0 if args.quick else 10.0)))
        elif name == "stats":
            from dispatch.benchmarks.stats import bench_stats, format_stats

            orders = 100_000 if args.quick else 1_000_000
            print(format_stats(bench_stats(orders=orders, backend_url=args.database_url)), flush=True)
        elif name == "telephony":
            from dispatch.app import create_app
            from dispatch.benchmarks.telephony import bench_telephony, format_telephony

            print(format_telephony(bench_telephony(create_app, calls=100 if args.quick else 300)))
        elif name == "scale":
            from dispatch.benchmarks.scale import bench_scale, format_scale

            result = bench_scale(
                database_url=args.database_url, seconds=4.0 if args.quick else 10.0, pops=200
            )
            print(format_scale(result))
        elif name == "tracking":
            from dispatch.benchmarks.tracking import bench_tracking, format_tracking

            print(
                format_tracking(
                    bench_tracking(
                        open_orders=10_000 if args.quick else 100_000, database_url=args.database_url
                    )
                )
            )


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn
    from sqlalchemy.engine import make_url

    from dispatch.app import create_app
    from dispatch.redact import serve_logging_config

    overrides: dict[str, object] = {}
    if args.no_tracking:
        overrides["tracking_loop"] = False
    if args.no_simulator:
        overrides["simulator"] = False
    if args.port:
        overrides["port"] = args.port
    if args.workers:
        overrides["workers"] = args.workers
    settings = _settings()
    if overrides:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=overrides)})
    workers = settings.server.workers
    if workers > 1 and make_url(settings.database_url).get_backend_name() == "sqlite":
        _fail(
            f"--workers {workers}：SQLite 同一时间只允许一个进程写入，多个工作进程只会互相等待写锁，"
            "请使用 PostgreSQL 或只运行一个进程。 / SQLite has one writer at a time: several worker "
            "processes would only queue on its write lock; use PostgreSQL for more than one worker.",
            2,
        )
    trusted = settings.server.trusted_proxies
    log_format = settings.server.log_format
    options = dict(
        host=args.host or settings.server.host,
        port=settings.server.port,
        log_level="info",
        # Each handler redacting secrets (a ticket in a request line…); JSON lines with the
        # request id when [server] log_format = "json".
        log_config=serve_logging_config(log_format),
        # JSON: the app writes the access lines (with the request id and the duration).
        access_log=log_format == "text",
        timeout_graceful_shutdown=5,
        # The client address in the access log follows the app's rule: X-Forwarded-For only from
        # [server] trusted_proxies (uvicorn's default would believe it from 127.0.0.1).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Each worker builds its app from the configuration file and the environment, as this process
    # did: the command line's choices travel as the variables that say the same.
    for key, value in overrides.items():
        os.environ[f"SANSHE_SERVER__{key.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    uvicorn.run("dispatch.app:create_app", factory=True, workers=workers, **options)


def cmd_simulate_calls(args: argparse.Namespace) -> None:
    import time

    import httpx
    from sqlalchemy import select

    from dispatch.auth.security import issue_token
    from dispatch.context import AppContext
    from models import Role, User
    from telephony import simulator, simulator_http

    if args.rate <= 0 or args.speed <= 0 or (args.duration is not None and args.duration <= 0):
        raise CliError("--rate, --speed and --duration must be positive")
    settings = _settings()
    url = (args.url or f"http://{settings.server.host}:{settings.server.port}").rstrip("/")
    ctx = AppContext.build(settings)
    try:
        _require_current_schema(ctx)
        with ctx.sessions() as session:
            admin = session.scalar(
                select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id).limit(1)
            )
            operators, callers = simulator.load_directory(session)
    finally:
        ctx.close()
    if admin is None:
        _fail("no active admin user in the database: add one with `sanshe user add NAME --role admin`", 2)
    if not operators:
        _fail(
            "no active operator with an extension: add one with `sanshe user add NAME --role operator --extension N`",
            2,
        )
    token = issue_token(
        user_id=admin.id,
        role=admin.role.value,
        version=admin.token_version,
        secret=settings.auth.jwt_secret,
        now=ctx.clock.now(),
        minutes=24 * 60,
    )
    client = simulator_http.http_client(url, token)
    try:
        client.get("/health").raise_for_status()
    except httpx.HTTPError as exc:
        _fail(f"the server at {url} is not reachable ({exc}): start it with `sanshe serve` or pass --url", 2)

    tally = simulator_http.CallTally(settings.locale.timezone)
    sink = simulator_http.HttpEventSink(
        client, report=lambda m: print(m, file=sys.stderr), on_ended=lambda e: print(tally.add(e), flush=True)
    )
    sim = simulator.CallSimulator(
        sink,
        operators=operators,
        callers=callers,
        calls_per_minute=args.rate,
        seed=args.seed,
        timezone=settings.locale.timezone,
        speed=args.speed,
        clock=ctx.clock.now,
    )
    print(
        f"simulating {args.rate:g} calls/min at {args.speed:g}x to {url}{simulator_http.INGEST_PATH}: "
        f"{len(operators)} operator extensions, {len(callers)} resident numbers (Ctrl-C to stop)",
        flush=True,
    )
    if args.rate * 0.8 * 3.8 > 0.8 * len(operators):  # ~3.8 min per answered call: queue overloaded
        print(
            f"note: {len(operators)} operators cannot answer {args.rate:g} calls/min; expect many unanswered"
        )
    sim.start()
    try:
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while not sink.fatal.is_set() and (deadline is None or time.monotonic() < deadline):
            sink.fatal.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        if not sink.fatal.is_set():
            print(
                f"no new calls; waiting for {sim.calls_in_progress} in progress to end (Ctrl-C to stop now)"
            )
            sim.drain()
            while not sink.fatal.is_set() and not sim.wait_until_idle(0.2):
                pass
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        sim.stop()
        client.close()
    print(f"{tally.summary()}; events posted {sink.posted}, failed {sink.failed}")
    if sink.fatal.is_set():
        raise CliError(f"stopped: {sink.fatal_reason}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _require_current_schema(ctx: object) -> None:
    from dispatch import migrate

    if not migrate.is_current(ctx.engine):  # type: ignore[attr-defined]
        raise CliError("the database is not migrated to the latest version: run `sanshe migrate` first")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sanshe", description="Community-service call centre backend.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], None], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    add("version", cmd_version, "print the version")

    p = add("serve", cmd_serve, "serve the API and console")
    p.add_argument("--host", help="address to listen on (default: [server] host)")
    p.add_argument("--port", type=int, help="port to listen on (default: [server] port)")
    p.add_argument("--no-tracking", action="store_true", help="do not run the tracking loop in this process")
    p.add_argument("--no-simulator", action="store_true", help="do not start the telephony simulator")
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes (default: [server] workers; more than 1 needs PostgreSQL)",
    )

    p = add("migrate", cmd_migrate, "upgrade the database schema")
    p.add_argument("--revision", default="head", help="target revision (default: head)")

    add("seed-demo", cmd_seed_demo, "load the demo district, providers, residents and history (once)")

    p = add("catalogue", lambda a: None, "import or export the service catalogue (CSV)")
    cat_sub = p.add_subparsers(dest="catalogue_command", required=True, metavar="ACTION")
    ci = cat_sub.add_parser("import", help="create or update categories and items from a CSV file")
    ci.set_defaults(handler=cmd_catalogue_import)
    ci.add_argument("file", help="CSV laid out like dispatch/catalogue/data/catalogue.csv")
    ce = cat_sub.add_parser("export", help="write the catalogue as CSV")
    ce.set_defaults(handler=cmd_catalogue_export)
    ce.add_argument("file", nargs="?", help="output file (default: standard output)")

    p = add("eval-intake", cmd_eval_intake, "measure category suggestion on a labelled CSV (text,acceptable)")
    p.add_argument("file", help="CSV with columns text and acceptable (item codes separated by |)")
    p.add_argument("--from-db", action="store_true", help="use the database's catalogue (with admin edits)")

    p = add(
        "eval-geocode", cmd_eval_geocode, "measure offline geocoding on the gazetteer's own addresses, varied"
    )
    p.add_argument("--per-compound", type=int, default=3, help="buildings sampled per compound (default 3)")

    p = add("dispatch", lambda a: None, "dispatch operations")
    d_sub = p.add_subparsers(dest="dispatch_command", required=True, metavar="ACTION")
    db_ = d_sub.add_parser("batch", help="offer every waiting order at once, minimising total distance")
    db_.set_defaults(handler=cmd_dispatch_batch)

    p = add("uploads", lambda a: None, "photo and signature storage")
    up_sub = p.add_subparsers(dest="uploads_command", required=True, metavar="ACTION")
    us = up_sub.add_parser(
        "sweep", help="remove files under [uploads] dir that no photo or signature points at"
    )
    us.set_defaults(handler=cmd_uploads_sweep)
    us.add_argument(
        "--older-than-minutes",
        type=int,
        default=60,
        help="only files last written before this many minutes ago (default 60: an upload may be in flight)",
    )
    us.add_argument("--dry-run", action="store_true", help="list them, remove nothing")

    p = add("bench", cmd_bench, "run the benchmarks (speed is measured here, not in the tests)")
    p.add_argument(
        "which", nargs="?", default="all", choices=["all", *BENCHES], help="which benchmark (default all)"
    )
    p.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs")
    p.add_argument(
        "--database-url",
        help="run the database benchmarks (tracking, stats, scale) on this empty database instead of a temporary SQLite file (scale: a temporary PostgreSQL cluster)",
    )

    p = add(
        "simulate-calls", cmd_simulate_calls, "post simulated hotline calls to a running server (dev, demo)"
    )
    p.add_argument("--rate", type=float, required=True, help="calls started per (simulated) minute")
    p.add_argument("--duration", type=float, help="real seconds to start calls for (default: until Ctrl-C)")
    p.add_argument("--speed", type=float, default=1.0, help="time compression, e.g. 10 (default 1)")
    p.add_argument("--seed", type=int, help="random seed, for a repeatable run")
    p.add_argument("--url", help="server base URL (default: http://[server] host:port)")

    p = add("user", lambda a: None, "manage staff accounts")
    user_sub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    ua = user_sub.add_parser("add", help="create a staff account")
    ua.set_defaults(handler=cmd_user_add)
    ua.add_argument("name", help="user name used to sign in")
    ua.add_argument(
        "--role", required=True, choices=["admin", "supervisor", "operator", "org_admin", "worker"]
    )
    ua.add_argument(
        "--password",
        help="at least 8 characters; better left out: then it is asked for on a terminal or read as "
        "the first line of standard input, so it stays out of shell history and the process list",
    )
    ua.add_argument("--provider", type=int, help="provider id (required for org_admin and worker)")
    ua.add_argument("--display-name", help="name shown in the console")
    ua.add_argument("--extension", help="operator's phone extension (screen pop)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except ConfigError as exc:
        _fail(str(exc), code=2)
    except CliError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()


if __name__ == "__main__":
    main()
