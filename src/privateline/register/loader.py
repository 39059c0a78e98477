"""Read a register from YAML, and say exactly what is wrong when it is malformed.

A malformed register must never end in a traceback: the operator is told the file,
the line, the path of the bad field (``activities.web_access_log.legal_basis.gdpr``)
and the reason.  Parsing is done on PyYAML's node tree so every path can be mapped back
to a line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from privateline.register.model import Register

SHIPPED_REGISTER = "register.yaml"


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    line: int | None = None


class RegisterError(Exception):
    """The register cannot be used; `problems` says where and why."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.describe())

    def describe(self) -> str:
        lines = [f"{self.source}: the register is not valid ({len(self.problems)} problem(s))"]
        for p in self.problems:
            where = f"{self.source}:{p.line}" if p.line is not None else self.source
            lines.append(f"  {where}: {p.path or '(top level)'}: {p.reason}")
        return "\n".join(lines)


@dataclass(frozen=True)
class LoadedRegister:
    """A valid register, with the parts the operator switched off already removed."""

    register: Register
    source: str
    version: str
    disabled_parts: frozenset[str]
    # Activities of switched-off parts: their stores may exist but must stay unused.
    dormant_activities: frozenset[str]


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += ("." if out else "") + item
    return out


def _line_index(node: yaml.Node, prefix: tuple[str | int, ...], index: dict[tuple[str | int, ...], int]) -> None:
    index[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            index[(*prefix, key)] = key_node.start_mark.line + 1
            _line_index(value_node, (*prefix, key), index)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*prefix, i), index)


def _line_for(loc: tuple[str | int, ...], index: dict[tuple[str | int, ...], int]) -> int | None:
    # Pydantic may name a field the YAML lacks (missing); fall back to its parent's line.
    for end in range(len(loc), -1, -1):
        if loc[:end] in index:
            return index[loc[:end]]
    return None


def _reference_problems(reg: Register) -> list[tuple[tuple[str | int, ...], str]]:
    """Every name an activity uses must be defined in the register."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for aid, act in reg.activities.items():
        if act.part not in reg.parts:
            found.append((("activities", aid, "part"), f"unknown part {act.part!r}"))
        for i, key in enumerate(act.categories):
            if key not in reg.categories:
                found.append((("activities", aid, "categories", i), f"unknown data category {key!r}"))
        for i, sid in enumerate(act.subjects):
            if sid not in reg.subjects:
                found.append((("activities", aid, "subjects", i), f"unknown data subject kind {sid!r}"))
                continue
            for j, key in enumerate(act.categories):
                rule = reg.subjects[sid].forbids(key)
                if rule is not None:
                    found.append(
                        (
                            ("activities", aid, "categories", j),
                            f"{key!r}: data of {sid} never includes {rule} (subjects.{sid}.never_holds)",
                        )
                    )
        for i, rid in enumerate(act.recipients):
            if rid not in reg.recipients:
                found.append((("activities", aid, "recipients", i), f"unknown recipient {rid!r}"))
    return found


def register_version(reg: Register) -> str:
    """A content hash of the register as loaded: consents and notices refer to it."""
    canonical = json.dumps(reg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _without_disabled_parts(reg: Register) -> tuple[Register, frozenset[str], frozenset[str]]:
    disabled = frozenset(pid for pid, part in reg.parts.items() if not part.enabled)
    if not disabled:
        return reg, disabled, frozenset()
    dormant = frozenset(aid for aid, a in reg.activities.items() if a.part in disabled)
    activities = {aid: a for aid, a in reg.activities.items() if a.part not in disabled}
    used = {rid for a in activities.values() for rid in a.recipients}
    recipients = {rid: r for rid, r in reg.recipients.items() if rid in used}
    parts = {pid: p for pid, p in reg.parts.items() if pid not in disabled}
    kept = reg.model_copy(update={"activities": activities, "recipients": recipients, "parts": parts})
    return kept, disabled, dormant


def parse_register(text: str, source: str) -> LoadedRegister:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RegisterError(source, [Problem("", f"not valid YAML: {getattr(exc, 'problem', exc)}", line)]) from None
    index: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _line_index(node, (), index)
    if not isinstance(data, dict):
        raise RegisterError(source, [Problem("", "the register must be a mapping with controller, activities, ...")])
    try:
        reg = Register.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            reason = err["msg"].removeprefix("Value error, ")
            if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
                shown = err["input"]
                if not isinstance(shown, (dict, list)):
                    reason += f" (got {shown!r})"
            problems.append(Problem(_dotted(loc), reason, _line_for(loc, index)))
        raise RegisterError(source, problems) from None
    refs = _reference_problems(reg)
    if refs:
        raise RegisterError(source, [Problem(_dotted(loc), why, _line_for(loc, index)) for loc, why in refs])
    reg, disabled, dormant = _without_disabled_parts(reg)
    return LoadedRegister(
        register=reg,
        source=source,
        version=register_version(reg),
        disabled_parts=disabled,
        dormant_activities=dormant,
    )


def load_register(path: Path | None = None) -> LoadedRegister:
    """Load the operator's register, or the shipped template when no path is given."""
    if path is None:
        text = resources.files("privateline.register").joinpath("data", SHIPPED_REGISTER).read_text("utf-8")
        return parse_register(text, f"(shipped) {SHIPPED_REGISTER}")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise RegisterError(str(path), [Problem("", f"cannot be read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise RegisterError(str(path), [Problem("", "is not UTF-8 text")]) from None
    return parse_register(text, str(path))
