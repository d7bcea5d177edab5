"""Portal load: N concurrent logged-in practitioners on loopback; prints p50/p95/p99 page times.

Builds a synthetic data directory (one worker per practitioner, a few flagged families each),
starts the portal with uvicorn on 127.0.0.1 in a separate process, logs every practitioner in,
then all of them at once fetch "My flagged families" and their family pages in turn until each
has made ``--requests-per-user`` requests or ``--max-seconds`` have passed. Stops by itself.

``--think-ms 0`` (the default) is a saturation test: every practitioner asks for the next page
the moment the last one arrives, so 50 of them are 50 requests always in flight. A person
reads a page before the next click: ``--think-ms 1000`` waits a random 0.5-1.5 s between
pages, still far busier than practitioners reading case files.

    .venv/bin/python bench/bench_portal_load.py [--users 50] [--requests-per-user 40]
                                                [--think-ms 0] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(
    0, str(REPO / "tests" / "portal")
)  # the synthetic data builder lives with the tests

# Plain HTTP on loopback, as the demo: a Secure cookie would never come back over http://.
SERVER = (
    "import sys, uvicorn; from pathlib import Path; from safeguard.portal import create_app; "
    "uvicorn.run(create_app(Path(sys.argv[1]), secure_cookies=False), host='127.0.0.1', "
    "port=int(sys.argv[2]), log_level='warning', access_log=False)"
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    flag_ids: tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    page: str  # "list" or "family"
    seconds: float
    status: int


def prepare(data_dir: Path, users: int, flags_per_user: int) -> list[Account]:
    """Synthetic estate plus one practitioner account (production argon2 hashing) per worker."""
    from portal_fixture import build_portal_data, scaled_estate

    from safeguard.portal.users import add_user

    workers, families, flags = scaled_estate(users, flags_per_user)
    fixture = build_portal_data(data_dir, workers=workers, families=families, flags=flags)
    accounts = []
    for worker_id, *_ in workers:
        username, password = f"load-{worker_id.lower()}", secrets.token_urlsafe(16)
        add_user(data_dir, username, "practitioner", password, worker_id=worker_id)
        ids = tuple(fixture.flags[f"{worker_id}-{k}"] for k in range(1, flags_per_user + 1))
        accounts.append(Account(username, password, ids))
    return accounts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"portal server exited with code {proc.returncode} before serving")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"portal server not answering at {base} after {timeout:.0f} s")


async def practitioner(
    base: str,
    account: Account,
    start: asyncio.Barrier,
    requests: int,
    deadline: list[float],
    samples: list[Sample],
    logins: list[float],
    think_s: float = 0.0,
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        t0 = time.perf_counter()
        page = await client.get("/login")
        token = CSRF.search(page.text)
        if token is None:
            raise RuntimeError("login page has no CSRF token")
        response = await client.post(
            "/login",
            data={
                "username": account.username,
                "password": account.password,
                "csrf_token": token.group(1),
            },
        )
        if response.status_code != 303:
            raise RuntimeError(f"{account.username}: login answered {response.status_code}")
        logins.append(time.perf_counter() - t0)
        await start.wait()
        pages = [("list", "/my-families")] + [
            ("family", f"/families/{f}") for f in account.flag_ids
        ]
        rng = random.Random(account.username)
        for i in range(requests):
            if time.monotonic() > deadline[0]:
                break
            if think_s:
                await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))
            kind, path = pages[i % len(pages)]
            t0 = time.perf_counter()
            response = await client.get(path)
            samples.append(Sample(kind, time.perf_counter() - t0, response.status_code))


async def run_load(
    base: str, accounts: list[Account], requests: int, max_seconds: float, think_s: float = 0.0
) -> tuple[list[Sample], list[float], float]:
    samples: list[Sample] = []
    logins: list[float] = []
    deadline = [float("inf")]
    start = asyncio.Barrier(len(accounts) + 1)
    tasks = [
        asyncio.create_task(
            practitioner(base, a, start, requests, deadline, samples, logins, think_s)
        )
        for a in accounts
    ]
    await asyncio.wait_for(start.wait(), timeout=max_seconds)  # everyone logged in
    deadline[0] = time.monotonic() + max_seconds
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=max_seconds + 60)
    return samples, logins, time.perf_counter() - t0


def percentiles(values: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def report(samples: list[Sample], logins: list[float], wall: float, users: int) -> int:
    errors = [s for s in samples if s.status != 200]
    print(
        f"{users} concurrent practitioners, {len(samples)} page requests in {wall:.1f} s "
        f"({len(samples) / wall:.0f} pages/s); login (argon2, before timing) p50 "
        f"{statistics.median(logins) * 1000:.0f} ms"
    )
    print(f"{'page':<8} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind in ("list", "family", "all"):
        times = [s.seconds for s in samples if kind in ("all", s.page)]
        if len(times) < 2:
            continue
        p50, p95, p99 = percentiles(times)
        print(
            f"{kind:<8} {len(times):>6} {p50 * 1000:>8.1f} {p95 * 1000:>8.1f} {p99 * 1000:>8.1f} "
            f"{max(times) * 1000:>8.1f}"
        )
    if errors:
        print(f"ERRORS: {len(errors)} responses were not 200 (first: {errors[0].status})")
    return 1 if errors else 0


def verify_audit(data_dir: Path) -> int:
    """The audit trail after the load: every entry chained and anchored (as `audit verify`)."""
    from safeguard.dpia.audit import AuditLog

    log = AuditLog(data_dir / "audit" / "audit.jsonl")
    result = log.verify(require_anchor=True)
    entries = sum(1 for _ in log.entries())
    print(f"audit trail: {entries} entries, intact={result.ok} {result.reason or ''}".rstrip())
    return 0 if result.ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--flags-per-user", type=int, default=4)
    parser.add_argument("--requests-per-user", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="cap on the timed phase")
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause between pages")
    parser.add_argument(
        "--database-url", default=None, help="portal database (default: DIR/portal.sqlite)"
    )
    args = parser.parse_args()

    if args.database_url:
        os.environ["SAFEGUARD_PORTAL_DATABASE_URL"] = args.database_url
    tmp = Path(tempfile.mkdtemp(prefix="portal-load-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        accounts = prepare(tmp / "data", args.users, args.flags_per_user)
        print(
            f"prepared {len(accounts)} practitioners x {args.flags_per_user} flags in {time.perf_counter() - t0:.1f} s"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(tmp / "data"), str(port)], cwd=REPO
        )
        wait_until_up(base, proc)
        samples, logins, wall = asyncio.run(
            run_load(base, accounts, args.requests_per_user, args.max_seconds, args.think_ms / 1000)
        )
        print(f"think time {args.think_ms:.0f} ms (mean); portal database "
              f"{args.database_url or 'DIR/portal.sqlite'}")  # fmt: skip
        status = report(samples, logins, wall, len(accounts))
        return status or verify_audit(tmp / "data")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
