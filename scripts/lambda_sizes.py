"""Size and architecture checks of a `sam build` output (default .aws-sam/build).

1. For every function: unzipped size of its build dir plus the build dirs of its layers (Globals layers first),
   printed as a table in MiB. Lambda rejects more than 262,144,000 bytes (250 MiB) for function plus layers.
2. Every ELF shared object (*.so, *.so.N) under the build dir must be built for aarch64 (e_machine 183),
   since every function runs on arm64: an x86_64 wheel slipping into a layer only fails at import time in AWS.

Exit status 1 (and FAIL lines) when either check fails. Usage: python scripts/lambda_sizes.py [BUILD_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse  # runs in the SAM venv, which has samtranslator

LAMBDA_UNZIPPED_LIMIT = 262_144_000
MIB = 1024 * 1024
EM_AARCH64 = 183
ELF_MACHINES = {3: "x86", 40: "arm", 62: "x86_64", 183: "aarch64"}


def tree_bytes(root: Path) -> int:
    """Sum of regular-file sizes under root (what Lambda counts once the zip is extracted)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def _layer_ids(layers: list[Any]) -> list[str]:
    ids = []
    for layer in layers or []:
        if isinstance(layer, dict) and "Ref" in layer:
            ids.append(layer["Ref"])
        else:
            ids.append(str(layer))  # an ARN of a layer outside this template: not measurable here
    return ids


def function_sizes(build_dir: Path) -> list[tuple[str, int, list[tuple[str, int]]]]:
    template = yaml_parse((build_dir / "template.yaml").read_text())
    resources = template["Resources"]
    global_layers = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    rows = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        code = tree_bytes(build_dir / props["CodeUri"])
        layers = []
        for layer_id in _layer_ids(global_layers) + _layer_ids(props.get("Layers", [])):
            layer = resources.get(layer_id)
            if layer is None:
                raise SystemExit(f"FAIL: {logical_id} uses layer {layer_id} that is not built from this template")
            layers.append((layer_id, tree_bytes(build_dir / layer["Properties"]["ContentUri"])))
        rows.append((logical_id, code, layers))
    return rows


def elf_machine(path: Path) -> int | None:
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byteorder = "little" if header[5] == 1 else "big"
    return int.from_bytes(header[18:20], byteorder)


def shared_objects(build_dir: Path) -> list[Path]:
    found = []
    for dirpath, _dirs, files in os.walk(build_dir):
        for name in files:
            if name.endswith(".so") or ".so." in name:
                path = Path(dirpath) / name
                if not path.is_symlink():
                    found.append(path)
    return sorted(found)


def main(argv: list[str]) -> int:
    build_dir = Path(argv[1]) if len(argv) > 1 else Path(".aws-sam/build")
    failed = False

    rows = function_sizes(build_dir)
    print(f"{'function':<22} {'code MiB':>9}  {'layers (MiB)':<52} {'total MiB':>9}  limit 250 MiB")
    for logical_id, code, layers in sorted(rows):
        total = code + sum(size for _, size in layers)
        layer_text = ", ".join(f"{name} {size / MIB:.1f}" for name, size in layers)
        verdict = "ok" if total <= LAMBDA_UNZIPPED_LIMIT else "FAIL"
        print(f"{logical_id:<22} {code / MIB:>9.2f}  {layer_text:<52} {total / MIB:>9.1f}  {verdict}")
        if total > LAMBDA_UNZIPPED_LIMIT:
            failed = True
            print(f"FAIL: {logical_id} is {total:,} bytes unzipped, over {LAMBDA_UNZIPPED_LIMIT:,}")

    objects = shared_objects(build_dir)
    offenders = []
    for path in objects:
        machine = elf_machine(path)
        if machine is not None and machine != EM_AARCH64:
            offenders.append((path, ELF_MACHINES.get(machine, str(machine))))
    print(f"\nELF shared objects: {len(objects)} checked, {len(offenders)} not aarch64")
    for path, machine in offenders:
        print(f"FAIL: {path.relative_to(build_dir)} is {machine}, not aarch64")
    failed = failed or bool(offenders)

    print("size check FAILED" if failed else "size check passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
