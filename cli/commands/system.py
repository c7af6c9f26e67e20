"""``fsck``, ``system prune`` and ``system df``: checking and tidying the store."""

from __future__ import annotations

import sys

from layerlab.engine.reference import Reference
from layerlab.cli.output import created_since, human_size, render_table


def register(subparsers) -> None:
    fsck = subparsers.add_parser("fsck", help="re-verify every blob, image and snapshot in the store")
    fsck.add_argument("-q", "--quiet", action="store_true", help="print errors only, not notes about leftovers")
    fsck.set_defaults(func=fsck_command)

    system = subparsers.add_parser("system", help="manage the store (df, prune)")
    actions = system.add_subparsers(dest="system_command", metavar="COMMAND")
    system.set_defaults(func=lambda args, ctx: (system.print_help(), 0)[1])
    prune = actions.add_parser("prune", help="remove dangling images, unused blobs and snapshots, leftovers")
    prune.add_argument("-a", "--all", action="store_true", help="remove all images, not just dangling ones")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=system_prune_command)
    df = actions.add_parser("df", help="show store disk usage")
    df.add_argument("-v", "--verbose", action="store_true", help="show per-image usage")
    df.set_defaults(func=system_df_command)


def fsck_command(args, ctx) -> int:
    problems = ctx.store.fsck()
    errors = [p for p in problems if p.is_error]
    for problem in problems:
        if problem.is_error or not args.quiet:
            print(problem)
    if errors:
        print(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} found", file=sys.stderr)
        return 1
    notes = len(problems)
    print("no problems found" + (f" ({notes} note{'s' if notes != 1 else ''}; `system prune` clears them)"
                                 if notes else ""))
    return 0


def system_prune_command(args, ctx) -> int:
    if not args.force:
        what = "all images" if args.all else "all dangling images"
        sys.stdout.write("WARNING! This will remove:\n"
                         f"  - {what}\n"
                         "  - all blobs and snapshots no image uses\n"
                         "  - leftovers of interrupted writes\n\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    store = ctx.store
    report = store.prune(all=args.all)
    gc = store.gc()
    if report.lines:
        print("Deleted Images:")
        for action, text in report.lines:
            print(f"{action}: {text}")
        print()
    if gc.blobs or gc.snapshots or gc.temp_entries or gc.ingests:
        print(f"Deleted {len(gc.blobs)} unused blobs, {len(gc.snapshots)} snapshots, "
              f"{len(gc.temp_entries) + len(gc.ingests)} leftovers")
        print()
    print(f"Total reclaimed space: {human_size(report.reclaimed + gc.reclaimed)}")
    return 0


def _percent(part: int, whole: int) -> str:
    return f"{human_size(part)} ({int(part * 100 / whole) if whole else 0}%)"


def system_df_command(args, ctx) -> int:
    report = ctx.store.df()
    rows = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            ["Images", str(len(report.images)), str(report.active_images), human_size(report.images_size),
             _percent(report.images_reclaimable, report.images_size)],
            ["Snapshots", str(report.snapshots_count), "0", human_size(report.snapshots_bytes),
             _percent(report.snapshots_bytes, report.snapshots_bytes)],
            ["Blobs", str(report.blobs_count), "0", human_size(report.blobs_bytes),
             _percent(report.blobs_reclaimable, report.blobs_bytes)],
            ["Build Cache", str(report.build_cache_count), "0", human_size(report.build_cache_bytes),
             human_size(report.build_cache_bytes)]]
    if args.verbose:
        sys.stdout.write("Images space usage:\n\n")
        table = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]]
        from layerlab.engine.oci.config import parse_time

        for image in report.images:
            names = [Reference.parse(t) for t in image.tags] or [None]
            for ref in names:
                table.append([ref.familiar_name if ref else "<none>", (ref.tag or "<none>") if ref else "<none>",
                              image.id.short, created_since(parse_time(image.created)), human_size(image.size),
                              human_size(image.shared_size), human_size(image.unique_size), "0"])
        sys.stdout.write(render_table(table) + "\n")
        sys.stdout.write("Store space usage:\n\n")
    sys.stdout.write(render_table(rows))
    return 0
