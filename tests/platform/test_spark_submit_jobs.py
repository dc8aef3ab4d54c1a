"""spark-submit of each job (export -> deidentify -> verify) from the freshly built wheel, local[1].

The repository is kept off the driver's path (the job script is copied to a temp cwd, PYTHONPATH dropped), so
``anonymizer`` comes from the wheel shipped with ``--py-files``: spark-submit puts it on PYTHONPATH, ahead of the
editable install's site-packages entry.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from anonymizer.spark.jars import cached_delta_jars
from anonymizer.spark.settings import LOCAL_DEFAULTS, REQUIRED_CONF, TEST_CONF, merged_conf
from anonymizer.testing.fhir_server import BulkDataTestServer, ServerConfig
from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

pytestmark = pytest.mark.spark
REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
KEYS = {
    "FHIR_ANONYMIZER_DATE_SHIFT_KEY": DATE_KEY,
    "FHIR_ANONYMIZER_CRYPTO_HASH_KEY": HASH_KEY,
    "FHIR_ANONYMIZER_ENCRYPT_KEY": ENCRYPT_KEY,
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel under test: $FHIR_ANONYMIZER_WHEEL (e.g. from `make wheel`) or one built from this checkout."""
    if os.environ.get("FHIR_ANONYMIZER_WHEEL"):
        return Path(os.environ["FHIR_ANONYMIZER_WHEEL"])
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("fhir_lake_anonymizer-*.whl")
    return whl


def _tiny_sample(sample_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    for name in ("Patient.000.ndjson", "Encounter.000.ndjson"):
        lines = (sample_dir / name).read_text(encoding="utf-8").splitlines()[:3]
        (dest / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def _submit(job: str, wheel: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    jars = cached_delta_jars()
    if not jars:
        pytest.skip("Delta JARs not cached (run `fhir-anonymizer setup`)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | KEYS
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # spark-submit finds this python
    env["PYSPARK_PYTHON"] = env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    shutil.copy(REPO / "jobs" / f"{job}.py", cwd / f"{job}.py")
    cmd = [str(VENV_BIN / "spark-submit"), "--master", "local[1]", "--py-files", str(wheel)]
    cmd += ["--jars", ",".join(str(j) for j in jars)]
    # The test session's settings: with Spark's and Delta's cluster defaults (50 partitions per Delta snapshot,
    # 200 per shuffle) verify of these few lines took 72 s instead of 45 s.
    for key, value in merged_conf(REQUIRED_CONF, LOCAL_DEFAULTS, TEST_CONF).items():
        cmd += ["--conf", f"{key}={value}"]
    cmd += [str(cwd / f"{job}.py"), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_jobs_from_the_wheel(wheel: Path, sample_dir: Path, tmp_path: Path) -> None:
    data = _tiny_sample(sample_dir, tmp_path / "served")
    landing, zone, report = tmp_path / "landing", tmp_path / "zone", tmp_path / "report"
    config = REPO / "configs" / "hipaa-safe-harbor.json"
    with BulkDataTestServer(ServerConfig(data)) as server:
        export = _submit(
            "export", wheel, ["--fhir-url", server.base_url, "--landing", str(landing)], tmp_path
        )
    assert export.returncode == 0, export.stderr[-3000:]
    assert sorted(p.name for p in landing.rglob("*.ndjson*"))

    deid = _submit(
        "deidentify",
        wheel,
        ["--input", str(landing), "--output", str(zone), "--config", str(config), "--as-of", "2026-01-01"],
        tmp_path,
    )
    assert deid.returncode == 0, (deid.stdout + deid.stderr)[-3000:]
    assert (zone / "delta" / "Patient" / "_delta_log").is_dir()
    assert not any(v in deid.stdout + deid.stderr for v in KEYS.values())

    verify = _submit(
        "verify",
        wheel,
        ["--source", str(landing), "--output", str(zone), "--config", str(config), "--report", str(report)],
        tmp_path,
    )
    assert verify.returncode == 0, (verify.stdout + verify.stderr)[-3000:]
    assert (report / "report.json").is_file()

    usage = _submit("verify", wheel, ["--no-such-flag"], tmp_path)
    assert usage.returncode == 2
