"""``build``: a Dockerfile to an image in the store, with the cache's reasons on show."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from pathlib import Path

from layerlab.engine.api.building import build, watch_and_build
from layerlab.engine.builder.request import ENTITLEMENTS, BuildRequest, StepError
from layerlab.engine.builder.printers import PlainPrinter, TtyPrinter, explain_lines
from layerlab.engine.errors import UsageError
from layerlab.engine.events import BuildFailed, Event, EventSink, discard
from layerlab.cli.keyvalues import key_values


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build", help="build an image from a Dockerfile",
        description="Build an image from a Dockerfile as Docker's classic builder does; every step says why "
                    "it was cached or rebuilt. CONTEXT is a directory, or - for a tar on stdin.")
    parser.add_argument("context", metavar="CONTEXT")
    parser.add_argument("-t", "--tag", action="append", default=[], metavar="TAG", help="name the image (repeatable)")
    parser.add_argument("-f", "--file", metavar="FILE", help="the Dockerfile (default CONTEXT/Dockerfile; - = stdin)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="set a build arg")
    parser.add_argument("--target", default="", metavar="STAGE", help="build up to this stage")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every step")
    parser.add_argument("--no-cache-filter", action="append", default=[], metavar="STAGE",
                        help="rebuild the steps of this stage")
    parser.add_argument("--pull", action="store_true", help="always ask the registry for a newer base image")
    parser.add_argument("--cache-from", action="append", default=[], metavar="registry:REF",
                        help="import a build cache a build exported to a registry (repeatable)")
    parser.add_argument("--cache-to", metavar="registry:REF", help="export this store's build cache to a registry")
    parser.add_argument("--network", default="default", choices=("default", "none", "host"),
                        help="network for RUN: default (private, outbound only, never the host's loopback), "
                             "none (loopback only) or host")
    parser.add_argument("--label", action="append", default=[], metavar="K=V", help="add a label to the image")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    parser.add_argument("--iidfile", metavar="FILE", help="write the image ID to FILE")
    parser.add_argument("--progress", default="auto", choices=("auto", "plain", "tty", "json"))
    parser.add_argument("--explain", action="store_true", help="after the build, one line per step: cached or why not")
    parser.add_argument("--allow", action="append", default=[], choices=ENTITLEMENTS, metavar="ENTITLEMENT",
                        help="let the Dockerfile ask for more: network.host (RUN --network=host, or a wider "
                             "network than --network), security.insecure (RUN --security=insecure)")
    parser.add_argument("--secret", action="append", default=[], metavar="id=ID,src=FILE",
                        help="a file RUN --mount=type=secret can read; never stored in the image")
    parser.add_argument("--watch", action="store_true", help="rebuild when the context or Dockerfile changes")
    parser.add_argument("--predict", action="append", default=[], metavar="PATH|ARG=VALUE",
                        help="build nothing: say which steps would rebuild if this context file (or directory) "
                             "changed, or this build arg had this value, and why (repeatable)")
    parser.add_argument("--semantics", default="classic", choices=("classic", "buildkit"),
                        help="whose results to reproduce: docker's classic builder (default) or BuildKit's")
    parser.set_defaults(func=build_command)


def make_request(args) -> BuildRequest:
    if args.secret:
        from layerlab.engine.builder.run_spec import parse_secret_flag  # the RUN machinery loads with a RUN
    request = BuildRequest(tags=list(args.tag), build_args=key_values(args.build_arg, "--build-arg"),
                           target=args.target, no_cache=args.no_cache, no_cache_filter=list(args.no_cache_filter),
                           pull=args.pull, network=args.network, labels=key_values(args.label, "--label"),
                           secrets=dict(parse_secret_flag(text) for text in args.secret) if args.secret else {},
                           allow=frozenset(args.allow), semantics=args.semantics)
    if args.context == "-" and args.file == "-":
        raise UsageError("the context and the Dockerfile cannot both come from stdin")
    if args.context == "-":
        request.context_tar = io.BytesIO(sys.stdin.buffer.read())
    else:
        request.context_dir = Path(args.context)
    if args.file == "-":
        request.dockerfile_text = sys.stdin.read()
    elif args.file:
        # -f FILE names a file from here, as docker reads it; inside a stdin context, a path in the tar.
        request.dockerfile = args.file if args.context == "-" else os.path.abspath(args.file)
    return request


def _sink(progress: str, quiet: bool):
    if quiet:
        return discard
    if progress == "auto":
        progress = "tty" if sys.stdout.isatty() else "plain"
    if progress == "json":
        from layerlab.engine.builder.events_json import json_lines_sink  # only --progress=json needs it

        return json_lines_sink(sys.stdout)
    if progress == "tty":
        return TtyPrinter(sys.stdout)
    return PlainPrinter(sys.stdout)


def _saying_failures(events: EventSink) -> EventSink:
    """Watch mode keeps going after a failed build, so no exception reaches the CLI: say the error here."""

    def sink(event: Event) -> None:
        events(event)
        if isinstance(event, BuildFailed):
            print(f"layerlab: {event.error} (watching for a fix)", file=sys.stderr, flush=True)

    return sink


def build_command(args, ctx) -> int:
    request = make_request(args)
    if args.predict:
        return _predict(args, request, ctx)
    events = _sink(args.progress, args.quiet)
    if args.watch:
        stop = threading.Event()
        try:
            watch_and_build(ctx.store, request, _saying_failures(events), stop)
        except KeyboardInterrupt:
            stop.set()
        return 0
    try:
        result = build(ctx.store, request, events, cache_from=args.cache_from, cache_to=args.cache_to)
    except StepError as error:
        print(f"layerlab: {error.message}", file=sys.stderr)
        for line in error.last_lines:
            print(f"  {line}", file=sys.stderr)
        return 1
    if args.iidfile:
        Path(args.iidfile).write_text(str(result.image_id))
    if args.quiet:
        print(result.image_id)
    if args.explain:
        out = sys.stderr if args.progress == "json" else sys.stdout
        for line in explain_lines(result.steps):
            print(line, file=out)
    return 0


def _predict(args, request: BuildRequest, ctx) -> int:
    from layerlab.engine.api.predicting import parse_change, predict, prediction_json, prediction_lines

    if request.context_dir is None or args.watch:
        raise UsageError("--predict needs a context directory, and does not go with --watch")
    prediction = predict(ctx.store, request, parse_change(args.predict, request.context_dir))
    if args.progress == "json":
        print(json.dumps(prediction_json(prediction)))
    else:
        print("\n".join(prediction_lines(prediction)))
    return 0
