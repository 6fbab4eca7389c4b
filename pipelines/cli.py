"""`omni`: the command line.

omni demo                       run the whole pipeline on the sandbox for the last 30 China days
omni run --start D1 --end D2    land every configured channel for D1..D2, rebuild, publish
omni sandbox serve              serve the sandbox world over HTTP on 127.0.0.1
omni sandbox truth --out DIR    write the world's ground truth as Parquet
omni sandbox exports --out DIR  write the world's shop analytics export files (生意参谋 / 京东商智 /
                                拼多多数据中心), as operators download them, into DIR/<channel>/<shop>/
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from connectors.common.timeutil import china_date, utc_now
from connectors.config import data_dir, load_config
from connectors.sandbox.server import SandboxSettings

DEMO_DAYS = 30


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from exc


def _default_world() -> tuple[int, int, date, date]:
    """The demo's world: seed and size from the config's [sandbox] table, the last 30 China days."""
    sandbox = load_config().sandbox
    end = china_date(utc_now()) - timedelta(days=1)
    return (
        int(sandbox.get("seed", 7)),
        int(sandbox.get("people", 3000)),
        end - timedelta(days=DEMO_DAYS - 1),
        end,
    )


def _world_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="world seed (default: config [sandbox].seed)")
    parser.add_argument("--people", type=int, help="population size (default: config [sandbox].people)")
    parser.add_argument("--start", type=_date, help="first China day of the world (default: 30 days ago)")
    parser.add_argument("--end", type=_date, help="last China day of the world (default: yesterday)")


def _faults(text: str) -> frozenset[str]:
    """`--faults`: a profile name (none, mix) or fault names joined by commas."""
    from connectors.sandbox.faults import FAULT_PROFILES, KNOWN_FAULTS

    if text in FAULT_PROFILES:
        return FAULT_PROFILES[text]
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - KNOWN_FAULTS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(unknown)}: use a profile ({', '.join(FAULT_PROFILES)}) or "
            f"names from {', '.join(sorted(KNOWN_FAULTS))}"
        )
    return frozenset(names)


def _settings(args: argparse.Namespace, rate_limits: bool = True) -> SandboxSettings:
    seed, people, start, end = _default_world()
    platform = load_config().sandbox.get("platform", {})
    return SandboxSettings(
        seed=args.seed if args.seed is not None else seed,
        people=args.people if args.people is not None else people,
        start=args.start or start,
        end=args.end or end,
        rate_limits=rate_limits,
        faults=getattr(args, "faults", None) or frozenset(),
        platform=tuple(sorted(platform.items())),
    )


def _write_pos(settings: SandboxSettings) -> Path:
    """The stores' POS database, and who owns each account (what identity resolution is measured
    against), in <data>/sandbox/."""
    from connectors.sandbox.pos_db import write_pos_database
    from connectors.sandbox.truth import write_truth_accounts

    path = data_dir() / "sandbox" / "pos.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_pos_database(settings.world(), f"sqlite:///{path}")
    write_truth_accounts(settings.world(), path.parent)
    return path


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from connectors.sandbox.server import SandboxServer

    settings = _settings(args, rate_limits=not args.no_rate_limits)
    pos = _write_pos(settings)
    server = SandboxServer(settings, port=args.port)
    print(
        f"sandbox: seed={settings.seed} people={settings.people} {settings.start}..{settings.end} "
        f"serving {server.url} (POS database {pos}); Ctrl-C to stop",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    import dagster as dg

    from connectors.common.timeutil import utc_now
    from connectors.config import config_path, load_config
    from pipelines.definitions import defs
    from pipelines.status import status
    from warehouse.paths import WarehousePaths

    config = load_config(config_path())
    instance = None
    if os.environ.get("DAGSTER_HOME"):
        try:
            instance = dg.DagsterInstance.get()
        except Exception as exc:  # a broken instance config still leaves the rest to show
            print(
                f"omni: the Dagster instance at {os.environ['DAGSTER_HOME']} cannot be read: {exc}",
                file=sys.stderr,
            )
    report = status(
        WarehousePaths(data_dir()),
        [(shop.channel, shop.shop_id) for shop in config.shops],
        utc_now(),
        instance,
        list(defs.resolve_asset_graph().asset_check_keys),
    )
    print(report.render())
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse.dictionary import describe, render, undocumented
    from warehouse.paths import WarehousePaths

    published = WarehousePaths(data_dir()).published_db
    if not published.exists():
        print(f"omni: {published} does not exist yet (run `omni demo` or `omni run` first)", file=sys.stderr)
        return 1
    with duckdb.connect(str(published), read_only=True) as conn:
        tables = describe(conn)
    text = render(tables)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(tables)} tables written to {args.out}")
    else:
        print(text)
    for missing in undocumented(tables):
        print(f"undocumented: {missing}", file=sys.stderr)
    return 0


def cmd_sandbox_truth(args: argparse.Namespace) -> int:
    from connectors.sandbox.truth import write_truth

    settings = _settings(args)
    paths = write_truth(settings.world(), Path(args.out))
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_sandbox_exports(args: argparse.Namespace) -> int:
    from connectors.sandbox.exports import write_exports

    for path in write_exports(_settings(args).world(), Path(args.out)):
        print(path)
    return 0


def _drop_demo_exports(settings: SandboxSettings) -> int:
    """What an operator does each morning: download each shop's export and drop it in its folder."""
    from connectors.sandbox.exports import write_export

    entries = load_config().traffic_for("exports")
    for entry in entries:
        folder = Path(str(entry.require("drop_dir")))
        folder.mkdir(parents=True, exist_ok=True)
        write_export(settings.world(), entry.shop_id, folder)
    return len(entries)


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.runner import run_range

    print(f"landing every configured channel for {args.start}..{args.end}, then rebuilding", flush=True)
    if args.full_rebuild:
        os.environ["OMNI_FULL_REBUILD"] = "1"  # read by the warehouse's model steps
    result = run_range(
        args.start,
        args.end,
        log_level="DEBUG" if args.verbose else "WARNING",
        progress=lambda line: print(line, flush=True),
    )
    for failure in result.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(
        f"landing {'ok' if result.landing_ok else 'FAILED'}; "
        f"warehouse {'ok' if result.warehouse_ok else 'FAILED'}"
    )
    return 0 if result.ok else 1


