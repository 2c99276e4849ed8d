#!/usr/bin/env python3
"""Extract the facts tests/test_hwcaps.py checks ldcache.hwcaps against from a glibc git
repository, and write them, with provenance, to facts.json next to this script.

    python3 tests/data/glibc/extract.py [REPO] [-o OUT]

REPO defaults to $LDCACHE_GLIBC_GIT, else /work/.mirror/bminor+glibc/repo; OUT defaults to
tests/data/glibc/facts.json ("-" for stdout).  Only parsed values are written (string arrays,
numeric defines, whether a text occurs), never glibc source text.  The output depends on
nothing but the repository's tags, so a re-run reproduces the file byte for byte."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
DEFAULT_REPO = "/work/.mirror/bminor+glibc/repo"
DEFAULT_OUT = HERE / "facts.json"

TAGS = [f"glibc-2.{minor}" for minor in range(31, 37)]

#: family → the string arrays ldconfig of that port compiles: (file, C variable).
ARRAYS: Dict[str, List[Tuple[str, str]]] = {
    "x86": [("sysdeps/x86/dl-procinfo.c", "_dl_x86_hwcap_flags"),
            ("sysdeps/x86/dl-procinfo.c", "_dl_x86_platforms")],
    "aarch64": [("sysdeps/unix/sysv/linux/aarch64/dl-procinfo.c", "_dl_aarch64_cap_flags")],
    "arm": [("sysdeps/unix/sysv/linux/arm/dl-procinfo.c", "_dl_arm_cap_flags")],
    "powerpc": [("sysdeps/powerpc/dl-procinfo.c", "_dl_powerpc_cap_flags")],
    "s390": [("sysdeps/s390/dl-procinfo.c", "_dl_s390_cap_flags"),
             ("sysdeps/s390/dl-procinfo.c", "_dl_s390_platforms")],
    "sparc": [("sysdeps/sparc/dl-procinfo.c", "_dl_sparc_cap_flags")],
    "mips": [("sysdeps/mips/dl-procinfo.c", "_dl_mips_platforms")],
    "alpha": [("sysdeps/alpha/dl-procinfo.c", "_dl_alpha_platforms")],
    "csky": [("sysdeps/csky/dl-procinfo.c", "_dl_csky_platforms")],
}

#: Ports whose header defines _DL_FIRST_PLATFORM, and ports whose header must not.
FIRST_PLATFORM = {"x86": "sysdeps/x86/dl-procinfo.h",
                  "powerpc": "sysdeps/powerpc/dl-procinfo.h",
                  "s390": "sysdeps/s390/dl-procinfo.h"}
NO_FIRST_PLATFORM = {family: f"sysdeps/{family}/dl-procinfo.h"
                     for family in ("mips", "alpha", "csky")}

PPC_HEADER = "sysdeps/powerpc/dl-procinfo.h"
SPARC_HEADER = "sysdeps/sparc/dl-procinfo.h"
#: sparc's HWCAP_IMPORTANT_V9 keeps V9 out of the 64-bit build (checked in the last tag).
SPARC_V9_TEXT = "__WORDSIZE == 64 ? 0 : HWCAP_SPARC_V9"


# --- parsers ----------------------------------------------------------------------------------

def c_string_array(source: str, name: str) -> List[str]:
    """The strings of ``PROCINFO_CLASS const char NAME[..][..] = { "a", "b", … }``."""
    at = source.index(name + "[")
    body = source[source.index("= {", at):]
    body = body[:body.index("}")]
    return re.findall(r'"([^"]*)"', body)


def ppc_defines(source: str) -> Dict[str, int]:
    """``#define PPC_PLATFORM_NAME N`` → {"PPC_PLATFORM_NAME": N}."""
    return {f"PPC_PLATFORM_{m}": int(i)
            for m, i in re.findall(r"#define PPC_PLATFORM_(\w+)\s+(\d+)", source)}


def ppc_platforms(source: str) -> List[str]:
    """powerpc's platform names from ``PPC_PLATFORM_*`` (``_dl_string_platform`` parses
    them by hand; the strings are the lower-cased macro names, as the loader's table)."""
    spelled = {"POWER5_PLUS": "power5+", "CELL_BE": "ppc-cell-be", "PPCA2": "ppca2"}
    found = re.findall(r"#define PPC_PLATFORM_(\w+)\s+(\d+)", source)
    out = [""] * len(found)
    for macro, index in found:
        out[int(index)] = spelled.get(macro, macro.lower())
    if "" in out:
        raise ValueError(f"PPC_PLATFORM_* indices are not 0..{len(found) - 1}")
    return out


