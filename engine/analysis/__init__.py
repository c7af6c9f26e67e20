"""Layer analysis: per-layer changes, stacked trees, waste (dive's score and ours), image diffs.

Everything here works on a list of ``LayerSource`` (open an uncompressed
layer tar + the instruction that made it), so any image source works.
"""

from __future__ import annotations

from layerlab.engine.analysis.image_analysis import Change, ImageAnalysis, LayerSource, LayerSummary, StackedTree, analyze
from layerlab.engine.analysis.dive import DiveScore
from layerlab.engine.analysis.waste import WasteReport, waste_report

__all__ = ["Change", "ImageAnalysis", "LayerSource", "LayerSummary", "StackedTree", "analyze", "DiveScore",
           "WasteReport", "waste_report"]