def _forget_other_worlds(data: Path, seed: int, people: int) -> None:
    """A sandbox world is fixed by (seed, people) and the generator's WORLD_VERSION: re-running the
    demo on a later day extends the same history, like a real nightly run. Data landed from a
    different world (another seed or size, or an older generator) would mix two unrelated
    populations, so it is cleared, and a data folder that is not a demo's is never touched."""
    from connectors.sandbox.generate import WORLD_VERSION

    recorded = data / "demo.json"
    landing = data / "landing"
    if recorded.exists():
        previous = json.loads(recorded.read_text(encoding="utf-8"))
        if (previous.get("seed"), previous.get("people"), previous.get("world_version")) == (
            seed,
            people,
            WORLD_VERSION,
        ):
            return
        print(f"the data folder holds another sandbox world ({previous}); clearing its landing and warehouse")
        for path in (landing, data / "warehouse", data / "drops"):
            shutil.rmtree(path, ignore_errors=True)
        (data / "analytics.duckdb").unlink(missing_ok=True)
    elif landing.exists() and any(landing.iterdir()):
        raise SystemExit(
            f"omni demo: {data} already holds landed data that is not from a demo; "
            "set OMNI_DATA_DIR to an empty folder for the demo"
        )


def cmd_demo(args: argparse.Namespace) -> int:
    from connectors.sandbox.server import SandboxServer
    from pipelines.runner import run_range
    from pipelines.summary import print_summary

    settings = _settings(args)
    started = time.monotonic()
    data = data_dir()
    data.mkdir(parents=True, exist_ok=True)
    _forget_other_worlds(data, settings.seed, settings.people)
    _write_pos(settings)
    if "read_timeout" in settings.faults:  # the sandbox stalls 3 s: the clients must give up first
        os.environ.setdefault("OMNI_HTTP_READ_TIMEOUT", "2")
    with SandboxServer(settings) as server:
        os.environ["OMNI_SANDBOX_URL"] = server.url
        print(
            f"sandbox world: seed={settings.seed} people={settings.people} {settings.start}..{settings.end} "
            f"at {server.url}",
            flush=True,
        )
        exports = _drop_demo_exports(settings)
        print(
            f"landing every channel and the {exports} shops' export files, "
            "then building and publishing the warehouse ...",
            flush=True,
        )
        result = run_range(
            settings.start,
            settings.end,
            log_level="DEBUG" if args.verbose else "WARNING",
            settle_seconds=0,  # the demo's files were written whole a moment ago
            progress=lambda line: print(line, flush=True),
        )
        injected = server.injected_faults()
    if settings.faults:
        said = ", ".join(f"{kind} {n}" for kind, n in sorted(injected.items())) or "none struck"
        print(f"sandbox faults injected ({', '.join(sorted(settings.faults))}): {said}", flush=True)
    from connectors.sandbox.generate import WORLD_VERSION

    world = {
        "seed": settings.seed,
        "people": settings.people,
        "world_version": WORLD_VERSION,
        "start": settings.start.isoformat(),
        "end": settings.end.isoformat(),
    }
    (data / "demo.json").write_text(json.dumps(world, indent=2) + "\n", encoding="utf-8")
    for failure in result.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if not result.ok:
        return 1
    print_summary(data / "analytics.duckdb", settings.start, settings.end)
    print(
        f"\nWorld recorded in {data / 'demo.json'}; its truth: omni sandbox truth --seed {settings.seed} "
        f"--people {settings.people} --start {settings.start} --end {settings.end} --out {data / 'truth'}"
    )
    print(f"Demo finished in {time.monotonic() - started:.0f}s")
    return 0


