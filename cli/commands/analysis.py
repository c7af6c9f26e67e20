"""Layer analysis commands: ``layers``, ``files``, ``diff``, ``cat``, ``cp``, ``analyze``.

Every command takes an image in the store, or ``docker-archive:FILE`` /
``oci:DIR`` (read in place, never imported); ``--source SPEC`` does the same
and lets IMAGE pick a tag inside it. ``--json`` prints machine output.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from layerlab.engine.analysis import analyze as run_analysis
from layerlab.engine.analysis import waste_report
from layerlab.engine.analysis import ci
from layerlab.engine.analysis.extract import cat, copy_out
from layerlab.engine.analysis.imagediff import diff_images
from layerlab.engine.analysis.query import directory_sizes, path_filter
from layerlab.engine.analysis.image_sources import ARCHIVE_PREFIX, LAYOUT_PREFIX, AnalysisImage, open_source
from layerlab.engine.errors import UsageError
from layerlab.cli.output import human_size, print_json, render_table, shown_name


def _common(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    parser.add_argument("--source", metavar="SPEC",
                        help="read the image from docker-archive:FILE or oci:DIR instead of the store")
    parser.add_argument("--base-layers", type=int, metavar="N",
                        help="how many bottom layers belong to the base image (default: guessed from history)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON")


def register(subparsers) -> None:
    layers = subparsers.add_parser("layers", help="per-layer table: size, files added/modified/removed, instruction")
    layers.add_argument("image", nargs="?", metavar="IMAGE")
    _common(layers)
    layers.set_defaults(func=layers_command)

    files = subparsers.add_parser("files", help="the image's file tree as of a layer, with search and sort")
    files.add_argument("image", nargs="?", metavar="IMAGE")
    files.add_argument("--layer", type=int, metavar="N", help="the tree as of layer N (default: the whole image)")
    _search_options(files)
    _common(files)
    files.set_defaults(func=files_command)

    diff = subparsers.add_parser("diff", help="A/M/D changes of a layer or image, or between two images")
    diff.add_argument("images", nargs="*", metavar="IMAGE", help="one image, or two to compare")
    diff.add_argument("--layer", type=int, metavar="N", help="only the changes layer N makes")
    diff.add_argument("--content", action="store_true", help="with two images: show a text diff of changed text files")
    _search_options(diff)
    _common(diff)
    diff.set_defaults(func=diff_command)

    cat_parser = subparsers.add_parser("cat", help="print one file of an image")
    cat_parser.add_argument("image", metavar="IMAGE")
    cat_parser.add_argument("path", metavar="PATH")
    cat_parser.add_argument("--layer", type=int, metavar="N", help="the file as of layer N")
    _common(cat_parser, json_flag=False)
    cat_parser.set_defaults(func=cat_command)

    cp = subparsers.add_parser("cp", help="copy a file or directory out of an image: IMAGE:PATH DEST")
    cp.add_argument("source_path", metavar="IMAGE:PATH")
    cp.add_argument("dest", metavar="DEST")
    cp.add_argument("--layer", type=int, metavar="N", help="the file as of layer N")
    _common(cp)
    cp.set_defaults(func=cp_command)

    analyze = subparsers.add_parser("analyze", help="efficiency (dive's score), reclaimable bytes, worst offenders")
    analyze.add_argument("image", nargs="?", metavar="IMAGE")
    analyze.add_argument("--top", type=int, default=10, metavar="N", help="offenders and files to show (default 10)")
    analyze.add_argument("--ci", action="store_true", help="evaluate CI rules; exit 1 when one fails")
    analyze.add_argument("--ci-config", type=Path, metavar="FILE",
                         help="dive's .dive-ci rules file, implies --ci (default: ./.dive-ci when present, else dive's "
                              "defaults)")
    analyze.add_argument("--ci-measure", choices=("dive", "reclaimable"), default="dive",
                         help="judge the rules with dive's numbers (default) or with reclaimable bytes")
    _common(analyze)
    analyze.set_defaults(func=analyze_command)


def _search_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--glob", metavar="PATTERN", help="only paths matching a glob (/etc/*.conf, *.so)")
    parser.add_argument("--regex", metavar="REGEX", help="only paths matching a regular expression")
    parser.add_argument("--sort", choices=("path", "size"), default="path", help="order (size: largest first)")


def _open(args, ctx, name: str | None) -> AnalysisImage:
    spec = name
    if args.source:
        if not args.source.startswith((ARCHIVE_PREFIX, LAYOUT_PREFIX)):
            raise UsageError(f"--source {args.source}: expected docker-archive:FILE or oci:DIR")
        spec = args.source + (f"@{name}" if name else "")
    if not spec:
        raise UsageError("name an image (or give --source docker-archive:FILE / oci:DIR)")
    return open_source(spec, store=lambda: ctx.store)


def _analyse(args, ctx, name: str | None):
    image = _open(args, ctx, name)
    try:
        return image, run_analysis(image.layer_sources(), base_layers=image.base_layers(args.base_layers))
    except BaseException:
        image.close()
        raise


def _out(ctx):
    return ctx.stdout.write


def _mode(entry) -> str:
    return "-" if entry is None else f"{entry.mode:04o}"


def _owner(entry) -> str:
    return "-" if entry is None else f"{entry.uid}:{entry.gid}"


def _type(entry) -> str:
    return "dir" if entry is None else entry.type_name


# -- layers ---------------------------------------------------------------------------------------

def layers_command(args, ctx) -> int:
    image, analysis = _analyse(args, ctx, args.image)
    try:
        summaries = analysis.summaries()
    finally:
        image.close()
    if args.json:
        print_json([summary.to_json() for summary in summaries], _out(ctx))
        return 0
    rows = [["LAYER", "SIZE", "ADDED", "MODIFIED", "REMOVED", "INSTRUCTION"]]
    for summary in summaries:
        marker = " (base)" if summary.is_base else ""
        rows.append([f"{summary.index}{marker}", human_size(summary.size), str(summary.added),
                     str(summary.modified), str(summary.removed), summary.instruction])
    _out(ctx)(render_table(rows))
    return 0


# -- files ----------------------------------------------------------------------------------------

def files_command(args, ctx) -> int:
    image, analysis = _analyse(args, ctx, args.image)
    try:
        tree = analysis.tree(args.layer)
        items = list(tree.walk("/"))
    finally:
        image.close()
    sizes = directory_sizes(items)
    keep = path_filter(args.glob, args.regex)
    rows = []
    for path, entry in items:
        if not keep(path):
            continue
        size = sizes.get(path, 0) if entry is None or entry.is_dir else entry.size
        rows.append((path, entry, size))
    if args.sort == "size":
        rows.sort(key=lambda row: (-row[2], row[0]))
    if args.json:
        print_json([{"path": path, **_entry_fields(entry), "size": size} for path, entry, size in rows], _out(ctx))
        return 0
    table = [["TYPE", "MODE", "OWNER", "SIZE", "LAYER", "PATH"]]
    for path, entry, size in rows:
        shown = shown_name(path) + (f" -> {shown_name(entry.linkname)}" if entry is not None and entry.linkname else "")
        table.append([_type(entry), _mode(entry), _owner(entry), human_size(size),
                      "-" if entry is None else str(entry.layer), shown])
    _out(ctx)(render_table(table))
    return 0


def _entry_fields(entry) -> dict:
    from layerlab.engine.analysis.image_pass import entry_json

    return entry_json(entry)


# -- diff -----------------------------------------------------------------------------------------

def diff_command(args, ctx) -> int:
    if not args.images and not args.source:
        raise UsageError("diff needs IMAGE, or IMAGE1 IMAGE2")
    if len(args.images) > 2:
        raise UsageError("diff takes one image, or two to compare")
    if len(args.images) == 2:
        if args.layer is not None:
            raise UsageError("--layer applies to one image; to compare two images give no --layer")
        return _diff_two(args, ctx)
    if args.content:
        raise UsageError("--content needs two images")
    image, analysis = _analyse(args, ctx, args.images[0] if args.images else None)
    try:
        layers = [analysis.check_layer(args.layer)] if args.layer is not None else range(analysis.layer_count)
        keep = path_filter(args.glob, args.regex)
        changes = [(layer, change) for layer in layers for change in analysis.layer_changes(layer)
                   if keep(change.path)]
    finally:
        image.close()
    if args.sort == "size":
        changes.sort(key=lambda item: (-(item[1].entry.size if item[1].entry else 0), item[1].path))
    if args.json:
        print_json([{"layer": layer, **change.to_json()} for layer, change in changes], _out(ctx))
        return 0
    write = _out(ctx)
    for layer, change in changes:
        prefix = "" if args.layer is not None else f"{layer}\t"
        write(f"{prefix}{change.code} {shown_name(change.path)}\n")
    return 0


def _diff_two(args, ctx) -> int:
    first, old = _analyse(args, ctx, args.images[0])
    try:
        second, new = _analyse(args, ctx, args.images[1])
        try:
            result = diff_images(old, new, content=args.content)
        finally:
            second.close()
    finally:
        first.close()
    keep = path_filter(args.glob, args.regex)
    changes = [change for change in result.changes if keep(change.path)]
    if args.sort == "size":
        changes.sort(key=lambda c: (-max(c.old.size if c.old else 0, c.new.size if c.new else 0), c.path))
    if args.json:
        print_json([change.to_json() for change in changes], _out(ctx))
        return 0
    write = _out(ctx)
    for change in changes:
        reasons = f"  ({', '.join(change.reasons)})" if change.reasons else ""
        write(f"{change.code} {shown_name(change.path)}{reasons}\n")
        if change.text_diff:
            write(change.text_diff if change.text_diff.endswith("\n") else change.text_diff + "\n")
    return 0


# -- cat / cp -------------------------------------------------------------------------------------

def cat_command(args, ctx) -> int:
    image, analysis = _analyse(args, ctx, args.image)
    try:
        binary = getattr(ctx.stdout, "buffer", None)
        if binary is not None:
            ctx.stdout.flush()
            cat(analysis, args.path, binary, layer=args.layer)
            binary.flush()
        else:
            import io

            buffer = io.BytesIO()
            cat(analysis, args.path, buffer, layer=args.layer)
            ctx.stdout.write(buffer.getvalue().decode("utf-8", "surrogateescape"))
    finally:
        image.close()
    return 0


def split_image_path(text: str) -> tuple[str, str]:
    """``IMAGE:/PATH`` -> (IMAGE, /PATH); IMAGE may itself be docker-archive:FILE or oci:DIR."""
    prefix = next((p for p in (ARCHIVE_PREFIX, LAYOUT_PREFIX) if text.startswith(p)), "")
    rest = text[len(prefix):]
    split = rest.find(":/", 1)
    if split < 0:
        image, colon, path = rest.rpartition(":")
        if not colon or not image or not path:
            raise UsageError(f"{text}: expected IMAGE:PATH")
        return prefix + image, "/" + path
    return prefix + rest[:split], rest[split + 1:]


def cp_command(args, ctx) -> int:
    name, path = split_image_path(args.source_path)
    image, analysis = _analyse(args, ctx, name)
    try:
        count = copy_out(analysis, path, Path(args.dest), layer=args.layer)
    finally:
        image.close()
    if args.json:
        print_json({"path": path, "dest": args.dest, "written": count}, _out(ctx))
    return 0


# -- analyze --------------------------------------------------------------------------------------

def analyze_command(args, ctx) -> int:
    # rules given are rules to judge by: --ci-config implies --ci, and a file that is missing is
    # an error before any work (it was ignored without --ci)
    rules = ci.load_ci_config(args.ci_config) if args.ci or args.ci_config is not None else None
    image, analysis = _analyse(args, ctx, args.image)
    try:
        report = waste_report(analysis)
    finally:
        image.close()
    dive = analysis.dive
    results = None
    if rules is not None:
        if args.ci_measure == "dive":
            results = ci.evaluate(rules, efficiency=dive.efficiency, wasted_bytes=dive.wasted_bytes,
                                  user_wasted_percent=dive.user_wasted_percent)
        else:
            results = ci.evaluate(rules, efficiency=dive.efficiency, wasted_bytes=report.user_reclaimable_bytes,
                                  user_wasted_percent=report.user_reclaimable_percent)
    top = max(args.top, 0)
    if args.json:
        data = {
            "image": image.name,
            "layers": len(analysis.bounds),
            "efficiency": dive.efficiency,
            # dive divides by zero user bytes (a one-layer image) into +Inf; JSON has no Inf, so null
            "dive": {"wasted_bytes": dive.wasted_bytes,
                     "user_wasted_percent": dive.user_wasted_percent if math.isfinite(dive.user_wasted_percent) else None,
                     "size_bytes": dive.size_bytes, "user_size_bytes": dive.user_size_bytes,
                     "inefficiencies": [{"path": item.path, "cumulative_size": item.cumulative_size,
                                         "count": item.count} for item in dive.inefficiencies[:top]]},
            **report.to_json(top),
        }
        if results is not None:
            data["ci"] = {"pass": ci.passed(results), "rules": [result.to_json() for result in results]}
        print_json(data, _out(ctx))
    else:
        _print_analysis(ctx, image, analysis, report, top, results)
    return 0 if results is None or ci.passed(results) else 1


def _print_analysis(ctx, image, analysis, report, top, results) -> None:
    write = _out(ctx)
    dive = analysis.dive
    write(f"Image: {image.name}  ({analysis.layer_count} layers, base image: {report.base_layers})\n")
    write(f"  efficiency (dive's score):   {dive.efficiency * 100:.4f} %\n")
    write(f"  wasted bytes (dive):         {human_size(dive.wasted_bytes)} ({dive.wasted_bytes} bytes), "
          f"user wasted {dive.user_wasted_percent * 100:.4f} %\n")
    write(f"  reclaimable bytes:           {human_size(report.reclaimable_bytes)} ({report.reclaimable_bytes} bytes)\n")
    write(f"    in your layers:            {human_size(report.user_reclaimable_bytes)} "
          f"({report.user_reclaimable_percent * 100:.2f} % of {human_size(report.user_size_bytes)})\n")
    write(f"    in base image layers:      {human_size(report.base_reclaimable_bytes)}\n")
    if report.offenders:
        write("\nWorst offenders:\n")
        rows = [["WASTED", "FILES", "STORED IN", "MADE DEAD BY", "FIX"]]
        for offender in report.offenders[:top]:
            rows.append([human_size(offender.bytes), str(offender.files),
                         f"{offender.stored_layer}: {_short(offender.stored_instruction)}",
                         f"{offender.caused_by_layer}: {_short(offender.caused_by_instruction)} ({offender.how})",
                         offender.hint])
        write(render_table(rows))
        write("\nLargest wasted files:\n")
        rows = [["WASTED", "COPIES", "LAYERS", "PATH"]]
        for item in report.paths[:top]:
            rows.append([human_size(item.bytes), str(item.copies), ",".join(map(str, item.layers)), item.path])
        write(render_table(rows))
    if results is not None:
        write("\nCI rules:\n")
        for result in results:
            message = f": {result.message}" if result.message else ""
            write(f"  {result.status}: {result.rule}{message}\n")
        write(f"Result: {'PASS' if ci.passed(results) else 'FAIL'}\n")


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
