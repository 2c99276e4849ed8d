#!/usr/bin/env python3
"""Regenerate every generated file in vectors/ from scratch.

    python3 vectors/make_vectors.py            # everything
    python3 vectors/make_vectors.py --jobs 3   # parallel debootstrap/ldconfig jobs

Needs: root, debootstrap, qemu-user-static, network access to Debian's default
mirror (debootstrap's own default), gcc with binutils >= 2.37 (-z x86-64-vN); see
README.md.  Debian roots come from tests/support/debroots.py (cached in
$LDCACHE_ROOTS_DIR, default /var/tmp/ldcache-roots); the synthetic roots are
described in vectors/synthetic-roots.json.

For every (suite, arch) root and every synthetic root, ldconfig is run four times
(no -c, -c new, -c compat, -c old), each writing /etc/ld.so.cache.<layout> inside
the root, and `ldconfig -p -C` of that path is saved next to it.  Each run is done
twice, in two fresh copies of the root and in opposite orders; the index says
whether the two outputs were byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support import debroots  # noqa: E402

LAYOUTS: List[str] = ["default", "new", "compat", "old"]
OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"


def cache_path(layout: str) -> str:
    return f"/etc/ld.so.cache.{layout}"


def layout_args(layout: str) -> List[str]:
    return [] if layout == "default" else ["-c", layout]


# ----------------------------------------------------------------- cache facts


def _strz(data: bytes, off: int) -> Optional[bytes]:
    if off < 0 or off >= len(data):
        return None
    end = data.find(b"\0", off)
    return data[off:end] if end >= 0 else None


def old_offset_shift(data: bytes, bo: str) -> Optional[int]:
    """For an old-only cache: by how much every string offset is too large.

    0 for a correct file; 4 for the ≤2.32 writer's pad bug (spec §1.4.3); None if
    neither explains the offsets.  A shift fits when every value points at the start
    of an absolute path (offset 0 or just after a NUL) and every key at a non-empty
    string starting at a string start or just after a '/' (tail-merged sonames).
    """
    (n,) = struct.unpack_from(bo + "I", data, 12)
    base = 16 + 12 * n
    strings = data[base:]

    def fits(shift: int) -> bool:
        for i in range(n):
            _flags, key, value = struct.unpack_from(bo + "iII", data, 16 + 12 * i)
            k, v = key - shift, value - shift
            if min(k, v) < 0 or max(k, v) >= len(strings):
                return False
            if v and strings[v - 1] != 0:
                return False
            if k and strings[k - 1] not in (0, ord("/")):
                return False
            soname, path = _strz(strings, k), _strz(strings, v)
            if not soname or not path or not path.startswith(b"/"):
                return False
        return True

    for shift in (0, 4):
        if fits(shift):
            return shift
    return None


def _is_extension_hwcap(hwcap: int) -> bool:
    return ((hwcap >> 32) & ~0x3FF) == 0x40000000


def old_table_consistent(data: bytes, bo: str, new_at: int) -> bool:
    """Whether a compat file's old table is what a correct writer produces from its
    new table: the entries without a legacy hwcap value, same flags/key/value, the
    last one duplicated to make the count even (spec §1.4.1-1.4.2)."""
    (n_old,) = struct.unpack_from(bo + "I", data, 12)
    old = [struct.unpack_from(bo + "iII", data, 16 + 12 * i) for i in range(n_old)]
    (n,) = struct.unpack_from(bo + "I", data, new_at + 20)
    expected: List[Tuple[int, int, int]] = []
    for i in range(n):
        flags, key, value, _osv, hwcap = struct.unpack_from(bo + "iIIIQ", data,
                                                            new_at + 48 + 24 * i)
        if hwcap == 0 or _is_extension_hwcap(hwcap):
            expected.append((flags, key, value))
    if len(expected) % 2:
        expected.append(expected[-1])
    return old == expected


def notes_for(facts: Dict[str, Any], exit_status: int) -> List[str]:
    """Human-readable remarks on known writer bugs visible in a cache file."""
    notes: List[str] = []
    if facts.get("old_string_offset_shift") == 4:
        notes.append(
            "old-format pad bug of glibc <=2.32 (spec 1.4.3): "
            "every old string offset is 4 too large"
        )
    if facts["layout"] == "old" and facts.get("old_string_offset_shift") is None:
        notes.append("old table offsets are garbage (writer bug)")
    if facts.get("old_table_consistent") is False:
        notes.append(
            "compat old table does not match the new table: the 2.33-2.36 legacy-hwcap writer"
            " bug (spec 1.4.3); it contains uninitialised memory"
        )
    if exit_status < 0:
        notes.append(f"ldconfig was killed by signal {-exit_status} after writing this file")
    elif exit_status > 0:
        notes.append(f"ldconfig exited with status {exit_status}")
    return notes


def cache_facts(data: bytes, byte_order: str) -> Dict[str, Any]:
    """Layout, entry counts, flags byte and generator of a cache file."""
    bo = "<" if byte_order == "little" else ">"
    facts: Dict[str, Any] = {}
    new_at: Optional[int] = None
    if data.startswith(OLD_MAGIC):
        (n_old,) = struct.unpack_from(bo + "I", data, 12)
        facts["old_entries"] = n_old
        end_old = 16 + 12 * n_old
        if data.startswith(NEW_MAGIC, end_old):
            new_at = end_old
            facts["layout"] = "compat"
        elif len(data) > end_old + 48 and data.find(NEW_MAGIC, end_old, end_old + 8) >= 0:
            new_at = data.find(NEW_MAGIC, end_old, end_old + 8)
            facts["layout"] = "compat"
            facts["compat_pad"] = new_at - end_old
        else:
            facts["layout"] = "old"
            facts["entries"] = n_old
            facts["old_string_offset_shift"] = old_offset_shift(data, bo)
    elif data.startswith(NEW_MAGIC):
        new_at = 0
        facts["layout"] = "new"
    else:
        raise ValueError("not an ld.so.cache")
    if new_at is not None:
        nlibs, len_strings, flags_byte = struct.unpack_from(bo + "IIB", data, new_at + 20)
        (ext,) = struct.unpack_from(bo + "I", data, new_at + 32)
        facts.update(
            entries=nlibs,
            len_strings=len_strings,
            flags_byte=flags_byte,
            extension_offset=ext,
        )
    if facts["layout"] == "compat" and new_at is not None:
        facts["old_table_consistent"] = old_table_consistent(data, bo, new_at)
    gen = debroots.cache_generator(data, byte_order)
    facts["generator"] = gen.decode() if gen is not None else None
    return facts


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------- running


class LdconfigSource:
    """Which ldconfig binary a set of vectors is made with, and its versions."""

    def __init__(
        self,
        label: str,
        binary: Path,
        arch: str,
        suite: str,
        libc_bin: Optional[str],
        glibc: str,
    ) -> None:
        self.label = label
        self.binary = binary
        self.arch = arch
        self.suite = suite
        self.libc_bin = libc_bin
        self.glibc = glibc


def host_source() -> LdconfigSource:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libc-bin"], capture_output=True, text=True
    )
    version = proc.stdout.strip() if proc.returncode == 0 else None
    glibc = debroots.glibc_version(version) if version else "unknown"
    return LdconfigSource("host", Path("/sbin/ldconfig"), "amd64", "host", version, glibc)


def root_source(suite: str, arch: str) -> LdconfigSource:
    root = debroots.debian_root(suite, arch)
    info = debroots.root_info(suite, arch)
    return LdconfigSource(
        f"{suite}-{arch}", debroots.find_ldconfig(root), arch, suite, info["libc-bin"],
        info["glibc"],
    )


class Run:
    """One ldconfig write run plus its ``-p`` run."""

    def __init__(self, data: Optional[bytes], text: bytes, stderr: bytes, rc: int,
                 prc: int) -> None:
        self.data = data  # None if no cache file was written
        self.text = text
        self.stderr = stderr
        self.rc = rc  # exit status of the writing run (negative: killed by a signal)
        self.prc = prc  # exit status of the -p run


def run_layouts(
    src: LdconfigSource, make_root: Callable[[Path], Path], order: List[str], scratch: Path
) -> Tuple[Dict[str, Run], Path]:
    """Make a fresh root, run ``src``'s ldconfig once per layout in ``order``."""
    root = make_root(scratch)
    out: Dict[str, Run] = {}
    for layout in order:
        c = cache_path(layout)
        target = root / c.lstrip("/")
        w = debroots.run_ldconfig(
            src.binary, root, [*layout_args(layout), "-C", c], src.arch, check=False
        )
        data = target.read_bytes() if target.is_file() else None
        p = debroots.run_ldconfig(src.binary, root, ["-p", "-C", c], src.arch, check=False)
        out[layout] = Run(data, p.stdout, w.stderr + p.stderr, w.returncode, p.returncode)
    return out, root


