"""`make bench`: how long a synth takes, against the usual way, and how the cost grows.

Every figure is a whole fresh process, timed from outside: wall time, and peak RSS of the
largest process (Python or its jsii node child) from the kernel's accounting (`wait4`). The
project and the reference app run in turns, A B A B, so that the ratio is taken pair by pair
and holds when the machine's speed drifts. Medians are quoted; min and max show the noise.
The results go to bench/results.md, which this command rewrites: do not edit it by hand.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.md"
# The README's performance section, rewritten with the targets table of each run.
README = ROOT / "README.md"
README_START = "<!-- bench:start (make bench) -->"
README_END = "<!-- bench:end -->"
PYTHON = sys.executable

# Targets from the performance issue; the results say whether each one is met.
MIN_SPEEDUP = 5.0
MAX_PEAK_RSS_MB = 1200.0
MAX_COST_PER_EXTRA_STACK = 0.05
MAX_COST_30_WORKERS = 0.10
MAX_SUITE_SECONDS = 60.0
MAX_CLI_SYNTH_SECONDS = 15.0


@dataclass
class Runs:
    """The counted runs of one command."""

    label: str
    walls: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def peak_mb(self) -> float:
        return statistics.median(self.peaks_mb)

    def row(self) -> str:
        return (
            f"| {self.label} | {len(self.walls)} | {self.wall:.2f} "
            f"({min(self.walls):.2f}-{max(self.walls):.2f}) | {self.peak_mb:.0f} "
            f"({min(self.peaks_mb):.0f}-{max(self.peaks_mb):.0f}) |"
        )


Command = Callable[[Path], Sequence[str]]


def run_once(command: Command) -> tuple[float, float]:
    """Run in a fresh output folder; return wall seconds and peak RSS in MB."""
    with tempfile.TemporaryDirectory(prefix="ml-queues-bench-") as scratch:
        outdir = Path(scratch) / "out"
        env = {**os.environ, "CDKTF_OUTDIR": str(outdir)}
        log = Path(scratch) / "log"
        with log.open("w") as output:
            start = time.perf_counter()
            process = subprocess.Popen(
                list(command(outdir)), cwd=ROOT, env=env, stdout=output, stderr=output
            )
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(command(outdir))} failed:\n{log.read_text()[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def measure(commands: dict[str, Command], *, runs: int, warmup: int) -> list[Runs]:
    """Run the commands in turns, `warmup` rounds uncounted, then `runs` counted rounds."""
    results = [Runs(label) for label in commands]
    for round_number in range(warmup + runs):
        for result, command in zip(results, commands.values(), strict=True):
            wall, peak = run_once(command)
            print(f"  {result.label}: {wall:.2f} s, {peak:.0f} MB", file=sys.stderr)
            if round_number >= warmup:
                result.walls.append(wall)
                result.peaks_mb.append(peak)
    return results


def project_synth(outdir: Path) -> list[str]:
    return [PYTHON, "main.py"]


def reference_synth(outdir: Path) -> list[str]:
    return [PYTHON, "bench/reference_app.py"]


def scaled(environments: int, workers: int) -> Command:
    def command(outdir: Path) -> list[str]:
        return [
            PYTHON,
            "bench/synth_scaled.py",
            f"--environments={environments}",
            f"--workers={workers}",
            f"--outdir={outdir}",
        ]

    return command


def test_suite(outdir: Path) -> list[str]:
    return [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore=tests/integration"]


def cli_synth(outdir: Path) -> list[str]:
    return ["npx", "cdktf", "synth", "--output", str(outdir)]


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each synth")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs first")
    args = parser.parse_args()
    runs, warmup = args.runs, args.warmup
    if shutil.which("npx") is None:
        raise SystemExit("npx not found: run `make install` first")

    print("project vs reference (usual imports)", file=sys.stderr)
    project, reference = measure(
        {
            "project synth (`python main.py`)": project_synth,
            "reference app (usual imports)": reference_synth,
        },
        runs=runs,
        warmup=warmup,
    )
    ratios = [r / p for r, p in zip(reference.walls, project.walls, strict=True)]
    print("environment stacks", file=sys.stderr)
    stacks = measure(
        {
            f"{n} environment stack{'s' if n > 1 else ''}, 3 workers": scaled(n, 3)
            for n in (1, 3, 10)
        },
        runs=runs,
        warmup=warmup,
    )
    print("workers", file=sys.stderr)
    workers = measure(
        {"3 environments, 3 workers": scaled(3, 3), "3 environments, 30 workers": scaled(3, 30)},
        runs=runs,
        warmup=warmup,
    )
    print("test suite and CLI", file=sys.stderr)
    suite, cli = measure(
        {"unit + snapshot suite (`make test`)": test_suite, "`npx cdktf synth` (CLI)": cli_synth},
        runs=max(2, runs // 2),
        warmup=0,
    )

    speedup = statistics.median(ratios)
    one, _, ten = stacks
    per_extra_stack = (ten.wall / one.wall - 1) / 9
    three_workers, thirty_workers = workers
    workers_cost = thirty_workers.wall / three_workers.wall - 1
    peak = max(project.peaks_mb)

    lines = [
        "# Synth benchmark",
        "",
        "Written by `make bench` (`bench/run.py`), which copies the targets into the README.",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, {runs} counted runs after {warmup} warm-up"
        " (test suite and CLI: fewer, no warm-up). Each run is a fresh process; wall seconds"
        " and the peak RSS of the largest process, as median (min-max).",
        "",
        "| command | runs | wall s | peak RSS MB |",
        "| --- | --- | --- | --- |",
        *(r.row() for r in (project, reference, *stacks, *workers, suite, cli)),
        "",
        f"Reference / project, pair by pair: **{speedup:.1f}x** median"
        f" ({min(ratios):.1f}-{max(ratios):.1f}).",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
        f"| project synth ≥ {MIN_SPEEDUP:.0f}x faster than the reference | {speedup:.1f}x |"
        f" {verdict(speedup >= MIN_SPEEDUP)} |",
        f"| project peak RSS ≤ {MAX_PEAK_RSS_MB:.0f} MB | {peak:.0f} MB (max of runs) |"
        f" {verdict(peak <= MAX_PEAK_RSS_MB)} |",
        f"| each extra environment stack ≤ {MAX_COST_PER_EXTRA_STACK:.0%} more wall"
        f" | {per_extra_stack:+.1%} per stack (1 → 10 stacks) |"
        f" {verdict(per_extra_stack <= MAX_COST_PER_EXTRA_STACK)} |",
        f"| 30 workers ≤ {MAX_COST_30_WORKERS:.0%} more than 3 | {workers_cost:+.1%} |"
        f" {verdict(workers_cost <= MAX_COST_30_WORKERS)} |",
        f"| test suite ≤ {MAX_SUITE_SECONDS:.0f} s | {suite.wall:.1f} s |"
        f" {verdict(suite.wall <= MAX_SUITE_SECONDS)} |",
        f"| `cdktf synth` through the CLI ≤ {MAX_CLI_SYNTH_SECONDS:.0f} s | {cli.wall:.1f} s |"
        f" {verdict(cli.wall <= MAX_CLI_SYNTH_SECONDS)} |",
        "",
        "Why the project is faster: `constructs_lib/providers.py` imports only the provider",
        "modules the stacks use instead of every resource module of both provider packages; what",
        "remains is mostly the jsii kernel loading the two provider assemblies in node.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(RESULTS.read_text())
    start = lines.index("| target | measured | |")
    summary = [
        f"From `make bench` on {datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} cores);"
        " every row and how it was measured: [bench/results.md](bench/results.md).",
        "",
        *lines[start : lines.index("", start)],
    ]
    readme = README.read_text()
    before, _, rest = readme.partition(README_START)
    _, _, after = rest.partition(README_END)
    README.write_text(f"{before}{README_START}\n" + "\n".join(summary) + f"\n{README_END}{after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
