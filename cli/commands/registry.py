"""``pull``, ``push``, ``login``, ``logout``, ``search`` and ``tags``: the store meets registries."""

from __future__ import annotations

import getpass
import os
import sys
import threading

from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.events import TransferProgress
from layerlab.engine.oci.digest import short_id
from layerlab.engine.reference import Reference
from layerlab.engine.registry.auth import Credentials, DockerConfig
from layerlab.engine.registry.catalog import list_tags, search
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.login import log_in
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.cli.commands._image_group import add_both
from layerlab.cli.output import format_rows

REGISTRY_ENV = "LAYERLAB_REGISTRY"
SEARCH_TABLE = "table {{.Name}}"
TAGS_TABLE = "table {{.Repository}}\t{{.Tag}}"
HUB_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
HEADERS = {"Name": "NAME", "Repository": "REPOSITORY", "Tag": "TAG", "Description": "DESCRIPTION",
           "StarCount": "STARS", "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"}


def _insecure_flag(parser) -> None:
    parser.add_argument("--insecure", action="store_true",
                        help="allow plain http and unverified TLS for this registry")


def register(subparsers) -> None:
    for parser in add_both(subparsers, "pull", help="download an image from a registry"):
        parser.add_argument("reference", metavar="NAME[:TAG|@DIGEST]")
        parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="platform to pull (default: this host's)")
        parser.add_argument("-q", "--quiet", action="store_true", help="print only the image reference")
        _insecure_flag(parser)
        parser.set_defaults(func=pull_command)
    for parser in add_both(subparsers, "push", help="upload an image to a registry"):
        parser.add_argument("reference", metavar="NAME[:TAG]")
        parser.add_argument("-q", "--quiet", action="store_true", help="print only the manifest digest")
        _insecure_flag(parser)
        parser.set_defaults(func=push_command)
    login = subparsers.add_parser("login", help="log in to a registry (credentials go to Docker's config.json)")
    login.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    login.add_argument("-u", "--username")
    login.add_argument("-p", "--password")
    login.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    _insecure_flag(login)
    login.set_defaults(func=login_command)
    logout = subparsers.add_parser("logout", help="forget the credentials for a registry")
    logout.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")
    logout.set_defaults(func=logout_command)
    found = subparsers.add_parser("search", help="search Docker Hub, or a registry's catalog, for repositories")
    found.add_argument("term", metavar="TERM")
    found.add_argument("--registry", metavar="HOST[:PORT]",
                       help=f"search this registry's catalog (default: ${REGISTRY_ENV}; unset: Docker Hub)")
    found.add_argument("--limit", type=int, default=None, help="show at most this many results (Hub: 25)")
    found.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                       help="Hub only: stars=N, is-official=true|false, is-automated=true|false")
    found.add_argument("--no-trunc", action="store_true", help="do not truncate descriptions")
    found.add_argument("--format", help="table, json, or a Go template")
    _insecure_flag(found)
    found.set_defaults(func=search_command)
    tags = subparsers.add_parser("tags", help="list the tags of a repository on its registry")
    tags.add_argument("repository", metavar="REPOSITORY")
    tags.add_argument("--format", help="table, json, or a Go template")
    _insecure_flag(tags)
    tags.set_defaults(func=tags_command)


def _server(text: str) -> str:
    """A registry host as people type it: ``https://host:5000/`` -> ``host:5000``."""
    text = text.strip()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.split("/", 1)[0]
    if text in ("index.docker.io", "registry-1.docker.io", "docker.io"):
        return "docker.io"
    if not text:
        raise UsageError("no registry given")
    return text


class _LayerLines:
    """Prints one line per blob as it finishes (the order it finishes in), as ``docker pull`` does."""

    def __init__(self, out, done_word: str):
        self.out = out
        self.done_word = done_word
        self.finished: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        if not isinstance(event, TransferProgress) or event.done < event.total and event.total:
            return
        with self.lock:
            if event.digest in self.finished:
                return
            self.finished.add(event.digest)
            word = "Already exists" if event.action == "exists" else self.done_word
            self.out.write(f"{short_id(event.digest)}: {word}\n")
            self.out.flush()


