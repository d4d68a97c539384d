"""`make bench`: every bench/*.py against a database of its own, then one table.

For each bench NAME the runner creates the database bench_NAME when it is missing (with the
postgis extension), migrates it, and runs the bench with DATABASE_URL (and TEST_DATABASE_NAME,
for benches that build a test database) pointing there. Each bench prints its own
`RESULT NAME ratio=...` line and declares the ratio it must reach as `TARGET = ...`. The full
output of each bench goes to var/bench/NAME.log.

Run: .venv/bin/python bench/_run_all.py [NAME ...]   (names without .py; default: all)
Exit status 1 when a bench failed, printed no RESULT, or missed its target.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LOGS = ROOT / "var" / "bench"
PG_URL = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
RESULT = re.compile(r"^RESULT (?P<name>\S+) ratio=(?P<ratio>[0-9.]+)(?P<rest>.*)$")
TARGET = re.compile(r"^TARGET = (?P<target>[0-9.]+)", re.MULTILINE)


def benches(names: list[str]) -> list[Path]:
    found = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
    if names:
        unknown = set(names) - {p.stem for p in found}
        if unknown:
            sys.exit(f"no such bench: {', '.join(sorted(unknown))}")
        found = [p for p in found if p.stem in names]
    return found


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", f"{PG_URL}/{database}", "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def prepare_database(name: str, env: dict) -> None:
    """Create bench_NAME with PostGIS when missing and migrate it."""
    if not psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        psql("postgres", f'CREATE DATABASE "{name}"')
    psql(name, "CREATE EXTENSION IF NOT EXISTS postgis")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "trackersite.settings.dev"},
        check=True,
    )


def run(path: Path) -> dict:
    name = path.stem
    database = f"bench_{name}"
    # Each bench picks its own settings module; only the database is the runner's choice.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DATABASE_URL=f"postgis://postgres@127.0.0.1:5432/{database}",
        TEST_DATABASE_NAME=f"{database}_test",
    )
    target_match = TARGET.search(path.read_text())
    row = {
        "name": name,
        "ratio": None,
        "target": float(target_match["target"]) if target_match else None,
        "detail": "",
        "seconds": 0.0,
    }
    started = time.monotonic()
    prepare_database(database, env)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    print(f"==> {name} (log: {log.relative_to(ROOT)})", flush=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in process.stdout:
            out.write(line)
            print(f"    {line}", end="", flush=True)
            match = RESULT.match(line.strip())
            if match:
                row["ratio"] = float(match["ratio"])
                row["detail"] = match["rest"].strip()
        process.wait()
    row["seconds"] = time.monotonic() - started
    row["exit"] = process.returncode
    return row


def verdict(row: dict) -> str:
    if row["exit"] != 0:
        return f"FAIL (exit {row['exit']})"
    if row["ratio"] is None:
        return "FAIL (no RESULT)"
    if row["target"] is None:
        return "no target"
    return "pass" if row["ratio"] >= row["target"] else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    rows = [run(path) for path in benches(parser.parse_args().names)]
    print()
    print(f"{'bench':<10} {'ratio':>7} {'target':>7}  {'result':<16} {'time':>6}  detail")
    for row in rows:
        ratio = f"{row['ratio']:.3f}" if row["ratio"] is not None else "-"
        target = f">={row['target']:g}" if row["target"] is not None else "-"
        print(
            f"{row['name']:<10} {ratio:>7} {target:>7}  {verdict(row):<16} "
            f"{row['seconds']:>5.0f}s  {row['detail']}"
        )
    sys.exit(0 if all(verdict(row) in ("pass", "no target") for row in rows) else 1)


if __name__ == "__main__":
    main()