def int_define(source: str, name: str) -> int:
    """The value of ``#define NAME <decimal>``."""
    m = re.search(rf"#define {re.escape(name)}\s+(\d+)", source)
    if m is None:
        raise ValueError(f"no numeric #define {name}")
    return int(m.group(1))


# --- git ----------------------------------------------------------------------------------------

class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._text: Dict[Tuple[str, str], str] = {}

    def git(self, *args: str) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True)
        if proc.returncode != 0:
            raise SystemExit(f"git {' '.join(args)}: {proc.stderr.decode().strip()}")
        return proc.stdout.decode()

    def commit(self, tag: str) -> str:
        return self.git("rev-parse", "--verify", f"refs/tags/{tag}^{{commit}}").strip()

    def blob(self, tag: str, path: str) -> str:
        return self.git("rev-parse", "--verify", f"refs/tags/{tag}:{path}").strip()

    def show(self, tag: str, path: str) -> str:
        key = (tag, path)
        if key not in self._text:
            self._text[key] = self.git("show", f"refs/tags/{tag}:{path}")
        return self._text[key]


# --- extraction -------------------------------------------------------------------------------

def extract(repo: Repo) -> dict:
    tags = {tag: repo.commit(tag) for tag in TAGS}
    facts: List[dict] = []

    def add(tag: str, family: str, path: str, symbol: str, kind: str, value: object,
            text: Optional[str] = None) -> None:
        fact = {"tag": tag, "commit": tags[tag], "family": family, "path": path,
                "blob": repo.blob(tag, path), "symbol": symbol, "kind": kind, "value": value}
        if text is not None:
            fact["text"] = text
        facts.append(fact)

    for tag in TAGS:
        for family, arrays in ARRAYS.items():
            for path, name in arrays:
                add(tag, family, path, name, "string_array",
                    c_string_array(repo.show(tag, path), name))
        for family, path in FIRST_PLATFORM.items():
            add(tag, family, path, "_DL_FIRST_PLATFORM", "define",
                int_define(repo.show(tag, path), "_DL_FIRST_PLATFORM"))
        for family, path in NO_FIRST_PLATFORM.items():
            add(tag, family, path, "_DL_FIRST_PLATFORM", "contains",
                "_DL_FIRST_PLATFORM" in repo.show(tag, path), text="_DL_FIRST_PLATFORM")
        header = repo.show(tag, PPC_HEADER)
        add(tag, "powerpc", PPC_HEADER, "_DL_PLATFORMS_COUNT", "define",
            int_define(header, "_DL_PLATFORMS_COUNT"))
        add(tag, "powerpc", PPC_HEADER, "PPC_PLATFORM_*", "defines", ppc_defines(header))
        add(tag, "powerpc", PPC_HEADER, "PPC_PLATFORM_*", "ppc_platforms",
            ppc_platforms(header))
        add(tag, "powerpc", PPC_HEADER, "PPC_PLATFORM_POWER10", "contains",
            "PPC_PLATFORM_POWER10" in header, text="PPC_PLATFORM_POWER10")
    last = TAGS[-1]
    add(last, "sparc", SPARC_HEADER, "HWCAP_IMPORTANT_V9", "contains",
        SPARC_V9_TEXT in repo.show(last, SPARC_HEADER), text=SPARC_V9_TEXT)

    facts.sort(key=lambda f: (f["tag"], f["family"], f["path"], f["kind"], f["symbol"],
                              f.get("text", "")))
    return {
        "about": "Values parsed from glibc's sources (git://sourceware.org/git/glibc.git) "
                 "for tests/test_hwcaps.py; see README.md. Generated by extract.py: "
                 "do not edit.",
        "tags": tags,
        "facts": facts,
    }


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repo", nargs="?",
                    default=os.environ.get("LDCACHE_GLIBC_GIT", DEFAULT_REPO),
                    help="glibc git repository (default: $LDCACHE_GLIBC_GIT or %(default)s)")
    ap.add_argument("-o", "--output", default=str(DEFAULT_OUT),
                    help="where to write the JSON ('-' for stdout; default: %(default)s)")
    args = ap.parse_args(argv)
    text = render(extract(Repo(Path(args.repo))))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="ascii", newline="\n") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