def _faults_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--faults",
        type=_faults,
        default=frozenset(),
        help="sandbox faults: a profile (none, or mix: 429s, 5xx, connection resets and truncated "
        "JSON on 1%% of requests each, 3 s stalls past the read timeout on 0.3%%; marketplace order "
        "pages served empty once and records repeated across pages; Youzan tokens expiring "
        "mid-pull; gateway clocks 15 min ahead) or fault names joined by commas",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omni", description="Omnichannel e-commerce data platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline on the sandbox for the last 30 China days")
    _world_args(demo)
    _faults_arg(demo)
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="land every configured channel for a range of China days, then rebuild")
    run.add_argument("--start", type=_date, required=True)
    run.add_argument("--end", type=_date, required=True)
    run.add_argument(
        "--full-rebuild",
        action="store_true",
        help="rebuild every model from all landed files (default: staging takes only what changed)",
    )
    run.set_defaults(func=cmd_run)

    status = sub.add_parser(
        "status", help="per shop: newest orders day, freshness, quarantined orders; failed checks"
    )
    status.set_defaults(func=cmd_status)

    dictionary = sub.add_parser(
        "dictionary", help="the data dictionary of the published warehouse (every marts and audit column)"
    )
    dictionary.add_argument("--out", help="write it to this file (default: print it)")
    dictionary.set_defaults(func=cmd_dictionary)

    sandbox = sub.add_parser("sandbox", help="the local platform simulators").add_subparsers(
        dest="sandbox", required=True
    )
    serve = sandbox.add_parser("serve", help="serve the sandbox world on 127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--no-rate-limits", action="store_true", help="turn throttling off (benchmarks)")
    _world_args(serve)
    _faults_arg(serve)
    serve.set_defaults(func=cmd_sandbox_serve)
    truth = sandbox.add_parser(
        "truth", help="write the world's ground truth (orders.parquet, accounts.parquet)"
    )
    _world_args(truth)
    truth.add_argument("--out", required=True, help="output folder")
    truth.set_defaults(func=cmd_sandbox_truth)
    exports = sandbox.add_parser(
        "exports", help="write the world's shop analytics export files into OUT/<channel>/<shop>/"
    )
    _world_args(exports)
    exports.add_argument("--out", required=True, help="output folder (e.g. the drop folders' root)")
    exports.set_defaults(func=cmd_sandbox_exports)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("great_expectations").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if getattr(args, "start", None) and getattr(args, "end", None) and args.end < args.start:
        print(f"omni: --end {args.end} is before --start {args.start}", file=sys.stderr)
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
