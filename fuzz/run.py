"""Run the fuzz targets: coverage-guided with atheris (libFuzzer), else with hypothesis.

    python3 fuzz/run.py --seconds 20 cache elf conf        # the CI short run (~1 minute)
    python3 fuzz/run.py --seconds 3600 --jobs 2 cache      # a long run (see fuzz/README.md)

Each target runs in its own process with its own corpus directory
(``$LDCACHE_FUZZ_DIR/TARGET``, default ``/var/tmp/ldcache-fuzz``), seeded from
``fuzz/targets.py:seeds`` and ``fuzz/regressions/TARGET``.  libFuzzer bounds each input
(``-timeout``, :data:`targets.INPUT_SECONDS`) and the process's memory (``-rss_limit_mb``);
a crash, hang or memory blow-up is written to ``fuzz/crashes/TARGET/`` and the run fails.
The last line per target gives the inputs executed and the crashes found.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import targets  # noqa: E402

RSS_LIMIT_MB = 2048
WORK = Path(os.environ.get("LDCACHE_FUZZ_DIR", "/var/tmp/ldcache-fuzz"))


def have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ one target, in-process

def _atheris_main(target: str, argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["ldcache"]):
        import ldcache.cli.inspect  # noqa: F401
        import ldcache.conf  # noqa: F401
        import ldcache.elf  # noqa: F401
        import ldcache.format  # noqa: F401
        import ldcache.inroot  # noqa: F401
        import ldcache.printer  # noqa: F401
    func = targets.TARGETS[target]
    atheris.Setup([sys.argv[0]] + argv, func)
    atheris.Fuzz()


def _hypothesis_main(target: str, seconds: float) -> int:
    """Fallback without atheris: random and seed-mutated inputs, same outcomes allowed."""
    import random

    func = targets.TARGETS[target]
    pool = list(targets.seeds(target).values()) + list(targets.regressions(target).values())
    rng = random.Random(int(os.environ.get("LDCACHE_FUZZ_SEED", "0")) or None)
    end = time.monotonic() + seconds
    runs = 0
    while time.monotonic() < end:
        data = bytearray(rng.choice(pool)) if pool and rng.random() < 0.9 else bytearray(
            rng.randbytes(rng.randrange(0, 4096)))
        for _ in range(rng.randrange(1, 16)):
            if not data:
                data += rng.randbytes(8)
            i = rng.randrange(len(data))
            op = rng.randrange(4)
            if op == 0:
                data[i] = rng.randrange(256)
            elif op == 1:
                data[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\0\0\0\0", b"\x7f\xff\xff\xff",
                                            b"\x80\0\0\0"])
            elif op == 2:
                del data[i:i + rng.randrange(1, 64)]
            else:
                data[i:i] = data[rng.randrange(len(data)):][:rng.randrange(1, 64)]
        try:
            with targets.bounded():
                func(bytes(data))
        except BaseException:
            out = HERE / "crashes" / target
            out.mkdir(parents=True, exist_ok=True)
            (out / f"crash-{runs}").write_bytes(bytes(data))
            raise
        runs += 1
    print(f"Done {runs} runs in {int(seconds)} second(s)")
    return 0


# ------------------------------------------------------------------ driver

def run_target(target: str, seconds: int, jobs: int, extra: list[str]) -> tuple[int, int, int]:
    """(status, inputs executed, crashes found) of one target's run."""
    corpus = WORK / target
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in {**targets.seeds(target), **targets.regressions(target)}.items():
        p = corpus / ("seed-" + re.sub(r"[^A-Za-z0-9._-]", "_", name))
        if not p.exists():
            p.write_bytes(data)
    crashes = HERE / "crashes" / target
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE)]))
    if have_atheris():
        args = [sys.executable, str(Path(__file__)), "--child", target, "--",
                str(corpus), f"-max_total_time={seconds}",
                f"-timeout={targets.FUZZ_TIMEOUT.get(target, targets.INPUT_SECONDS)}",
                # A slow input is reported only when it nears the timeout (which is a crash):
                # include storms take ~10 s under atheris' instrumentation.
                f"-report_slow_units={targets.FUZZ_TIMEOUT.get(target, targets.INPUT_SECONDS)}",
                f"-rss_limit_mb={RSS_LIMIT_MB}",
                f"-artifact_prefix={crashes}/", "-max_len=65536", "-print_final_stats=1",
                *extra]
        if jobs > 1:
            args += [f"-jobs={jobs}", f"-workers={jobs}"]
    else:
        args = [sys.executable, str(Path(__file__)), "--child", target,
                "--seconds", str(seconds)]
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       cwd=str(corpus))
    out = p.stdout.decode(errors="replace")
    logs = out
    for log in corpus.glob("fuzz-*.log"):  # -jobs writes one log per job
        logs += log.read_text(errors="replace")
        log.unlink()
    runs = sum(int(m) for m in re.findall(r"stat::number_of_executed_units:\s*(\d+)", logs))
    if not runs:
        runs = sum(int(m) for m in re.findall(r"Done (\d+) runs", logs))
    # Findings are crash-, timeout-, oom- and leak- artifacts; slow-unit- ones are reports.
    found = len([f for f in set(crashes.iterdir()) - before
                 if not f.name.startswith("slow-unit-")])
    if p.returncode != 0 or found:
        sys.stdout.write(out[-6000:])
    return p.returncode, runs, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=20, help="run time per target")
    ap.add_argument("--jobs", type=int, default=1, help="parallel libFuzzer jobs per target")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("names", nargs="*", help="targets (default: all)")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args(argv)
    if args.child:
        rest = [a for a in (args.names + rest + args.extra) if a != "--"]
        if have_atheris():
            _atheris_main(args.child, rest)
            return 0
        return _hypothesis_main(args.child, args.seconds)
    names = args.names or list(targets.TARGETS)
    status = 0
    total = 0
    engine = "atheris" if have_atheris() else "random mutation (atheris not installed)"
    for name in names:
        if name not in targets.TARGETS:
            ap.error(f"unknown target {name!r} (have {', '.join(targets.TARGETS)})")
        t0 = time.monotonic()
        rc, runs, found = run_target(name, args.seconds, args.jobs, rest)
        total += runs
        print(f"fuzz {name}: {runs} inputs executed in {time.monotonic() - t0:.0f} s "
              f"({engine}), {found} crashes found, exit {rc}", flush=True)
        if rc != 0 or found:
            status = 1
    print(f"fuzz: {total} inputs executed in all", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
