"""Recorded JSON Schemas of every contract, and the compatibility check.

``python -m tirek.events.schema write`` records the current schema of every contract in
``shared/contracts/<source>/<type>.v<version>.json`` (do it when a change is intended and
compatible). ``check`` (and the contract test) fails when a contract changed incompatibly with
its recorded schema: within a version a payload may only gain optional fields. Removing or
retyping a field, making one required, or dropping a published version needs a new version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tirek.events.registry import all_contracts

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"


def schema_path(source: str, event_type: str, version: int, root: Path = CONTRACTS_DIR) -> Path:
    return root / source / f"{event_type}.v{version}.json"


def current_schemas() -> dict[Path, dict[str, Any]]:
    """The JSON Schema of every registered contract, keyed by where it is recorded."""
    return {
        schema_path(model.source, event_type, version): model.model_json_schema()
        for (event_type, version), model in all_contracts().items()
    }


def _resolve(schema: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _resolve(schema, schema.get("$defs", {}).get(name, {}))
    return node


def _strip_docs(node: Any) -> Any:
    """A schema node without titles and descriptions (wording may change freely)."""
    if isinstance(node, dict):
        return {k: _strip_docs(v) for k, v in node.items() if k not in {"title", "description"}}
    if isinstance(node, list):
        return [_strip_docs(v) for v in node]
    return node


def _deref(schema: dict[str, Any], node: Any) -> Any:
    node = _resolve(schema, node)
    if isinstance(node, dict):
        return {k: _deref(schema, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(schema, v) for v in node]
    return node


def _enum_values(node: Any) -> set[Any] | None:
    if isinstance(node, dict) and "enum" in node:
        return set(node["enum"])
    return None


def _compatible_node(old: Any, new: Any, where: str, problems: list[str]) -> None:
    """``new`` must accept everything ``old`` accepted (enums may only grow)."""
    old_enum, new_enum = _enum_values(old), _enum_values(new)
    if old_enum is not None and new_enum is not None:
        if missing := old_enum - new_enum:
            problems.append(f"{where}: values removed from the picklist: {sorted(missing)}")
        old = {k: v for k, v in old.items() if k != "enum"}
        new = {k: v for k, v in new.items() if k != "enum"}
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            if key == "default":
                continue
            _compatible_node(old.get(key), new.get(key), f"{where}.{key}", problems)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _compatible_node(a, b, f"{where}[{i}]", problems)
    elif old != new:
        problems.append(f"{where}: changed from {json.dumps(old)} to {json.dumps(new)}")


def incompatibilities(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Why ``current`` cannot replace ``recorded`` within the same version (empty: it can)."""
    problems: list[str] = []
    old_props = recorded.get("properties", {})
    new_props = current.get("properties", {})
    for name, old in old_props.items():
        if name not in new_props:
            problems.append(f"field {name!r} was removed")
            continue
        _compatible_node(
            _strip_docs(_deref(recorded, old)),
            _strip_docs(_deref(current, new_props[name])),
            name,
            problems,
        )
    newly_required = set(current.get("required", [])) - set(recorded.get("required", []))
    problems += [f"field {name!r} became required" for name in sorted(newly_required)]
    return problems


def check(root: Path = CONTRACTS_DIR) -> list[str]:
    """Every problem between the recorded schemas under ``root`` and the code."""
    problems: list[str] = []
    current = {
        path.relative_to(CONTRACTS_DIR): schema for path, schema in current_schemas().items()
    }
    recorded_paths = {p.relative_to(root) for p in root.glob("*/*.json")}
    for rel in sorted(recorded_paths - current.keys()):
        problems.append(f"{rel}: recorded but no contract publishes it any more (keep the version)")
    for rel, schema in sorted(current.items()):
        path = root / rel
        if not path.exists():
            problems.append(f"{rel}: not recorded; run `make contracts` and commit the file")
            continue
        recorded = json.loads(path.read_text())
        problems += [f"{rel}: {p}" for p in incompatibilities(recorded, schema)]
    return problems


def write(root: Path = CONTRACTS_DIR) -> list[Path]:
    """Record the current schema of every contract (refuses incompatible changes)."""
    if problems := [p for p in check(root) if "not recorded" not in p]:
        raise SystemExit(
            "incompatible contract changes; publish a new version:\n" + "\n".join(problems)
        )
    written = []
    for path, schema in current_schemas().items():
        target = root / path.relative_to(CONTRACTS_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "write":
        for path in write():
            print(path)
        return 0
    problems = check()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
