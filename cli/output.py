"""Docker-shaped output: tables, ``--format`` (table / json / a Go-template subset), sizes, ages.

Tables are laid out like Go's ``text/tabwriter`` as the docker CLI sets it up
(minimum cell width 10, padding 3): every column but the last is padded to
its widest cell plus three spaces.

The template subset covers what people type after ``--format``:
``{{.Field}}``, ``{{.A.B}}``, ``{{json .}}``, ``{{json .Field}}``,
``{{index .Map "key"}}``, ``{{upper .F}}`` / ``{{lower .F}}``, escapes ``\\t`` and
``\\n``, and a leading ``table`` that adds a header row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from layerlab.engine.api.ages import created_since, human_duration
from layerlab.engine.api.sizes import human_size
from layerlab.engine.errors import UsageError

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

__all__ = ["human_size", "human_duration", "created_since", "go_time", "render_table", "format_rows",
           "render_template", "template_fields", "go_string", "to_json", "print_json"]

MIN_WIDTH = 10
PADDING = 3
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


def go_time(moment: datetime | None) -> str:
    """A time as Go's ``time.Time.String()`` prints it in UTC: ``2024-01-02 03:04:05 +0000 UTC``."""
    if moment is None:
        return ""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells laid out as tabwriter does (the last cell of each row is not padded)."""
    widths: dict[int, int] = {}
    for row in rows:
        for column, cell in enumerate(row[:-1]):
            widths[column] = max(widths.get(column, MIN_WIDTH), len(cell) + PADDING)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[column]) for column, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "\n".join(lines) + ("\n" if lines else "")


# -- Go template subset ----------------------------------------------------------------------

def go_string(value: Any) -> str:
    """How Go's text/template prints a value (``[a b]`` lists, ``map[k:v]``, ``<no value>``)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _field(data: Any, path: str, template: str) -> Any:
    if path == ".":
        return data
    value = data
    for name in path.strip(".").split("."):
        if isinstance(value, Mapping):
            if name not in value:
                raise UsageError(f"template: {template}: can't evaluate field {name}")
            value = value[name]
        else:
            return None
    return value


def _evaluate(action: str, data: Any, template: str) -> str:
    words = re.findall(r'"[^"]*"|\S+', action)
    if not words:
        return ""
    if len(words) == 1 and words[0].startswith("."):
        return go_string(_field(data, words[0], template))
    function, arguments = words[0], words[1:]
    values = [json.loads(a) if a.startswith('"') else _field(data, a, template) for a in arguments]
    if function == "json" and len(values) == 1:
        return to_json(values[0])
    if function == "index" and len(values) >= 2:
        value = values[0]
        for key in values[1:]:
            value = value.get(key) if isinstance(value, Mapping) else None
        return go_string(value)
    if function in ("upper", "lower", "title") and len(values) == 1:
        return getattr(go_string(values[0]), function)()
    if function == "join" and len(values) == 2:
        return str(values[1]).join(go_string(v) for v in values[0] or [])
    raise UsageError(f"template: {template}: unsupported action {{{{{action}}}}}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_CONTROL_NAMES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def shown_name(name: str) -> str:
    """A file name for one line of text output: control characters and backslashes escaped
    (``\\n``, ``\\t``, ``\\x1b``…), so a name can never fake a line or a column of its own."""
    return _CONTROL.sub(lambda m: _CONTROL_NAMES.get(m.group(), f"\\x{ord(m.group()):02x}"), name)


def check_template(template: str) -> None:
    """Go's parse errors for what our actions cannot be: an action opened and never closed."""
    if "{{" in _ACTION.sub("", template):
        raise UsageError(f"template parsing error: template: {template}: unclosed action")


def render_template(template: str, data: Any) -> str:
    check_template(template)
    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return _ACTION.sub(lambda match: _evaluate(match.group(1), data, template), text)


def template_fields(template: str) -> list[str]:
    return [m.group(1) for m in _ACTION.finditer(template)]


def format_rows(fmt: str | None, rows: Sequence[Mapping[str, Any]], default: str,
                headers: Mapping[str, str]) -> str:
    """Render listing rows for ``--format`` (None/"table", "json", "table TEMPLATE", or TEMPLATE).

    ``default`` is the default table template; ``headers`` maps field names to
    column titles (``ID`` -> ``IMAGE ID``).
    """
    if fmt is None or fmt == "table":
        fmt = default
    if fmt == "json":
        return "".join(to_json(dict(row)) + "\n" for row in rows)
    check_template(fmt)  # also when there are no rows to render
    if fmt.startswith("table"):
        body = fmt[len("table"):].lstrip()
        header = _ACTION.sub(lambda m: _header(m.group(1), headers), body.replace("\\t", "\t"))
        lines = [header] + [render_template(body, row) for row in rows]
        return render_table([line.split("\t") for line in lines])
    return "".join(render_template(fmt, row) + "\n" for row in rows)


def _header(action: str, headers: Mapping[str, str]) -> str:
    words = action.split()
    name = words[-1].lstrip(".") if words else ""
    return headers.get(name, name.upper())


def print_json(data: Any, write: Callable[[str], Any]) -> None:
    write(json.dumps(data, indent=4, ensure_ascii=False) + "\n")
