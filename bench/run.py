"""`make bench`: how long a synth takes, against the usual way, and how the cost grows.

Every figure is a whole fresh process, timed from outside: wall time, and peak RSS of the
largest process (Python or its jsii node child) from the kernel's accounting (`wait4`). The
project and the reference app run in turns, A B A B, so that the ratio is taken pair by pair
and holds when the machine's speed drifts. Medians are quoted; min and max show the noise.
The results go to bench/results.md and the targets to docs/scale.md, both rewritten by this
command: do not edit them by hand.
"""

from __future__ import annotations

import argparse
import json
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
# docs/scale.md's performance section, rewritten with the targets table of each run.
SCALE_PAGE = ROOT / "docs" / "scale.md"
SCALE_PAGE_START = "<!-- bench:start (make bench) -->"
SCALE_PAGE_END = "<!-- bench:end -->"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

from bench import local_apply  # noqa: E402
from tools import moto_server, processes  # noqa: E402

# Targets from the performance issue; the results say whether each one is met.
MIN_SPEEDUP = 5.0
MAX_PEAK_RSS_MB = 1200.0
MAX_COST_PER_EXTRA_STACK = 0.05
MAX_COST_30_WORKERS = 0.10
MAX_SUITE_SECONDS = 60.0
MAX_CLI_SYNTH_SECONDS = 15.0
# Targets from the scale issue: one environment in prod's configuration, N workers.
SCALE_WORKERS = (3, 100, 300, 1000)
MAX_SYNTH_1000_SECONDS = 20.0
MAX_SYNTH_1000_MB = 1536.0
# Resources per worker in prod's configuration when the scale issue was filed.
RESOURCES_PER_WORKER_BEFORE = 20
# "Linear": a worker added between 300 and 1,000 costs at most this much more than one added
# between 100 and 300.
MAX_MARGINAL_GROWTH = 1.25
PLAN_WORKERS = 100
# Deploy at scale: local's first apply into moto, and prod's AWS part planned, at N workers.
APPLY_WORKERS = 100
PROD_PLAN_WORKERS = 1000
# Measured before the SQS policies became queue arguments (layout of ab3098a, 2026-12-03,
# `python bench/local_apply.py --app <that checkout>`): local at 100 workers, first apply at
# Terraform's default parallelism; prod's AWS part at 1,000 workers, synth and plan.
APPLY_BEFORE = {"resources": 508, "waiting": 505, "parallelism": 10, "apply": 1334.6}
PROD_PLAN_BEFORE = {"resources": 7013, "synth": 137.3, "plan": 302.0}


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does: the benchmark's sizes, or --quick's, which runs each
    measurement once at a small size to prove in CI that `make bench` works, and writes
    nothing (its figures are not the benchmark's)."""

    scale_workers: tuple[int, int, int, int] = SCALE_WORKERS
    plan_workers: int = PLAN_WORKERS
    apply_workers: int = APPLY_WORKERS
    prod_plan_workers: int = PROD_PLAN_WORKERS
    # What the suite measurement runs: the whole unit suite, or one small file of it.
    suite: tuple[str, ...] = ("--ignore=tests/integration", "--ignore=tests/scale")
    suite_label: str = "unit + snapshot suite (`make test`)"


QUICK = Sizes(
    scale_workers=(3, 10, 20, 40),
    plan_workers=3,
    apply_workers=3,
    prod_plan_workers=10,
    suite=("tests/stacks/test_settings.py",),
    suite_label="one file of the unit suite (tests/stacks/test_settings.py)",
)


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


def run_once(
    command: Command, inspect: Callable[[Path], None] | None = None
) -> tuple[float, float]:
    """Run in a fresh output folder; return wall seconds and peak RSS in MB. `inspect` sees
    the output folder before it is deleted."""
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
        if inspect is not None:
            inspect(outdir)
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


def scaled(
    environments: int, workers: int, config: str = "dev", sqs_endpoint: str | None = None
) -> Command:
    def command(outdir: Path) -> list[str]:
        return [
            PYTHON,
            "bench/synth_scaled.py",
            f"--environments={environments}",
            f"--workers={workers}",
            f"--outdir={outdir}",
            f"--config={config}",
            *([f"--sqs-endpoint={sqs_endpoint}"] if sqs_endpoint else []),
        ]

    return command


def resource_count(outdir: Path) -> int:
    """Resources in the one stack under `outdir`."""
    [stack] = (outdir / "stacks").glob("*/cdk.tf.json")
    body = json.loads(stack.read_text())
    return sum(len(resources) for resources in body.get("resource", {}).values())


@dataclass
class ScaleRow:
    """One environment in prod's configuration with `workers` workers."""

    workers: int
    resources: int
    runs: Runs


def measure_scale(workers: Sequence[int], *, runs: int, warmup: int) -> list[ScaleRow]:
    return [scale_row(count, runs=runs, warmup=warmup) for count in workers]


def scale_row(workers: int, *, runs: int, warmup: int) -> ScaleRow:
    """Every run of the same stack must count the same resources."""
    counted: list[int] = []
    result = Runs(f"{workers} workers")
    for round_number in range(warmup + runs):
        wall, peak = run_once(
            scaled(1, workers, "prod"), lambda out: counted.append(resource_count(out))
        )
        print(f"  {result.label}: {wall:.2f} s, {peak:.0f} MB", file=sys.stderr)
        if round_number >= warmup:
            result.walls.append(wall)
            result.peaks_mb.append(peak)
    assert len(set(counted)) == 1, f"the same stack gave {counted} resources"
    return ScaleRow(workers, counted[0], result)


def plan_against_moto(runs: int, workers: int) -> tuple[list[float], int]:
    """Wall seconds of `terraform plan` of the local (SQS) stack with `workers` workers
    against moto, from an empty emulator (every resource to create), after `init`. moto
    listens on a free port of its own, so that a `make deploy-local` or the integration tests
    may run meanwhile."""
    if moto_server.executable() is None:
        raise SystemExit("moto_server not found: run `make install`")
    port = processes.free_port()
    env = {
        **os.environ,
        **moto_server.EMULATOR_CREDENTIALS,
        "TF_IN_AUTOMATION": "1",
    }
    with tempfile.TemporaryDirectory(prefix="ml-queues-plan-") as scratch:
        outdir = Path(scratch) / "out"
        subprocess.run(
            scaled(1, workers, "local", sqs_endpoint=moto_server.endpoint_at(port))(outdir),
            cwd=ROOT,
            check=True,
        )
        stack = outdir / "stacks" / "local"
        resources = resource_count(outdir)
        terraform = ["terraform", "-chdir=" + str(stack)]
        subprocess.run(
            [*terraform, "init", "-input=false"], env=env, check=True, capture_output=True
        )
        walls = []
        with (Path(scratch) / "moto.log").open("w") as log:
            server = moto_server.start(log, port)
            try:
                for _ in range(runs):
                    start = time.perf_counter()
                    subprocess.run(
                        [*terraform, "plan", "-input=false", "-lock=false"],
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                    walls.append(time.perf_counter() - start)
                    print(f"  plan at {workers} workers: {walls[-1]:.2f} s", file=sys.stderr)
            finally:
                moto_server.stop(server)
    return walls, resources


def deploy_lines(
    applied: local_apply.MotoRun, prod: local_apply.MotoRun, sizes: Sizes
) -> list[str]:
    """The deploy-at-scale table: this tree against the layout before the SQS policies
    became queue arguments (one run each; moto waits as AWS does, so the ratio is what an
    operator sees)."""
    assert applied.apply_seconds is not None
    before = APPLY_BEFORE
    speedup = before["apply"] / applied.apply_seconds
    return [
        "## Deploy at scale: Terraform against moto",
        "",
        "| run | resources | waiting (SQS) | parallelism | synth s | plan s | apply s"
        " | guard's estimate s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| local, {APPLY_WORKERS} workers, first apply, before | {before['resources']}"
        f" | {before['waiting']} | {before['parallelism']} | | | {before['apply']:.0f} | |",
        f"| local, {sizes.apply_workers} workers, first apply | {applied.total}"
        f" | {applied.sqs_resources()} | {applied.parallelism} | {applied.synth_seconds:.1f}"
        f" | {applied.plan_seconds:.1f} | {applied.apply_seconds:.0f}"
        f" | {applied.estimate.seconds:.0f} |",
        f"| prod's AWS part, {PROD_PLAN_WORKERS} workers, before"
        f" | {PROD_PLAN_BEFORE['resources']} | | | {PROD_PLAN_BEFORE['synth']:.1f}"
        f" | {PROD_PLAN_BEFORE['plan']:.1f} | | |",
        f"| prod's AWS part, {sizes.prod_plan_workers} workers | {prod.total}"
        f" | {prod.sqs_resources()} | {prod.parallelism} | {prod.synth_seconds:.1f}"
        f" | {prod.plan_seconds:.1f} | | {prod.estimate.seconds:.0f} |",
        "",
        f"First apply at {APPLY_WORKERS} workers: {speedup:.1f}x faster than before;"
        " the guard's estimate is"
        f" {applied.estimate.seconds / applied.apply_seconds:.2f} of the measured apply."
        " Synth is a whole process (`bench/synth_scaled.py`); plans start from an empty moto.",
        "",
    ]


def test_suite(sizes: Sizes) -> Command:
    def command(outdir: Path) -> list[str]:
        return [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *sizes.suite]

    return command


def cli_synth(outdir: Path) -> list[str]:
    return ["npx", "cdktf", "synth", "--output", str(outdir)]


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def scale_lines(
    rows: list[ScaleRow], plan_walls: list[float], plan_resources: int, plan_workers: int
) -> list[str]:
    """The scaling table and its targets, as markdown lines ending in a blank line. The rows
    are four sizes, smallest first: the last two steps between them give the growth."""
    first, low, middle, last = rows
    by_workers = {row.workers: row for row in rows}
    per_worker = (last.resources - first.resources) / (last.workers - first.workers)
    per_worker_each = {
        row.workers: (row.resources - first.resources) / (row.workers - first.workers)
        for row in rows[1:]
    }

    def marginal(low: int, high: int) -> float:
        """Seconds per worker added between `low` and `high` workers."""
        return (by_workers[high].runs.wall - by_workers[low].runs.wall) / (high - low)

    lower, upper = marginal(low.workers, middle.workers), marginal(middle.workers, last.workers)
    growth = upper / lower
    linear = growth <= MAX_MARGINAL_GROWTH and len(set(per_worker_each.values())) == 1
    plan = statistics.median(plan_walls)
    top = last.runs
    return [
        "## Scale: one environment in prod's configuration",
        "",
        "| workers | resources | wall s | peak RSS MB |",
        "| --- | --- | --- | --- |",
        *(
            f"| {row.workers} | {row.resources} | {row.runs.wall:.2f}"
            f" ({min(row.runs.walls):.2f}-{max(row.runs.walls):.2f}) | {row.runs.peak_mb:.0f} |"
            for row in rows
        ),
        "",
        f"Resources per worker: {per_worker:g} (from {first.workers} to {last.workers} workers)."
        f" Seconds per worker added: {lower * 1000:.1f} ms from {low.workers:,} to"
        f" {middle.workers:,}, {upper * 1000:.1f} ms from {middle.workers:,} to {last.workers:,}."
        f" `terraform plan` of the local (SQS) stack with {plan_workers} workers"
        f" ({plan_resources} resources) against moto, from an empty emulator, after `init`:"
        f" {plan:.1f} s median of {len(plan_walls)}.",
        "",
        "| scale target | measured | |",
        "| --- | --- | --- |",
        f"| synth at {last.workers:,} workers ≤ {MAX_SYNTH_1000_SECONDS:.0f} s | {top.wall:.1f} s |"
        f" {verdict(top.wall <= MAX_SYNTH_1000_SECONDS)} |",
        f"| synth at {last.workers:,} workers ≤ {MAX_SYNTH_1000_MB:.0f} MB"
        f" | {max(top.peaks_mb):.0f} MB |"
        f" {verdict(max(top.peaks_mb) <= MAX_SYNTH_1000_MB)} |",
        f"| resources per worker (prod) below {RESOURCES_PER_WORKER_BEFORE} | {per_worker:g} |"
        f" {verdict(per_worker < RESOURCES_PER_WORKER_BEFORE)} |",
        f"| linear in N: same resources per worker, a worker from {middle.workers:,} to"
        f" {last.workers:,} costs ≤ {MAX_MARGINAL_GROWTH:.2f}x one from {low.workers:,} to"
        f" {middle.workers:,} | {growth:.2f}x |"
        f" {verdict(linear)} |",
        "",
        *why_missed(top, upper),
    ]


def why_missed(top: Runs, per_worker_seconds: float) -> list[str]:
    """What the synth targets at 1,000 workers come down to, when either is missed."""
    if top.wall <= MAX_SYNTH_1000_SECONDS and max(top.peaks_mb) <= MAX_SYNTH_1000_MB:
        return []
    return [
        f"Why a synth target at 1,000 workers is missed: each worker adds"
        f" {per_worker_seconds * 1000:.0f} ms and its share of memory, nearly all of it in"
        " the jsii runtime: about 80 round trips from Python to node per worker (creating"
        " its ~20 constructs, reading their references, setting lifecycles), then node"
        " resolving and writing the JSON. `constructs_lib/jsii_cache.py` and the stack rules"
        " applied in Python took it down from about 190; below the target would take fewer"
        " constructs per worker, or writing the workers' JSON without jsii.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each synth")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs first")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="each measurement once, at a small size, and nothing written: what CI runs to"
        " prove that the command works",
    )
    args = parser.parse_args()
    runs, warmup = (1, 0) if args.quick else (args.runs, args.warmup)
    sizes = QUICK if args.quick else Sizes()
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
        {sizes.suite_label: test_suite(sizes), "`npx cdktf synth` (CLI)": cli_synth},
        runs=max(1, runs // 2),
        warmup=0,
    )

    print("workers at scale (prod's configuration)", file=sys.stderr)
    scale = measure_scale(sizes.scale_workers, runs=min(runs, 3), warmup=0)
    print(f"terraform plan against moto, {sizes.plan_workers} workers", file=sys.stderr)
    plan_walls, plan_resources = plan_against_moto(min(runs, 3), sizes.plan_workers)
    print(f"first apply of local into moto, {sizes.apply_workers} workers", file=sys.stderr)
    applied = local_apply.run(
        ROOT, config="local", workers=sizes.apply_workers, parallelism=None, apply=True
    )
    print(f"prod's AWS part at {sizes.prod_plan_workers} workers: synth, plan", file=sys.stderr)
    prod = local_apply.run(
        ROOT, config="prod", workers=sizes.prod_plan_workers, parallelism=None, apply=False
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
        "Written by `make bench` (`bench/run.py`), which copies the targets into docs/scale.md.",
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
        *scale_lines(scale, plan_walls, plan_resources, sizes.plan_workers),
        *deploy_lines(applied, prod, sizes),
        "Why the project is faster: `constructs_lib/providers.py` imports only the provider",
        "modules the stacks use instead of every resource module of both provider packages; what",
        "remains is mostly the jsii kernel loading the two provider assemblies in node.",
        "",
    ]
    start = lines.index("| target | measured | |")
    scale_start = lines.index("| scale target | measured | |")
    summary = [
        f"From `make bench` on {datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} cores);"
        " every row and how it was measured: [bench/results.md](../bench/results.md).",
        "",
        *lines[start : lines.index("", start)],
        "",
        *lines[scale_start : lines.index("", scale_start)],
    ]
    if args.quick:
        print("\n".join(["Quick pass (--quick): small sizes, nothing written.", "", *lines]))
        return 0
    RESULTS.write_text("\n".join(lines))
    print(RESULTS.read_text())
    page = SCALE_PAGE.read_text()
    before, _, rest = page.partition(SCALE_PAGE_START)
    _, _, after = rest.partition(SCALE_PAGE_END)
    SCALE_PAGE.write_text(
        f"{before}{SCALE_PAGE_START}\n" + "\n".join(summary) + f"\n{SCALE_PAGE_END}{after}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