def symlink_map(root: Path) -> Dict[str, str]:
    links: Dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                links["/" + os.path.relpath(full, root)] = os.readlink(full)
    return links


def make_vectors(
    *,
    name_prefix: str,
    src: LdconfigSource,
    make_root: Callable[[Path], Path],
    record_base: Dict[str, Any],
    outdir: Path,
    pristine: Optional[Path],
) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Produce the 8 files of one (ldconfig, root) pair; return index records and
    a per-pair summary."""
    byte_order = debroots.BYTE_ORDER[src.arch]
    with tempfile.TemporaryDirectory(prefix="ldcache-vec-", dir=str(debroots.ROOTS_DIR)) as tmp:
        first, root_a = run_layouts(src, make_root, LAYOUTS, Path(tmp) / "a")
        second, _ = run_layouts(src, make_root, list(reversed(LAYOUTS)), Path(tmp) / "b")
        changed: List[str] = []
        if pristine is not None:
            before = symlink_map(pristine)
            after = symlink_map(root_a)
            changed = sorted(
                f"{p} -> {t}" for p, t in after.items() if before.get(p) != t
            ) + sorted(f"{p} (removed)" for p in before if p not in after)
    records: List[Dict[str, Any]] = []
    summary: Dict[str, Any] = {"links_changed_by_ldconfig": changed, "stderr": {}}
    for layout in LAYOUTS:
        run, run2 = first[layout], second[layout]
        data, text, err = run.data, run.text, run.stderr
        if err:
            summary["stderr"][layout] = err.decode(errors="replace")
        if run.rc != 0:
            summary.setdefault("ldconfig_failed", {})[layout] = run.rc
        if data is None:
            continue
        data2, text2 = run2.data, run2.text
        facts = cache_facts(data, byte_order)
        stem = f"{name_prefix}-{layout}"
        (outdir / f"{stem}.cache").write_bytes(data)
        (outdir / f"{stem}.txt").write_bytes(text)
        command = [
            "ldconfig",
            "-r",
            "ROOT",
            *layout_args(layout),
            "-C",
            cache_path(layout),
        ]
        common = dict(record_base)
        common.update(
            ldconfig=src.label,
            glibc=src.glibc,
            libc_bin_version=src.libc_bin,
            arch=src.arch,
            byte_order=byte_order,
            requested_layout=layout,
            cache_path=cache_path(layout),
        )
        rec = dict(common)
        rec.update(
            file=f"{stem}.cache",
            kind="cache",
            command=command,
            size=len(data),
            sha256=sha256(data),
            reproducible=data == data2,
            ldconfig_exit=run.rc,
            notes=notes_for(facts, run.rc),
            **facts,
        )
        records.append(rec)
        header = text.split(b"\n", 1)[0].decode(errors="replace")
        n_text = int(header.split()[0]) if header[:1].isdigit() else None
        trec = dict(common)
        trec.update(
            file=f"{stem}.txt",
            kind="ldconfig-p",
            command=["ldconfig", "-r", "ROOT", "-p", "-C", cache_path(layout)],
            cache_file=f"{stem}.cache",
            layout=facts["layout"],
            generator=facts["generator"],
            size=len(text),
            entries=n_text,
            sha256=sha256(text),
            reproducible=text == text2,
            ldconfig_exit=run.prc,
        )
        records.append(trec)
    by_layout = {r["requested_layout"]: r for r in records if r["kind"] == "cache"}
    default = by_layout.get("default")
    if default is not None:
        summary["default_layout"] = default["layout"]
        summary["default_equals"] = [
            lay
            for lay in ("new", "compat")
            if lay in by_layout and by_layout[lay]["sha256"] == default["sha256"]
        ]
    return records, summary


# ----------------------------------------------------------------- main


def debian_jobs(
    jobs: int,
) -> Tuple[List[Tuple[str, str]], List[Dict[str, str]]]:
    wanted = [
        (suite, arch)
        for suite in debroots.SUITES
        for arch in ["amd64", "i386", "s390x", "arm64", "armhf", "ppc64el", "riscv64"]
    ]
    ok: List[Tuple[str, str]] = []
    unavailable: List[Dict[str, str]] = []

    def build(sa: Tuple[str, str]) -> Tuple[Tuple[str, str], Optional[str]]:
        suite, arch = sa
        if arch == "riscv64" and suite != "trixie":
            return sa, f"Debian {suite} has no riscv64 port"
        try:
            debroots.debian_root(suite, arch)
            return sa, None
        except debroots.RootUnavailable as exc:
            return sa, exc.reason

    with ThreadPoolExecutor(jobs) as pool:
        for (suite, arch), reason in pool.map(build, wanted):
            if reason is None:
                ok.append((suite, arch))
            else:
                unavailable.append({"suite": suite, "arch": arch, "reason": reason})
                print(f"skip {suite}/{arch}: {reason}", file=sys.stderr)
    return ok, unavailable


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output directory (default: vectors/)")
    ap.add_argument("--jobs", type=int, default=3, help="parallel jobs (default 3)")
    args = ap.parse_args(argv)
    outdir: Path = args.out
    if os.geteuid() != 0:
        print("make_vectors.py must run as root (debootstrap, ldconfig chroot)", file=sys.stderr)
        return 2
    outdir.mkdir(parents=True, exist_ok=True)
    for old in list(outdir.glob("*.cache")) + list(outdir.glob("*.txt")):
        old.unlink()
    debroots.ROOTS_DIR.mkdir(parents=True, exist_ok=True)

    ok, unavailable = debian_jobs(args.jobs)
    records: List[Dict[str, Any]] = []
    roots: Dict[str, Any] = {}

    def one_debian(sa: Tuple[str, str]) -> Tuple[List[Dict[str, Any]], str, Dict[str, Any]]:
        suite, arch = sa
        info = debroots.root_info(suite, arch)
        src = root_source(suite, arch)
        pristine = debroots.debian_root(suite, arch)

        def make_root(dest: Path) -> Path:
            return debroots.working_copy(suite, arch, dest)

        base = {
            "suite": suite,
            "root": "debian-minbase",
            "libc6_version": info["libc6"],
        }
        recs, summary = make_vectors(
            name_prefix=f"{suite}-{arch}",
            src=src,
            make_root=make_root,
            record_base=base,
            outdir=outdir,
            pristine=pristine,
        )
        summary.update(
            libc6_version=info["libc6"],
            libc_bin_version=info["libc-bin"],
            glibc=info["glibc"],
            debootstrap=info["command"],
            root_built=info["built"],
        )
        return recs, f"{suite}-{arch}", summary

    with ThreadPoolExecutor(max(1, min(args.jobs, 2))) as pool:
        for recs, key, summary in pool.map(one_debian, ok):
            records.extend(recs)
            roots[key] = summary
            print(f"done {key}", file=sys.stderr)

    spec_all = json.loads(debroots.SYNTHETIC_SPEC.read_text())["roots"]
    host = host_source()
    for name, spec in spec_all.items():
        for label in spec["ldconfigs"]:
            if label == "host":
                src = host
            else:
                suite, arch = label.split("-", 1)
                try:
                    src = root_source(suite, arch)
                except debroots.RootUnavailable as exc:
                    unavailable.append({"suite": suite, "arch": arch, "reason": exc.reason,
                                        "synthetic": name})
                    continue

            def make_root(dest: Path, name: str = name) -> Path:
                return debroots.build_synthetic_root(name, dest)

            base_name = spec.get("base")
            base = {
                "suite": src.suite,
                "root": f"synthetic:{name}",
                "libc6_version": (
                    debroots.root_info(*base_name.split("-", 1))["libc6"] if base_name else None
                ),
            }
            prefix = f"host-{name}" if label == "host" else f"{label}-{name}"
            recs, summary = make_vectors(
                name_prefix=prefix,
                src=src,
                make_root=make_root,
                record_base=base,
                outdir=outdir,
                pristine=None,
            )
            summary.update(ldconfig=label, glibc=src.glibc, libc_bin_version=src.libc_bin)
            records.extend(recs)
            roots[prefix] = summary
            print(f"done {prefix}", file=sys.stderr)

    records.sort(key=lambda r: r["file"])
    index = {
        "comment": (
            "One record per generated file; see README.md.  'roots' summarises each "
            "(ldconfig, root) pair; 'unavailable' lists what could not be built."
        ),
        "generated": time.strftime("%Y-%m-%d", time.gmtime()),
        "files": records,
        "roots": dict(sorted(roots.items())),
        "unavailable": unavailable,
    }
    (outdir / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    write_sources(outdir, records, unavailable)
    return 0


def write_sources(outdir: Path, records: List[Dict[str, Any]],
                  unavailable: List[Dict[str, str]]) -> None:
    """SOURCES.md: a human-readable table of where each cache file came from."""
    lines = [
        "# Sources of the generated vectors",
        "",
        "Generated by `make_vectors.py`; do not edit.  Every `X.cache` has an `X.txt`",
        "next to it: `ldconfig -r ROOT -p -C <same path>` by the same ldconfig.",
        "",
        "| file | ldconfig (libc-bin) | root | byte order | command | layout written "
        "| entries | bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        if r["kind"] != "cache":
            continue
        cmd = " ".join(r["command"])
        lines.append(
            f"| `{r['file']}` | {r['ldconfig']} ({r['libc_bin_version']}) | {r['root']}"
            f" | {r['byte_order']} | `{cmd}` | {r['layout']} | {r['entries']} | {r['size']} |"
        )
    if unavailable:
        lines += ["", "Not produced:", ""]
        for u in unavailable:
            lines.append(f"* {u['suite']}/{u['arch']}: {u['reason']}")
    (outdir / "SOURCES.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
