"""`python -m fastrec`: the command line.

Exit codes: 0 success, 1 runtime failure (the message says what failed), 2 bad usage or
bad values (the message names the option, the value and what is allowed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def _bounded(kind: Callable[[str], float], low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {kind.__name__} between {low} and {high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fastrec", description="fastrec session recorder")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="record a scripted desktop on a private Xvfb screen and report the cost",
        description="Start a private Xvfb screen, run a scripted editor workload on it, record it "
                    "through the frame core and the encoder, and print file, size, frames and CPU.")
    demo.add_argument("--seconds", type=_bounded(float, 1, 3600), default=20.0, help="recording length (default 20)")
    demo.add_argument("--fps", type=_bounded(int, 1, 60), default=10, help="frames per second, 1-60 (default 10)")
    demo.add_argument("--quality", type=_bounded(int, 0, 51), default=23, help="H.264 CRF, 0-51 (default 23)")
    demo.add_argument("--scale", type=_bounded(float, 0.1, 2.0), default=1.0, help="resolution scale, 0.1-2.0 (default 1.0)")
    demo.add_argument("--preset", default="veryfast", help="libx264 preset (default veryfast)")
    demo.add_argument("--output-dir", type=Path, default=Path("recordings"), help="where to write (default ./recordings)")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from fastrec.demo.run import run_demo

    def progress(line: str) -> None:
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    report = run_demo(args.seconds, args.output_dir, args.fps, args.quality, args.scale, args.preset, progress)
    print(file=sys.stderr)
    print(report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"demo": _demo}[args.command](args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, no traceback, for the operator
        print(f"fastrec {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
