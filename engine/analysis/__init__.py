"""Layer analysis: per-layer changes, stacked trees, waste (dive's score and ours), image diffs.

Everything here works on a list of ``LayerSource`` (open an uncompressed
layer tar + the instruction that made it), so any image source works.
"""

from __future__ import annotations

from engine.analysis.analysis import Change, ImageAnalysis, LayerSource, LayerSummary, StackedTree, analyze
from engine.analysis.dive import DiveScore
from engine.analysis.waste import WasteReport, waste_report

__all__ = ["Change", "ImageAnalysis", "LayerSource", "LayerSummary", "StackedTree", "analyze", "DiveScore",
           "WasteReport", "waste_report"]
