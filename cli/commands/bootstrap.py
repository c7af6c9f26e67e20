"""``bootstrap busybox [REF]``: a reproducible base image from the host's static busybox."""

from __future__ import annotations

from layerlab.engine.bootstrap import DEFAULT_BUSYBOX, DEFAULT_REF, busybox_image
from layerlab.engine.errors import NotFound


def register(subparsers) -> None:
    parser = subparsers.add_parser("bootstrap", help="make a base image offline from a host binary")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    busybox = kinds.add_parser("busybox", help="a busybox image from the host's static busybox (busybox-static)")
    busybox.add_argument("reference", nargs="?", default=DEFAULT_REF, metavar="REF", help=f"default {DEFAULT_REF}")
    busybox.add_argument("--busybox", default=DEFAULT_BUSYBOX, metavar="PATH", help="the static busybox binary")
    busybox.add_argument("--if-missing", action="store_true",
                         help="do nothing when REF already names an image (a second start of the app)")
    busybox.set_defaults(func=busybox_command)


def busybox_command(args, ctx) -> int:
    if args.if_missing:
        # A second start of the app: one query instead of listing applets and hashing a layer again.
        try:
            print(f"{args.reference}: {ctx.store.resolve(args.reference)}")
            return 0
        except NotFound:
            pass
    stored = ctx.store.put_image(busybox_image(args.busybox), tags=[args.reference])
    print(f"{args.reference}: {stored.id}")
    return 0
