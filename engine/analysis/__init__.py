"""Layer analysis: per-layer changes, stacked trees, waste (dive's score and ours), image diffs.

Everything here works on a list of ``LayerSource`` (open an uncompressed
layer tar + the instruction that made it), so any image source works.

- ``image_pass``: one pass over an image's layers (``analyze``): entries, changes, trees.
- ``layer_changes``: stacking layers with the OCI spec's semantics; what each layer adds, modifies, removes.
- ``model``: the compact path and entry tables the pass fills.
- ``waste``, ``dive``: reclaimable bytes, and dive's efficiency score reproduced exactly.
- ``history``: which instruction made each layer, and where the base image ends.
- ``imagediff``: two images compared file by file.
- ``extract``: one file or directory out of an image.
- ``query``: path filters, directory sizes, sorting.
- ``image_sources``: the store, a docker-archive, an OCI layout as ``LayerSource`` lists.
- ``ci``: dive's ``.dive-ci`` rules.
"""

from __future__ import annotations

from layerlab.engine.analysis.dive import DiveScore
from layerlab.engine.analysis.image_pass import Change, ImageAnalysis, LayerSource, LayerSummary, StackedTree, analyze
from layerlab.engine.analysis.waste import WasteReport, waste_report

__all__ = ["Change", "ImageAnalysis", "LayerSource", "LayerSummary", "StackedTree", "analyze", "DiveScore",
           "WasteReport", "waste_report"]
