# ruff: noqa: S311, S603, S607 - a benchmark's randomness; our own load generators
"""`make bench` (not a test): each scenario against the service and against a raw Starlette +
asyncpg baseline doing the same work, in the same run, with wrk as the load generator.

    eval "$(bash ops/local/stack.sh env)"
    .venv/bin/python benchmarks/bench.py [--orgs 100000] [--seconds 8] [--connections 32]

Loads `--orgs` organizations with COPY into a scratch database (dropped at the end), starts the
registry (one uvicorn worker, relay off, bearer token verified on every request) and the raw app
(one uvicorn worker) on loopback, and runs every scenario with `wrk -t1 -c<connections>
-d<seconds>s` against each, measuring requests/s, p50/p99 and the CPU time each server process
spends per request (user + system, from /proc: less sensitive to other work on a shared machine
than requests/s). Then, for GET by id, the latency at half of Tansiq's peak rate with `hey -q`
(a fixed rate) against both. Prints one table with the date, machine and load average.
Bounded: every run has a duration. `--scenarios list,search` runs a subset (data-size runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from tansiq_common.auth.devkeys import SigningKey, jwks_document, token_claims
from tansiq_common.testing import databases, processes
from tansiq_registry import MIGRATIONS_DIR

sys.path.insert(0, str(Path(__file__).parent))
from registry_bench import _plain, load

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    cpu_us: float = 0.0  # CPU time (user + system) of the server process per request


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc): less sensitive to other work on
    a shared machine than requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, script: Path, seconds: int, connections: int, pid: int) -> Result:
    before = cpu_seconds(pid)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines: "81.50%" in the thread stats must not match.
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    cpu_us = (cpu_seconds(pid) - before) / max(requests, 1) * 1e6
    return Result(rps, p50, p99, int(bad.group(1)) if bad else 0, cpu_us)


def hey_at_rate(url: str, token: str, rate: float, seconds: int) -> tuple[float, float]:
    """p50, p99 (ms) of GET `url` at a fixed `rate` (requests/s), 8 workers."""
    workers = 8
    out = subprocess.run(
        ["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", f"{rate / workers:.2f}",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout  # fmt: skip
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    return p50, p99


def lua(folder: Path, name: str, token: str, method: str, paths: list[str], body: str = "",
        headers: dict[str, str] | None = None) -> Path:  # fmt: skip
    """A wrk script sending `method` to a random one of `paths` with the token and body."""
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    if body:
        all_headers["Content-Type"] = "application/json"
    header_lines = "\n".join(
        f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in all_headers.items()
    )
    script = folder / f"{name}.lua"
    script.write_text(
        f"""
wrk.method = "{method}"
wrk.body = {json.dumps(body)}
{header_lines}
local paths = {{{", ".join(json.dumps(p) for p in paths)}}}
math.randomseed(7)
request = function()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""
    )
    return script


def start_raw(database_url: str, folder: Path) -> subprocess.Popen[bytes]:
    port = processes.free_port()
    log = (folder / "raw.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "raw_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=Path(__file__).parent,
        env={**os.environ, "RAW_DATABASE_URL": _plain(database_url)},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    process.port = port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/organizations?limit=1", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the raw app did not start")


