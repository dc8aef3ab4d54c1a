"""Byte-for-byte differential of the pure-Python engine against a baseline revision.

Run: .venv/bin/python scripts/engine_differential.py [--base REV] [--data DIR ...] [--config FILE ...]

A temporary ``git worktree`` of the baseline revision (default: the merge-base with ``main``) is created; for
every Synthea set in ``../shared/data/synthea`` and every configuration (``configs/*.json`` and Microsoft's
functional-test config), a worker process per tree (``PYTHONPATH`` set to that tree) anonymizes every NDJSON
line with ``Anonymizer.anonymize_json`` and hashes the outputs per file (SHA-256; an error counts as its type
and message). Keys are fixed test keys, ``as_of`` is fixed, and perturb's and encrypt's randomness is seeded
the same way in both trees. Exit status 1 on any difference. Only hashes and counts are printed, never data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea"
MS_COMMON = ROOT / "tests" / "fixtures" / "ms-anonymizer" / "functional" / "configs" / "common-config.json"
#: Fixed test keys (not secrets: they protect nothing), 32+ bytes so that no strength check refuses them.
KEYS = {
    "cryptoHashKey": "differential-crypto-hash-key-0123456789abcdef",
    "dateShiftKey": "differential-date-shift-key-0123456789abcdef",
    "encryptKey": "differential-encrypt-key-32bytes",
}
AS_OF = "2026-01-01"


def _configs(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Each configuration with the fixed keys written in (references and empty keys replaced)."""
    out = {}
    for path in paths:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        params = dict(raw.get("parameters") or {})
        params.update(KEYS)
        raw["parameters"] = params
        out[path.name] = raw
    return out


# -- worker (runs inside one tree) -------------------------------------------------------------------------
def worker(configs_file: Path, data_dirs: list[Path]) -> None:
    """Print ``{"anonymizer": <module file>, "hashes": {config: {set/file: sha256}}, "lines": n}`` as JSON."""
    import random
    from datetime import date

    import anonymizer
    from anonymizer.engine import Anonymizer

    configs = json.loads(configs_file.read_text(encoding="utf-8"))
    hashes: dict[str, dict[str, str]] = {}
    lines = 0
    for name, raw in configs.items():
        _seed(random)
        engine = Anonymizer.from_config(raw, as_of=date.fromisoformat(AS_OF), base_dir=ROOT / "configs")
        per_file: dict[str, str] = {}
        for folder in data_dirs:
            for path in sorted(folder.glob("*.ndjson")):
                digest = hashlib.sha256()
                for line in path.read_bytes().splitlines():
                    if not line.strip():
                        continue
                    lines += 1
                    try:
                        out = engine.anonymize_json(line, source_file=path.name, source_folder=folder.name)
                    except Exception as exc:  # noqa: BLE001 - an error is an output too
                        out = f"ERROR {type(exc).__name__}: {exc}"
                    digest.update(out.encode("utf-8") + b"\n")
                per_file[f"{folder.name}/{path.name}"] = digest.hexdigest()
        hashes[name] = per_file
    print(json.dumps({"anonymizer": anonymizer.__file__, "hashes": hashes, "lines": lines}))


def _seed(random_module: Any) -> None:
    """The same random numbers in both trees: perturb's noise and encrypt's IVs."""
    from anonymizer.methods import encrypt, perturb

    perturb._SYSTEM_RANDOM = random_module.Random(20261202)  # type: ignore[attr-defined]
    rng = random_module.Random(20261203)
    encrypt.os = type("DeterministicOs", (), {"urandom": staticmethod(lambda n: rng.randbytes(n))})  # type: ignore[attr-defined]


# -- driver ------------------------------------------------------------------------------------------------
def _merge_base() -> str:
    out = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "7833d25"


def _run_tree(tree: Path, configs_file: Path, data_dirs: list[Path]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_ANONYMIZER_")}
    env["PYTHONPATH"] = str(tree)
    cmd = [sys.executable, "-X", "utf8", str(Path(__file__).resolve()), "--worker",
           "--configs-file", str(configs_file), *[a for d in data_dirs for a in ("--data", str(d))]]  # fmt: skip
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"worker in {tree} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["anonymizer"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"worker in {tree} imported the package from {result['anonymizer']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", help="baseline git revision (default: merge-base with main)")
    parser.add_argument(
        "--data", type=Path, action="append", help="NDJSON folder (default: every Synthea set)"
    )
    parser.add_argument(
        "--config", type=Path, action="append", help="rules file (default: configs/ + MS common)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--configs-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dirs = (
        [d.resolve() for d in args.data] if args.data else sorted(p for p in SYNTHEA.iterdir() if p.is_dir())
    )
    if args.worker:
        worker(args.configs_file, data_dirs)
        return 0
    base = args.base or _merge_base()
    config_paths = (
        [c.resolve() for c in args.config]
        if args.config
        else [*sorted((ROOT / "configs").glob("*.json")), MS_COMMON]
    )
    with tempfile.TemporaryDirectory(prefix="engine-differential-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(base_tree), base], cwd=ROOT, check=True
        )
        try:
            configs_file = Path(tmp) / "configs.json"
            configs_file.write_text(json.dumps(_configs(config_paths)), encoding="utf-8")
            with ThreadPoolExecutor(max_workers=2) as pool:
                base_run = pool.submit(_run_tree, base_tree, configs_file, data_dirs)
                head_run = pool.submit(_run_tree, ROOT, configs_file, data_dirs)
                before, after = base_run.result(), head_run.result()
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    differences = 0
    for config, files in before["hashes"].items():
        changed = [f for f, digest in files.items() if after["hashes"][config].get(f) != digest]
        differences += len(changed)
        status = "identical" if not changed else f"DIFFERENT in {len(changed)} files: {', '.join(changed)}"
        print(f"{config:45} {len(files):3} files  {status}")
    print(
        f"base {base} vs {ROOT.name} (working tree): {before['lines']} lines per tree, {differences} files differ"
    )
    if not before["lines"]:
        print("no NDJSON line was read: nothing compared")
        return 1
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
