"""dive's efficiency reproduced; our reclaimable bytes against hand-computed values."""

from __future__ import annotations

import pytest

from layerlab.engine.analysis import analyze, waste_report
from layerlab.engine.oci.config import HistoryEntry
from layerlab.engine.analysis.history import guess_base_layers, instruction_text, layer_instructions
from tests.analysis.layertar import layer_tar, sources


def test_dive_unit_test_example_scores_075():
    # dive's filetree/efficiency_test.go: its trees have no directory headers,
    # so the /etc/nginx whiteout is sized 0 and the score is exactly 0.75.
    analysis = analyze(sources(
        layer_tar(("f", "etc/nginx/nginx.conf", 2000), ("f", "etc/nginx/public", 3000), parents=False),
        layer_tar(("f", "etc/nginx/nginx.conf", 5000), ("f", "etc/athing", 10000), parents=False),
        layer_tar(("wh", "etc/nginx"), parents=False),
    ))
    dive = analysis.dive
    assert dive.efficiency == 0.75
    assert [(item.path, item.cumulative_size, item.count) for item in dive.inefficiencies] == [
        ("/etc/nginx/nginx.conf", 7000, 2)]
    assert dive.wasted_bytes == 7000
    # ours: the old nginx.conf (2000), then the deleted nginx.conf (5000) and public (3000)
    assert waste_report(analysis).reclaimable_bytes == 10000


def test_same_example_with_directory_headers_sizes_the_deleted_directory():
    # Real layer tars carry /etc/nginx's header, so dive sizes the whiteout by
    # everything it hid (5000 + 3000): min 2000+3000+10000+8000 over 7000+3000+10000+8000.
    analysis = analyze(sources(
        layer_tar(("f", "etc/nginx/nginx.conf", 2000), ("f", "etc/nginx/public", 3000)),
        layer_tar(("f", "etc/nginx/nginx.conf", 5000), ("f", "etc/athing", 10000)),
        layer_tar(("wh", "etc/nginx")),
    ))
    assert analysis.dive.efficiency == pytest.approx(23000 / 28000)
    assert analysis.dive.wasted_bytes == 7000


def test_removing_etc_nginx_with_a_3000_byte_file():
    # dive counts the deleted directory once as a 3000-byte leaf of its own,
    # so nothing is seen twice: score 1.0 and no wasted bytes, although the
    # 3000 bytes still ship in layer 1. Reclaimable bytes count them.
    analysis = analyze(sources(
        layer_tar(("f", "bin/sh", 500)),
        layer_tar(("f", "etc/nginx/nginx.conf", 3000)),
        layer_tar(("wh", "etc/nginx")),
    ))
    assert analysis.dive.efficiency == 1.0
    assert analysis.dive.wasted_bytes == 0
    report = waste_report(analysis)
    assert report.reclaimable_bytes == 3000
    assert report.user_reclaimable_bytes == 3000  # stored in layer 1, above the one-layer base


def test_deleting_a_file_scores_it_as_wasted_for_dive():
    # A file whiteout is a 0-byte leaf: min 0, cumulative 3000 -> score 0.
    analysis = analyze(sources(layer_tar(("f", "big", 3000)), layer_tar(("wh", "big"))))
    assert analysis.dive.efficiency == 0.0
    assert analysis.dive.wasted_bytes == 3000
    assert analysis.dive.user_size_bytes == 0


def test_dive_ignores_opaque_markers_we_do_not():
    analysis = analyze(sources(
        layer_tar(("f", "d/x", 10), ("f", "d/y", 20)),
        layer_tar(("opq", "d"), ("f", "d/z", 5)),
    ))
    assert analysis.dive.efficiency == 1.0
    assert waste_report(analysis).reclaimable_bytes == 30


def test_dive_counts_kept_copy_in_wasted_bytes_we_do_not():
    analysis = analyze(sources(layer_tar(("f", "a", 100)), layer_tar(("f", "a", 100)), layer_tar(("f", "a", 100))))
    assert analysis.dive.wasted_bytes == 300
    assert analysis.dive.efficiency == pytest.approx(100 / 300)
    assert waste_report(analysis).reclaimable_bytes == 200


BUILD = [
    "ADD file:rootfs in /",                                     # 0 base
    "RUN apk add --no-cache busybox-extras",                    # 1 base
    "RUN apt-get update",                                       # 2
    "RUN rm -rf /var/lib/apt/lists/*",                          # 3
    "COPY app.tar.gz /tmp/",                                    # 4
    "RUN tar xzf /tmp/app.tar.gz -C /opt && rm /tmp/app.tar.gz",  # 5
    "RUN chmod 0755 /opt/app/run",                              # 6
    "RUN rm /etc/motd",                                         # 7
]


