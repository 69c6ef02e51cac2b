"""`deepguard`: run the bots, or check and evaluate images from the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bots import backend_survey, batch_commands, explain_command, run
from config import Settings, SettingsError, load_settings
from core.errors import ModelError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 2, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepguard", description="Tell whether images are likely AI-generated."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the bots whose tokens are set")
    commands.add_parser("health", help="exit 0 while a running `deepguard run` is alive")
    serve = commands.add_parser("serve", help="run the HTTP inference API (DEEPGUARD_SERVE__*)")
    serve.add_argument("--ray", action="store_true", help="deploy on Ray Serve (deepguard[ray])")

    check = commands.add_parser("check", help="judge image, animation and video files")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _model_options(check)

    explain = commands.add_parser(
        "explain", help="show where the model saw AI-like and real-like evidence in an image"
    )
    explain.add_argument("file", type=Path, metavar="FILE")
    explain.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT.png",
        help="where to write the picture (default: FILE's name + .explain.png, beside it)",
    )
    explain.add_argument(
        "--json", action="store_true", help="print the map as JSON (the picture only with -o)"
    )
    explain.add_argument("--model", help="hub id or local directory (overrides the setting)")

    evaluate = commands.add_parser("eval", help="measure the model on DIR/real and DIR/fake")
    evaluate.add_argument("directory", type=Path, metavar="DIR")
    evaluate.add_argument(
        "--target-fpr",
        type=float,
        default=0.05,
        help="false positive rate to find a threshold for (default 0.05)",
    )
    _model_options(evaluate)

    backends = commands.add_parser(
        "backends", help="measure every inference backend on this machine and recommend one"
    )
    backends.add_argument(
        "--images", type=Path, metavar="DIR", help="your own images (default: generated photos)"
    )
    backends.add_argument("--model", help="hub id or local directory (overrides the setting)")
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        help="hub id or local directory, or several comma-separated to judge together "
        "(overrides DEEPGUARD_MODEL__NAME)",
    )
    parser.add_argument("--threshold", type=float, help="fake probability for a FAKE verdict")
    parser.add_argument("--json", action="store_true", help="print JSON lines")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"deepguard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "health":
        return EXIT_OK if run.is_alive(settings.health_file) else 1
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx (under python-telegram-bot) logs every long poll at INFO: noise, and URLs with tokens.
    logging.getLogger("httpx").setLevel(
        max(logging.WARNING, logging.getLevelName(settings.log_level))
    )
    try:
        if args.command == "serve" and args.ray:
            from api import ray as ray_serve

            return ray_serve.run(settings)
        return asyncio.run(_dispatch(args, settings))
    except (run.NoBotConfigured, ModelError) as exc:
        print(f"deepguard: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    update: dict[str, object] = {}
    if getattr(args, "model", None):
        update["name"] = args.model
    if getattr(args, "threshold", None) is not None:
        if not 0.0 <= args.threshold <= 1.0:
            raise SettingsError("--threshold must be between 0 and 1")
        update["threshold"] = args.threshold
    return load_settings(model=update)


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        await run.run(settings)
        return EXIT_OK
    if args.command == "serve":
        await run.serve_api(settings)
        return EXIT_OK
    if args.command == "backends":
        return await asyncio.to_thread(backend_survey.run, settings.model, args.images)
    if args.command == "check":
        return await batch_commands.check(settings, args.files, as_json=args.json)
    if args.command == "explain":
        return await explain_command.explain(
            settings, args.file, output=args.output, as_json=args.json
        )
    return await batch_commands.evaluate(
        settings, args.directory, target_fpr=args.target_fpr, as_json=args.json
    )


if __name__ == "__main__":
    sys.exit(main())