def row(name: str, tansiq: Result, raw: Result) -> str:
    ratio = tansiq.rps / raw.rps if raw.rps else 0.0
    errors = f"  ({tansiq.non_2xx}/{raw.non_2xx} non-2xx)" if tansiq.non_2xx or raw.non_2xx else ""
    cpu_ratio = raw.cpu_us / tansiq.cpu_us if tansiq.cpu_us else 0.0
    return (
        f"| {name:<26} | {tansiq.rps:>8,.0f} | {raw.rps:>8,.0f} | {ratio:>5.2f} | "
        f"{tansiq.p50_ms:>6.1f} / {tansiq.p99_ms:<6.1f} | "
        f"{raw.p50_ms:>6.1f} / {raw.p99_ms:<6.1f} | "
        f"{tansiq.cpu_us:>6,.0f} | {raw.cpu_us:>5,.0f} | {cpu_ratio:>4.2f} |" + errors
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--scenarios",
        default="get,list,search,create,patch,latency",
        help="comma-separated subset (latency: GET by id at half of Tansiq's peak rate)",
    )
    args = parser.parse_args()
    chosen = set(args.scenarios.split(","))
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: `make bench` installs it (apt-get install {tool})")
    admin_url = os.environ["TANSIQ_PG_ADMIN_URL"]
    name = f"bench_{uuid.uuid4().hex[:6]}"
    url = await databases.create_database(admin_url, name, MIGRATIONS_DIR)
    folder = Path(tempfile.mkdtemp(prefix="tansiq-bench-"))
    service = raw = None
    try:
        started = time.perf_counter()
        ids = await load(url, args.orgs)
        print(f"loaded {len(ids):,} organizations in {time.perf_counter() - started:.1f} s")
        key = SigningKey.generate("RS256")
        (folder / "jwks.json").write_text(json.dumps(jwks_document([key])))
        token = key.sign(
            token_claims(org=str(uuid.uuid4()), roles=["registry_admin", "viewer"], sub="bench")
        )
        service = processes.start_service(
            "registry",
            {
                "REGISTRY_DATABASE_URL": url,
                "AUTH_JWKS_FILE": str(folder / "jwks.json"),
                "REGISTRY_RUN_RELAY": "false",
                "REGISTRY_RUN_CONSUMERS": "false",
                # The default level: the access log line of every request is part of the cost.
                "LOG_LEVEL": "INFO",
            },
            folder,
        )
        raw = start_raw(url, folder)
        raw_base = f"http://127.0.0.1:{raw.port}"  # type: ignore[attr-defined]
        rng = random.Random(1)
        sample = [rng.choice(ids) for _ in range(2000)]
        patched = sample[:500]
        body = json.dumps({"kind": "un_entity", "names": {"en": "Bench body", "ar": "جهة"}})
        scenarios = [
            ("GET by id", "GET", [f"/v1/organizations/{i}" for i in sample], "", {}),
            ("list page of 50, filtered", "GET",
             ["/v1/organizations?kind=ministry&limit=50", "/v1/organizations?kind=ngo&limit=50"],
             "", {}),
            ("bilingual search", "GET",
             [f"/v1/organizations?q={quote(q)}&limit=20" for q in
              ("التعاون", "health", "cooperation 12", "مركز", "energy")], "", {}),
            ("create", "POST", ["/v1/organizations"], body, {}),
            ("PATCH with If-Match", "PATCH", [f"/v1/organizations/{i}" for i in patched],
             json.dumps({"acronym": "BENCH"}),
             {"If-Match": "*", "Content-Type": "application/merge-patch+json"}),
        ]  # fmt: skip
        keys = ["get", "list", "search", "create", "patch"]
        scenarios = [each for key, each in zip(keys, scenarios, strict=True) if key in chosen]
        print(
            f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {_machine()}, "
            f"load average {load_average()}\n"
            f"wrk -t1 -c{args.connections} -d{args.seconds}s, loopback, one uvicorn worker each, "
            f"{args.orgs:,} organizations; CPU: user + system time of the server process per "
            "request (ratio raw/Tansiq)\n"
        )
        print("| scenario                   | Tansiq/s |    raw/s | ratio | Tansiq p50 / p99 ms "
              "| raw p50 / p99 ms | Tansiq CPU us | raw CPU us | CPU ratio |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |")
        results: dict[str, Result] = {}
        for label, method, paths, payload, headers in scenarios:
            script = lua(folder, label.split()[0], token, method, paths, payload, headers)
            seconds, connections = args.seconds, args.connections
            ours = wrk(service.base_url, script, seconds, connections, service.process.pid)
            theirs = wrk(raw_base, script, seconds, connections, raw.pid)
            results[label] = ours
            print(row(label, ours, theirs), flush=True)
        print(f"\nload average after: {load_average()}")
        if "latency" not in chosen or "GET by id" not in results:
            return
        half = results["GET by id"].rps / 2
        path = f"/v1/organizations/{sample[0]}"
        ours_p = hey_at_rate(service.base_url + path, token, half, args.seconds)
        raw_p = hey_at_rate(raw_base + path, token, half, args.seconds)
        print(
            f"\nGET by id at a fixed {half:,.0f} req/s (half of Tansiq's peak; hey -c 8 -q): "
            f"Tansiq p50 {ours_p[0]:.1f} ms p99 {ours_p[1]:.1f} ms; "
            f"raw p50 {raw_p[0]:.1f} ms p99 {raw_p[1]:.1f} ms; "
            f"p99 ratio {ours_p[1] / raw_p[1] if raw_p[1] else 0:.2f}"
        )
    finally:
        if service is not None:
            service.stop()
        if raw is not None:
            raw.terminate()
            raw.wait(10)
        await databases.drop_database(admin_url, name)
        shutil.rmtree(folder, ignore_errors=True)


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{os.cpu_count()} cores ({model})"


if __name__ == "__main__":
    asyncio.run(main())
