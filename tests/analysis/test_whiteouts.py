"""Every whiteout form, on hand-built layer tars with known answers."""

from __future__ import annotations

from layerlab.engine.analysis import analyze, waste_report
from tests.analysis.layertar import layer_tar, sources


def changes(analysis, layer: int) -> list[tuple[str, str]]:
    return [(change.code, change.path) for change in analysis.layer_changes(layer)]


def files(analysis, layer: int | None = None) -> dict[str, int]:
    return {path: (entry.size if entry else 0) for path, entry in analysis.tree(layer).walk()}


def test_file_whiteout_deletes_one_file():
    analysis = analyze(sources(
        layer_tar(("f", "app/keep", 10), ("f", "app/secret", 100)),
        layer_tar(("wh", "app/secret")),
    ))
    assert changes(analysis, 1) == [("D", "/app/secret")]
    assert files(analysis) == {"/app": 0, "/app/keep": 10}
    assert files(analysis, 0) == {"/app": 0, "/app/keep": 10, "/app/secret": 100}
    assert waste_report(analysis).reclaimable_bytes == 100


def test_directory_whiteout_deletes_the_whole_subtree():
    analysis = analyze(sources(
        layer_tar(("f", "d/x", 10), ("f", "d/sub/y", 20), ("f", "other", 1)),
        layer_tar(("wh", "d")),
    ))
    assert changes(analysis, 1) == [("D", "/d"), ("D", "/d/sub"), ("D", "/d/sub/y"), ("D", "/d/x")]
    assert files(analysis) == {"/other": 1}
    summary = analysis.summaries()[1]
    assert (summary.added, summary.modified, summary.removed) == (0, 0, 4)
    report = waste_report(analysis)
    assert report.reclaimable_bytes == 30
    assert report.caused_waste_by_layer == [0, 30]


def test_opaque_directory_hides_lower_contents_only():
    analysis = analyze(sources(
        layer_tar(("f", "d/x", 10), ("f", "d/y", 20), ("f", "d/sub/z", 40)),
        layer_tar(("opq", "d"), ("f", "d/new", 5), ("f", "d/x", 15)),
    ))
    assert changes(analysis, 1) == [("A", "/d/new"), ("D", "/d/sub"), ("D", "/d/sub/z"), ("M", "/d/x"),
                                    ("D", "/d/y")]
    assert files(analysis) == {"/d": 0, "/d/new": 5, "/d/x": 15}
    # old x (10), y (20) and z (40) are all dead weight in layer 0
    assert waste_report(analysis).reclaimable_bytes == 70


def test_opaque_marker_listed_before_or_after_its_siblings_gives_the_same_tree():
    lower = layer_tar(("f", "d/x", 10), ("f", "d/y", 20))
    marker_last = layer_tar(("f", "d/x", 15), ("opq", "d"))
    marker_first = layer_tar(("opq", "d"), ("f", "d/x", 15))
    assert files(analyze(sources(lower, marker_last))) == files(analyze(sources(lower, marker_first))) == {
        "/d": 0, "/d/x": 15}


def test_recreated_in_a_later_layer_is_an_addition():
    analysis = analyze(sources(
        layer_tar(("f", "a", 100)),
        layer_tar(("wh", "a")),
        layer_tar(("f", "a", 50)),
    ))
    assert changes(analysis, 1) == [("D", "/a")]
    assert changes(analysis, 2) == [("A", "/a")]
    assert files(analysis) == {"/a": 50}
    assert analysis.tree().entry("/a").layer == 2
    assert files(analysis, 1) == {}
    report = waste_report(analysis)
    assert (report.reclaimable_bytes, report.kept_bytes) == (100, 50)


def test_whiteout_and_recreation_in_the_same_layer_is_a_modification():
    analysis = analyze(sources(
        layer_tar(("d", "dir"), ("f", "dir/old", 7)),
        layer_tar(("wh", "dir"), ("d", "dir"), ("f", "dir/new", 3)),
    ))
    assert changes(analysis, 1) == [("M", "/dir"), ("A", "/dir/new"), ("D", "/dir/old")]
    assert files(analysis) == {"/dir": 0, "/dir/new": 3}


def test_whiteout_of_a_missing_path_changes_nothing():
    analysis = analyze(sources(layer_tar(("f", "a", 1)), layer_tar(("wh", "ghost"))))
    assert changes(analysis, 1) == []
    assert files(analysis) == {"/a": 1}


def test_file_over_a_directory_removes_its_contents():
    analysis = analyze(sources(
        layer_tar(("f", "d/x", 10)),
        layer_tar(("f", "d", 5)),
    ))
    assert changes(analysis, 1) == [("M", "/d"), ("D", "/d/x")]
    assert files(analysis) == {"/d": 5}
    assert waste_report(analysis).reclaimable_bytes == 10


def test_parents_implied_by_children_exist_without_headers():
    analysis = analyze(sources(layer_tar(("f", "usr/lib/a.so", 9), parents=False)))
    assert changes(analysis, 0) == [("A", "/usr"), ("A", "/usr/lib"), ("A", "/usr/lib/a.so")]
    assert analysis.tree().entry("/usr/lib") is None  # implied: no header of its own
    assert analysis.tree().total_size("/usr") == 9


def test_directory_carried_along_unchanged_is_not_a_change():
    analysis = analyze(sources(
        layer_tar(("d", "etc"), ("f", "etc/a", 1)),
        layer_tar(("d", "etc"), ("f", "etc/b", 2)),
        layer_tar(("d", "etc", 0o700)),
    ))
    assert changes(analysis, 1) == [("A", "/etc/b")]
    assert changes(analysis, 2) == [("M", "/etc")]


def test_rewritten_file_keeps_only_its_final_copy():
    analysis = analyze(sources(
        layer_tar(("f", "data", 1000)),
        layer_tar(("f", "data", 600)),
        layer_tar(("f", "data", 300)),
    ))
    assert [changes(analysis, layer) for layer in range(3)] == [[("A", "/data")], [("M", "/data")],
                                                                [("M", "/data")]]
    report = waste_report(analysis)
    assert (report.stored_bytes, report.kept_bytes, report.reclaimable_bytes) == (1900, 300, 1600)
    assert report.stored_waste_by_layer == [1000, 600, 0]
    assert report.caused_waste_by_layer == [0, 1000, 600]
