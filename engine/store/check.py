"""``fsck``: re-verify every blob, image and snapshot and say what is wrong.

Checks, in order:

1. SQLite ``PRAGMA integrity_check`` and ``foreign_key_check``.
2. Every blob under ``blobs/`` rehashes to its name.
3. Every layer record: blob present, decompresses, and hashes to its diff ID
   with the recorded uncompressed size.
4. Every image: config blob present and parses; ``rootfs.diff_ids`` match
   its layer rows in order, and their chain IDs are right; manifest blob
   present, parses, names this config and these layer blobs; parent exists.
5. Every snapshot: recorded ones exist, have ``snapshot.json`` and ``layer/``,
   and the layer directory holds exactly what its layer blob holds (each
   damaged one is named with its first differences; the check goes on);
   directories with no record are noted.
6. Leftovers: scratch under ``tmp/`` from processes that are gone, partial
   ingests, unreferenced blobs. These are *notes* (``gc`` / ``system prune``
   clears them), not errors: a killed writer leaves exactly these.
"""

from __future__ import annotations

from layerlab.engine.errors import LayerlabError
from layerlab.engine.oci.chain import chain_ids
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Manifest
from layerlab.engine.record_type import record
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.layout import temp_owner_alive
from layerlab.engine.store.measure import measure_layer
from layerlab.engine.store.snapshots import LAYER, MARKER, layer_differences, read_marker

ERROR = "error"
NOTE = "note"


@record(frozen=True)
class Problem:
    severity: str   # "error" (the store is damaged) or "note" (leftovers gc clears)
    subject: str    # what it is about: a digest, an image, a path under the root
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return f"{self.severity}: {self.subject}: {self.message}"


def check_store(store: StoreCore) -> list[Problem]:
    problems: list[Problem] = []
    with store.lock.shared():
        _check_db(store, problems)
        bad_blobs = _check_blobs(store, problems)
        _check_layers(store, problems, bad_blobs)
        _check_images(store, problems, bad_blobs)
        _check_snapshots(store, problems)
        _check_leftovers(store, problems)
    return problems


def _check_db(store: StoreCore, problems: list[Problem]) -> None:
    problems.extend(Problem(ERROR, "meta.db", message) for message in store.meta.integrity_problems())
    lost = store.meta.lost_metadata()
    if lost is not None:
        problems.append(Problem(ERROR, "meta.db", f"{lost}: the image records are lost, so prune and gc refuse "
                                                  "to run; restore meta.db from a backup, or start over in a new root"))


def _check_blobs(store: StoreCore, problems: list[Problem]) -> set[str]:
    bad: set[str] = set()
    for digest in store.blobs.digests():
        try:
            actual = store.blobs.verify(digest)
        except OSError as error:
            problems.append(Problem(ERROR, str(digest), f"blob unreadable: {error.strerror}"))
            bad.add(str(digest))
            continue
        if actual != digest:
            problems.append(Problem(ERROR, str(digest), f"blob content hashes to {actual}"))
            bad.add(str(digest))
    for path in store.layout.blobs.iterdir():
        if path.name != "sha256" or not path.is_dir():
            problems.append(Problem(NOTE, f"blobs/{path.name}", "unexpected entry in blobs/"))
    return bad


def _check_layers(store: StoreCore, problems: list[Problem], bad_blobs: set[str]) -> None:
    for row in store.meta.layer_rows():
        digest = Digest.parse(row["digest"])
        if not store.blobs.has(digest):
            if store.meta.layer_in_use(row["digest"]):
                problems.append(Problem(ERROR, row["digest"], "layer blob missing"))
            continue
        if row["digest"] in bad_blobs:
            continue
        try:
            measured = measure_layer(store.blobs.open(digest), what=f"layer {digest}")
        except (LayerlabError, OSError, EOFError) as error:
            problems.append(Problem(ERROR, row["digest"], f"layer does not read back: {error}"))
            continue
        if str(measured.diff_id) != row["diff_id"]:
            problems.append(Problem(ERROR, row["digest"], f"layer decompresses to {measured.diff_id}, "
                                                          f"recorded diff_id {row['diff_id']}"))
        elif (measured.tar_size, measured.content_size) != (row["uncompressed_size"], row["content_size"]):
            problems.append(Problem(ERROR, row["digest"], f"layer sizes {measured.tar_size}/{measured.content_size}"
                                    f" differ from the recorded {row['uncompressed_size']}/{row['content_size']}"))


