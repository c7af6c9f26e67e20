"""CI rules in dive's ``.dive-ci`` format, evaluated the way dive evaluates them.

    rules:
      lowestEfficiency: 0.95          # fail when efficiency < value
      highestWastedBytes: 20MB        # fail when wasted bytes > value (humanized)
      highestUserWastedPercent: 0.20  # fail when wasted / user bytes > value
      # kebab-case keys (lowest-efficiency, ...) work too; "disabled" turns a rule off

Defaults are dive's: 0.9, disabled, 0.1. A value that does not parse fails
its rule with a message, as in dive. The measures are dive's (its efficiency,
its wasted bytes and user-wasted percent) so a file written for dive gives
the same verdict; ``measure="reclaimable"`` judges our reclaimable bytes instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.record_type import record

RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
DEFAULTS = {"lowestEfficiency": "0.9", "highestWastedBytes": "disabled", "highestUserWastedPercent": "0.1"}
_KEBAB = {"lowest-efficiency": "lowestEfficiency", "highest-wasted-bytes": "highestWastedBytes",
          "highest-user-wasted-percent": "highestUserWastedPercent"}
_BYTES = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$")
_UNITS = {"": 1, "b": 1,
          "k": 1000, "kb": 1000, "m": 1000 ** 2, "mb": 1000 ** 2, "g": 1000 ** 3, "gb": 1000 ** 3,
          "t": 1000 ** 4, "tb": 1000 ** 4, "p": 1000 ** 5, "pb": 1000 ** 5,
          "ki": 1024, "kib": 1024, "mi": 1024 ** 2, "mib": 1024 ** 2, "gi": 1024 ** 3, "gib": 1024 ** 3,
          "ti": 1024 ** 4, "tib": 1024 ** 4, "pi": 1024 ** 5, "pib": 1024 ** 5}


def parse_bytes(text: str) -> int:
    """Sizes as dive (go-humanize ParseBytes) reads them: "20MB" = 20,000,000; "20MiB" = 20 x 1024^2."""
    match = _BYTES.match(text.replace(",", ""))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"unhandled size name: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _scalar(raw: str) -> str:
    value = raw.split(" #", 1)[0].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def parse_ci_config(text: str, *, where: str = ".dive-ci") -> dict[str, str]:
    """The rule values of a ``.dive-ci`` file (a small YAML subset: a ``rules:`` map of scalars)."""
    rules = dict(DEFAULTS)
    in_rules = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indented = line[:1] in (" ", "\t")
        key, colon, value = stripped.partition(":")
        if not colon:
            raise UsageError(f"{where}:{number}: expected 'key: value'")
        key = key.strip().strip("'\"")
        if not indented:
            in_rules = key == "rules"
            if in_rules and _scalar(value):
                raise UsageError(f"{where}:{number}: 'rules' must be a map of rule: value")
            continue
        if not in_rules:
            continue
        name = _KEBAB.get(key, key)
        if name not in RULES:
            raise UsageError(f"{where}:{number}: unknown rule {key!r} (known: {', '.join(RULES)})")
        rules[name] = _scalar(value)
    return rules


def load_ci_config(path: Path | None) -> dict[str, str]:
    """Rules from ``path``; without one, ``./.dive-ci`` when present, else dive's defaults."""
    if path is None:
        default = Path(".dive-ci")
        if not default.is_file():
            return dict(DEFAULTS)
        path = default
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotFound(f"{path}: no such CI config file") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not a CI config file: byte {error.start} is not UTF-8") from None
    return parse_ci_config(text, where=str(path))


@record(frozen=True)
class RuleResult:
    rule: str
    status: str  # PASS, FAIL or SKIP
    message: str = ""

    def to_json(self) -> dict:
        return {"rule": self.rule, "status": self.status, "message": self.message}


def evaluate(rules: dict[str, str], *, efficiency: float, wasted_bytes: int,
             user_wasted_percent: float) -> list[RuleResult]:
    results = []
    for rule in RULES:
        value = rules.get(rule, DEFAULTS[rule])
        if value == "disabled":
            results.append(RuleResult(rule, "SKIP", "rule disabled"))
            continue
        try:
            if rule == "lowestEfficiency":
                threshold = float(value)
                failed = threshold > efficiency
                message = f"image efficiency is too low (efficiency={efficiency} < threshold={threshold})"
            elif rule == "highestWastedBytes":
                limit = parse_bytes(value)
                failed = wasted_bytes > limit
                message = f"too many bytes wasted (wasted-bytes={wasted_bytes} > threshold={limit})"
            else:
                threshold = float(value)
                failed = threshold < user_wasted_percent
                message = ("too many bytes wasted, relative to the user bytes added "
                           f"(%-user-wasted-bytes={user_wasted_percent} > threshold={threshold})")
        except ValueError as error:
            results.append(RuleResult(rule, "FAIL", f"invalid config value ({value!r}): {error}"))
            continue
        results.append(RuleResult(rule, "FAIL", message) if failed else RuleResult(rule, "PASS"))
    return results


def passed(results: list[RuleResult]) -> bool:
    return all(result.status != "FAIL" for result in results)
