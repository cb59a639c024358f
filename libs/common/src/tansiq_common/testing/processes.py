"""Run a service as a real uvicorn process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_service(
    name: str,
    env: Mapping[str, str],
    log_dir: Path,
    *,
    ready_timeout: float = 120,  # a loaded CI machine starts four services slowly
) -> ServiceProcess:
    """Start `tansiq_<name>` under uvicorn on a free port; return once /health/ready is 200."""
    port = free_port()
    log_path = log_dir / f"{name}-{port}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"tansiq_{name}.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env={**os.environ, **env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    service = ServiceProcess(name, port, process, log_path)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{service.log()}")
        try:
            if httpx.get(f"{service.base_url}/health/ready", timeout=1).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"{name} not ready within {ready_timeout}s:\n{service.log()}")