def pull_command(args, ctx) -> int:
    ref = Reference.parse(args.reference)
    out = sys.stdout
    store = ctx.store
    try:
        before = store.resolve(str(ref))
    except NotFound:
        before = None
    if not args.quiet:
        out.write(f"{ref.tag or ref.digest}: Pulling from {ref.path if ref.domain != 'docker.io' else ref.familiar_name}\n")
    events = None if args.quiet else _LayerLines(out, "Pull complete")
    image = pull(ref, store, platform=args.platform, events=events, insecure=args.insecure)
    if args.quiet:
        out.write(f"{ref.familiar}\n")
        return 0
    digest = next((d.split("@", 1)[1] for d in image.repo_digests if d.startswith(ref.repository + "@")), "")
    out.write(f"Digest: {digest}\n")
    status = "Image is up to date for" if before == image.id else "Downloaded newer image for"
    out.write(f"Status: {status} {ref.familiar}\n{ref.familiar}\n")
    return 0


def push_command(args, ctx) -> int:
    ref = Reference.parse(args.reference)
    out = sys.stdout
    if not args.quiet:
        out.write(f"The push refers to repository [{ref.familiar_name}]\n")
    result = push(ref, ctx.store, insecure=args.insecure)
    if args.quiet:
        out.write(f"{result.digest}\n")
        return 0
    image = ctx.store.image(str(ref))
    words = {"exists": "Layer already exists", "mounted": "Mounted from another repository", "pushed": "Pushed"}
    for digest, how in result.blobs.items():
        if digest != str(image.id):
            out.write(f"{short_id(digest)}: {words.get(how, how)}\n")
    out.write(f"{ref.tag or ref.digest}: digest: {result.digest} size: {result.size}\n")
    return 0


def login_command(args, ctx) -> int:
    server = _server(args.server)
    username = args.username
    if args.password_stdin:
        if args.password:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        if not username:
            raise UsageError("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = args.password
    config = DockerConfig()
    if not username and not password:
        known = config.get(server)
        if known is not None:
            username, password = known.username, known.secret
    if not username:
        if not sys.stdin.isatty():
            raise UsageError("cannot prompt for a username: stdin is not a terminal (use --username)")
        username = input("Username: ").strip()
    if not password:
        if not sys.stdin.isatty():
            raise UsageError("cannot prompt for a password: stdin is not a terminal (use --password-stdin)")
        password = getpass.getpass("Password: ")
    if args.password and not args.password_stdin:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
    log_in(server, Credentials(username, password), insecure=args.insecure, config=config)
    sys.stdout.write("Login Succeeded\n")
    return 0


def logout_command(args, ctx) -> int:
    server = _server(args.server)
    if DockerConfig().erase(server):
        sys.stdout.write(f"Removing login credentials for {server}\n")
    else:
        sys.stdout.write(f"Not logged in to {server}\n")
    return 0


def search_command(args, ctx) -> int:
    registry = args.registry or os.environ.get(REGISTRY_ENV)
    if not registry:
        return _hub_search(args)
    if args.filter:
        raise UsageError("search --filter works on Docker Hub's search, not on a registry's catalog")
    server = _server(registry)
    names = search(RegistryClient(server, insecure=args.insecure), args.term)
    if args.limit:
        names = names[: args.limit]
    rows = [{"Name": f"{server}/{name}", "Repository": name, "Registry": server} for name in names]
    sys.stdout.write(format_rows(args.format, rows, SEARCH_TABLE, HEADERS))
    return 0


def _hub_search(args) -> int:
    from layerlab.engine.registry.hub_search import DEFAULT_LIMIT, SearchFilter, hub_search

    filters = SearchFilter.parse(args.filter)
    results = hub_search(args.term, limit=args.limit or DEFAULT_LIMIT, filters=filters)
    rows = []
    for result in results:
        description = result.description.replace("\n", " ").replace("\r", " ")
        if not args.no_trunc and len(description) > 45:
            description = description[:44] + "…"   # docker's Ellipsis(description, 45)
        rows.append({"Name": result.name, "Description": description, "StarCount": result.star_count,
                     "IsOfficial": "[OK]" if result.is_official else "",
                     "IsAutomated": "[OK]" if result.is_automated else ""})
    sys.stdout.write(format_rows(args.format, rows, HUB_TABLE, HEADERS))
    return 0


def tags_command(args, ctx) -> int:
    ref = Reference.parse(args.repository, default_tag=None)
    if ref.tag or ref.digest:
        raise UsageError(f"tags takes a repository, not an image reference: {args.repository!r}")
    tags = list_tags(RegistryClient(ref.domain, insecure=args.insecure), ref.path)
    rows = [{"Repository": ref.familiar_name, "Tag": tag, "Name": f"{ref.familiar_name}:{tag}"} for tag in tags]
    sys.stdout.write(format_rows(args.format, rows, TAGS_TABLE, HEADERS))
    return 0