def build_image():
    return analyze(sources(
        layer_tar(("f", "etc/motd", 300), ("f", "bin/sh", 1000)),
        layer_tar(("f", "usr/bin/telnet", 2000), ("f", "etc/motd", 400)),
        layer_tar(("f", "var/lib/apt/lists/main", 5000), ("f", "var/lib/apt/lists/security", 1500)),
        layer_tar(("opq", "var/lib/apt/lists")),
        layer_tar(("f", "tmp/app.tar.gz", 8000)),
        layer_tar(("wh", "tmp/app.tar.gz"), ("f", "opt/app/run", 700, 0o644)),
        layer_tar(("f", "opt/app/run", 700, 0o755)),
        layer_tar(("wh", "etc/motd")),
        instructions=BUILD,
    ), base_layers=2)


def test_reclaimable_bytes_match_hand_computed_values():
    report = waste_report(build_image())
    # dead copies: motd 300 (layer 0) + 400 (layer 1), apt lists 6500 (2), tarball 8000 (4), run 700 (5)
    assert report.reclaimable_bytes == 300 + 400 + 6500 + 8000 + 700
    assert report.stored_bytes == 1300 + 2400 + 6500 + 8000 + 700 + 700
    assert report.kept_bytes == 1000 + 2000 + 700
    assert report.base_reclaimable_bytes == 700  # every base layer counts as base, not just the first
    assert report.user_reclaimable_bytes == 6500 + 8000 + 700
    assert report.user_size_bytes == 6500 + 8000 + 700 + 700
    assert report.stored_waste_by_layer == [300, 400, 6500, 0, 8000, 700, 0, 0]
    assert report.caused_waste_by_layer == [0, 300, 0, 6500, 0, 8000, 700, 400]


def test_each_wasted_byte_is_attributed_with_a_hint():
    report = waste_report(build_image())
    by_stored = {offender.stored_layer: offender for offender in report.offenders}
    assert [o.bytes for o in report.offenders] == sorted((o.bytes for o in report.offenders), reverse=True)
    tarball = by_stored[4]
    assert (tarball.caused_by_layer, tarball.how, tarball.files, tarball.bytes) == (5, "deleted", 1, 8000)
    assert tarball.examples == ["/tmp/app.tar.gz"] and ".dockerignore" in tarball.hint
    lists = by_stored[2]
    assert (lists.caused_by_layer, lists.category, lists.bytes) == (3, "apt-lists", 6500)
    assert "same RUN" in lists.hint and "apt-get update" in lists.hint
    assert lists.caused_by_instruction == "RUN rm -rf /var/lib/apt/lists/*"
    chmod = by_stored[5]
    assert (chmod.caused_by_layer, chmod.how) == (6, "overwritten")
    assert "--chmod" in chmod.hint
    assert "base image" in by_stored[1].hint and by_stored[1].caused_by_layer == 7


def test_history_maps_layers_and_finds_the_base_image():
    rows = [
        HistoryEntry(created_by="/bin/sh -c #(nop) ADD file:abc in / ", empty_layer=False),
        HistoryEntry(created_by='/bin/sh -c #(nop)  CMD ["/bin/sh"]', empty_layer=True),
        HistoryEntry(created_by="RUN /bin/sh -c apt-get update # buildkit", empty_layer=False),
        HistoryEntry(created_by="ENV A=b", empty_layer=True),
        HistoryEntry(created_by="|1 V=2 /bin/sh -c make", empty_layer=False),
        HistoryEntry(created_by='CMD ["app"]', empty_layer=True),
    ]
    assert layer_instructions(rows, 3) == ["ADD file:abc in /", "RUN apt-get update", "RUN make"]
    assert layer_instructions(rows, 4)[-1] == "(missing)"
    assert guess_base_layers(rows, 3) == 1
    assert guess_base_layers(rows[2:], 2) == 1  # no base CMD: dive's first-layer assumption
    two_layer_base = [HistoryEntry(created_by="ADD x /"), HistoryEntry(created_by="RUN y"),
                      HistoryEntry(created_by='CMD ["sh"]', empty_layer=True), HistoryEntry(created_by="RUN z")]
    assert guess_base_layers(two_layer_base, 3) == 2
    assert instruction_text("COPY . /app # buildkit") == "COPY . /app"
