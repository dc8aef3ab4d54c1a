"""A local Spark Connect server for tests, bound to 127.0.0.1 on a free port, in its own process.

pyspark 4 ships the Connect server JAR; a classic local session with the Connect plugin serves it. The
process prints ``READY <port>`` and runs until its stdin is closed (the test's context manager does that).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_START_TIMEOUT_S = 180


def connect_server_available() -> bool:
    """True when pyspark ships the Connect server JAR and the client's gRPC packages are installed."""
    try:
        import grpc  # noqa: F401
        import pyspark
    except ImportError:
        return False
    jars = Path(pyspark.__file__).parent / "jars"
    return any(jars.glob("spark-connect_*.jar"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int) -> None:
    from anonymizer.spark.session import local_session

    local_session(
        "local[2]",
        app_name="fhir-anonymizer-connect-server",
        conf={
            "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
            "spark.ui.enabled": "false",
        },
    )
    print(f"READY {port}", flush=True)
    sys.stdin.read()


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    assert proc.stdout is not None
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([proc.stdout], [], [], left)
        if not readable:
            break
        line = proc.stdout.readline()
        if not line:  # the process ended
            break
        if line.startswith("READY"):
            return
    raise RuntimeError(f"the Spark Connect server did not start (exit code {proc.poll()})")


@contextmanager
def connect_server() -> Iterator[str]:
    """Start the server in a child process; yields its ``sc://127.0.0.1:<port>`` URL; stops it afterwards."""
    port = _free_port()
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    proc = subprocess.Popen(
        [sys.executable, __file__, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        _wait_ready(proc)
        yield f"sc://127.0.0.1:{port}"
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