def _check_images(store: StoreCore, problems: list[Problem], bad_blobs: set[str]) -> None:
    known_ids = store.meta.image_ids()
    for row in store.meta.image_rows():
        image_id = Digest.parse(row["id"])
        subject = f"image {image_id.short}"
        layer_rows = store.meta.image_layer_records(row["id"])
        for layer in layer_rows:
            if layer["known"] is None:
                problems.append(Problem(ERROR, subject, f"layer {layer['position']} ({layer['digest']}) has no record"))
            if not store.blobs.has(Digest.parse(layer["digest"])):
                problems.append(Problem(ERROR, subject, f"layer {layer['position']} blob {layer['digest']} missing"))
        if row["parent"] and row["parent"] not in known_ids:
            problems.append(Problem(ERROR, subject, f"parent {row['parent']} does not exist"))
        if not store.blobs.has(image_id):
            problems.append(Problem(ERROR, subject, "config blob missing"))
            continue
        if row["id"] in bad_blobs:
            continue
        try:
            config = ImageConfig.parse(store.blobs.read(image_id), where="config")
            diff_ids = config.diff_ids
        except LayerlabError as error:
            problems.append(Problem(ERROR, subject, error.one_line()))
            continue
        recorded = [Digest.parse(layer["diff_id"]) for layer in layer_rows]
        if recorded != diff_ids:
            problems.append(Problem(ERROR, subject, f"layer records ({len(recorded)}) differ from the config's "
                                                    f"rootfs.diff_ids ({len(diff_ids)})"))
        elif [str(c) for c in chain_ids(diff_ids)] != [layer["chain_id"] for layer in layer_rows]:
            problems.append(Problem(ERROR, subject, "recorded chain IDs are wrong"))
        manifest_digest = Digest.parse(row["manifest_digest"])
        if not store.blobs.has(manifest_digest):
            problems.append(Problem(ERROR, subject, f"manifest blob {manifest_digest} missing"))
            continue
        if row["manifest_digest"] in bad_blobs:
            continue
        try:
            manifest = Manifest.parse(store.blobs.read(manifest_digest), where="manifest")
        except LayerlabError as error:
            problems.append(Problem(ERROR, subject, error.one_line()))
            continue
        if manifest.config.digest != image_id:
            problems.append(Problem(ERROR, subject, f"manifest names config {manifest.config.digest}"))
        if [str(d.digest) for d in manifest.layers] != [layer["digest"] for layer in layer_rows]:
            problems.append(Problem(ERROR, subject, "manifest layers differ from the recorded layer blobs"))


def _check_snapshots(store: StoreCore, problems: list[Problem]) -> None:
    """Check each snapshot on its own: whatever one of them raises is reported, and the next is checked."""
    recorded = store.meta.snapshot_chains()
    on_disk = {f"sha256:{p.name}" for p in store.layout.snapshots.iterdir()}
    for chain in sorted(recorded - on_disk):
        problems.append(Problem(ERROR, f"snapshot {chain}", "recorded but its directory is missing"))
    for chain in sorted(on_disk):
        subject = f"snapshot {chain}"
        try:
            problem = _snapshot_problem(store, chain)
        except (LayerlabError, OSError, ValueError, EOFError) as error:
            text = error.one_line() if isinstance(error, LayerlabError) else str(error)
            problem = f"cannot be checked: {text}"
        if problem:
            problems.append(Problem(ERROR, subject, problem))
        elif chain not in recorded:
            problems.append(Problem(NOTE, subject, "complete but unrecorded (gc removes it unless an image uses it)"))


def _snapshot_problem(store: StoreCore, chain: str) -> str | None:
    """What is wrong with one snapshot directory, None when it matches its layer blob."""
    path = store.layout.snapshot(Digest.parse(chain))
    if not (path / MARKER).is_file() or not (path / LAYER).is_dir():
        return f"incomplete: no {MARKER} or {LAYER}/"
    marker = read_marker(path)
    if marker.get("chain_id") != chain:
        return f"{MARKER} names chain {marker.get('chain_id')}"
    differences = layer_differences(store, Digest.parse(chain), str(marker.get("diff_id")))
    if differences:
        return "files differ from its layer blob: " + "; ".join(differences)
    return None


def _check_leftovers(store: StoreCore, problems: list[Problem]) -> None:
    for entry in sorted(store.layout.tmp.iterdir()):
        if not temp_owner_alive(entry.name):
            problems.append(Problem(NOTE, f"tmp/{entry.name}", "left by a process that is gone (gc removes it)"))
    for entry in sorted(store.layout.ingest.iterdir()):
        problems.append(Problem(NOTE, f"ingest/{entry.name}", "partial ingest (resumable; gc removes it after a day)"))
    if store.meta.lost_metadata() is not None:
        return  # every blob looks unused without the records: saying "gc removes it" would invite the damage
    live = store.meta.live_digests()
    for digest in store.blobs.digests():
        if str(digest) not in live:
            problems.append(Problem(NOTE, str(digest), "blob no image uses (gc removes it)"))
