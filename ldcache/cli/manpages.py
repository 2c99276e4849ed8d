"""The man page ldcache(8): its argument parser and its extra sections, and the roff helpers
cdi-hook(8)'s (``hook/manpage.py``: ldcache never imports the hook) uses too.

argparse-manpage loads this file by path while the package is being built (the source
tree is not importable then), so it puts the source tree first on ``sys.path`` and hands
over the real parsers: the pages always list exactly the options the programs take.

The sections argparse cannot know (EXIT STATUS, FILES, EXAMPLES, SEE ALSO) are attached to
the parsers here, as argparse-manpage's ``parser._manpage`` list of extra sections (what
its ``include`` files fill in; every such section is printed after the options): so they
come with the parser into every way of building the pages, and the exit statuses are
written from the CLI's own constants and commands.  (An ``include`` file would have to be
shipped in the source distribution and named in both builds; the parser's epilog gives only
one section, COMMENTS, and shows in ``--help`` too.  ``_manpage`` is argparse-manpage's
since 1.0; tests/test_manpages.py notices if the sections go missing from a build.)

One definition of the pages: ``[tool.build_manpages]`` in pyproject.toml, which the package
build (``build_py`` runs ``build_manpages``) reads.  ``python -m ldcache.cli.manpages`` (what
``tox -e man`` runs) runs that same ``build_manpages`` command over the same pyproject.toml,
so it writes exactly the pages the wheel ships (the date in the ``.TH`` line is the build's;
``SOURCE_DATE_EPOCH`` pins it).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

_TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _importable() -> None:
    if _TREE not in sys.path:
        sys.path.insert(0, _TREE)


def ldcache_parser() -> argparse.ArgumentParser:
    _importable()
    from ldcache.cli import build_parser

    parser = build_parser()
    _attach(parser, ldcache_sections(parser))
    return parser


# --- the extra sections ------------------------------------------------------------------------

def _attach(parser: argparse.ArgumentParser, sections: list[tuple[str, str]]) -> None:
    """Give ``parser`` the extra sections (heading, roff text) argparse-manpage prints after
    the options, in this order."""
    parser._manpage = [  # type: ignore[attr-defined]
        {"heading": heading.lower(), "content": content} for heading, content in sections]


def _text(text: str) -> str:
    """Plain text as roff (backslashes and hyphens escaped, as argparse-manpage escapes)."""
    out = text.replace("\\", "\\\\").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in out.split("\n"))


def _b(text: str) -> str:
    return f"\\fB{_text(text)}\\fR"


def _i(text: str) -> str:
    return f"\\fI{_text(text)}\\fR"


def _items(terms_and_texts: Sequence[tuple[str, str]]) -> str:
    """A ``.TP`` list: (term, already roff) pairs."""
    return "\n".join(f".TP\n{term}\n{body}" for term, body in terms_and_texts)


def _examples(examples: Sequence[tuple[str, Sequence[str]]]) -> str:
    """(what it does, command lines) pairs: the text, then the lines indented, verbatim."""
    out = []
    for what, lines in examples:
        out.append(f".PP\n{_text(what)}\n.PP\n.RS 4\n.nf\n"
                   + "\n".join(_text(line) for line in lines) + "\n.fi\n.RE")
    return "\n".join(out)


def _see_also(pages: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f".BR {_text(name)} ({section}){',' if n < len(pages) - 1 else ''}"
                     for n, (name, section) in enumerate(pages))


def _listing(names: Sequence[str]) -> str:
    """``a``, ``a`` and ``b``, ``a``, ``b`` and ``c``: in bold."""
    bold = [_b(n) for n in names]
    return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]


#: The answers of the commands that answer a question (exit EXIT_YES or EXIT_NO).
ANSWERS = {
    "diff": ("equal", "different"),
    "lookup": ("found", "not found"),
    "verify": ("current", "stale"),
    "explain": ("used by the loader", "not used"),
}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, by name."""
    out: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)
    return out


def failure_statuses(parser: argparse.ArgumentParser) -> dict[str, int]:
    """Each ``ldcache`` command's exit status when its job fails (as ``ldcache.cli.main``
    picks it: the subparser's ``failure_status`` default, else EXIT_FAILURE)."""
    from ldcache.cli import EXIT_FAILURE

    out = {}
    for name, sub in subcommands(parser).items():
        status = sub.get_default("failure_status")
        out[name] = EXIT_FAILURE if status is None else status
    return out


def ldcache_sections(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    from ldcache.auxcache import AUX_DIR, AUX_PATH
    from ldcache.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
    from ldcache.cli.tools import EXIT_NO, EXIT_TROUBLE, EXIT_YES

    failures = failure_statuses(parser)
    jobs = [n for n, s in failures.items() if s == EXIT_FAILURE]
    questions = [n for n, s in failures.items() if s == EXIT_TROUBLE]
    odd = sorted(set(failures) - set(jobs) - set(questions))
    if odd:
        raise ValueError(f"ldcache(8): no EXIT STATUS text for the commands {odd}")
    unanswered = sorted(set(questions) - set(ANSWERS))
    if unanswered:
        raise ValueError(f"ldcache(8): no answers (ANSWERS) for the commands {unanswered}")

    def answers(which: int) -> str:
        return ", ".join(f"{_text(ANSWERS[n][which])} ({_b(n)})" for n in questions)

    exit_status = "\n".join([
        "Every error is one line on standard error naming the file and the problem; no "
        "input gives a traceback. Warnings (those ldconfig prints too) do not change the "
        "exit status.",
        ".PP",
        f"{_listing(jobs)} (and the program invoked as {_b('ldconfig')}) do a job:",
        _items([
            (_b(str(EXIT_OK)), "done"),
            (_b(str(EXIT_FAILURE)), "the job failed"),
            (_b(str(EXIT_USAGE)), "a bad command line (the usage message is printed)"),
        ]),
        ".PP",
        f"{_listing(questions)} answer a question, as {_b('diff')}(1) does:",
        _items([
            (_b(str(EXIT_YES)), "yes: " + answers(0)),
            (_b(str(EXIT_NO)), "no: " + answers(1)),
            (_b(str(EXIT_TROUBLE)),
             "the question could not be answered (a missing or malformed file, an unusable "
             "root), or a bad command line"),
        ]),
    ])

    aux = os.fsdecode(AUX_PATH)
    files = _items([
        (_i("/etc/ld.so.cache"),
         f"The cache file: the one the commands read (another one with {_b('-C')} "
         f"{_i('CACHE')}; with {_b('-r')} {_i('ROOT')}, the one inside {_i('ROOT')}), and the "
         f"one {_b('build')} writes in {_i('ROOT')}, replaced atomically."),
        (_i("/etc/ld.so.conf"),
         f"The configuration {_b('build')}, {_b('verify')} and {_b('explain')} follow, inside "
         f"{_i('ROOT')} (another one with {_b('-f')} {_i('CONF')}): the directories to scan, "
         f"and {_b('include')} lines naming more configuration files."),
        (_i("/etc/ld.so.conf.d/"),
         f"The directory the usual {_b('include /etc/ld.so.conf.d/*.conf')} line of "
         f"{_i('/etc/ld.so.conf')} names: each of its {_i('*.conf')} files lists more "
         "directories."),
        (_i(aux),
         f"ldcache's aux cache, inside {_i('ROOT')}: for each library file, the ELF probe's "
         "result (SONAME, flags, ISA level, OS version), keyed by the file's identity "
         "(device, inode, size, ctime and mtime), so that an unchanged file is not read "
         f"again. {_b('build')} reads it unless {_b('-i')} (or {_b('-C')}, which implies "
         f"{_b('-i')}) and writes it, mode 0600, whenever it writes a cache (creating "
         f"{_i(os.fsdecode(AUX_DIR))}, mode 0700, when {_i('/var/cache')} exists); "
         f"{_b('verify')} and {_b('explain')} never read it. Results computed for another "
         "architecture or glibc version, and a damaged file, are ignored. It is ldcache's "
         f"own file: the root glibc's {_i('/var/cache/ldconfig/aux-cache')} is neither read "
         "nor written."),
    ])

    examples = _examples([
        ("Rebuild the cache and the SONAME links of the root /tmp/rootfs as its own glibc "
         "ldconfig would (executing nothing in it):",
         ["ldcache build -r /tmp/rootfs"]),
        ("List a cache file as ldconfig -p does (the second form: the root's "
         "/etc/ld.so.cache):",
         ["ldcache print -C /tmp/rootfs/etc/ld.so.cache", "ldcache print -r /tmp/rootfs"]),
        ("Check that the root's cache is what build would write now (exit 0 when current, "
         "1 when stale, with the differences listed):",
         ["ldcache verify -r /tmp/rootfs"]),
        ("Which file the root's loader takes for a SONAME, and why every other entry lost; "
         "then why a file is, or is not, in the cache:",
         ["ldcache lookup -r /tmp/rootfs libc.so.6",
          "ldcache explain -r /tmp/rootfs /usr/lib/x86_64-linux-gnu/libc.so.6"]),
        ("Compare two cache files (exit 0 when equal, 1 when different):",
         ["ldcache diff old.cache /tmp/rootfs/etc/ld.so.cache"]),
    ])

    return [
        ("EXIT STATUS", exit_status),
        ("FILES", files),
        ("EXAMPLES", examples),
        ("SEE ALSO", _see_also([("cdi-hook", "8"), ("ld.so", "8"), ("ldconfig", "8")])),
    ]


# --- python -m ldcache.cli.manpages (tox -e man) -------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Write the pages as the package build does: its ``build_manpages`` command, over a
    distribution configured from the source tree's pyproject.toml (so the version and every
    other value the build takes from the project metadata are the same)."""
    ap = argparse.ArgumentParser(
        prog="python -m ldcache.cli.manpages",
        description="Write ldcache(8) and cdi-hook(8) exactly as the package build does, "
                    "from [tool.build_manpages] in the source tree's pyproject.toml.")
    ap.add_argument("--output-dir", metavar="DIR",
                    help="write the pages into DIR (default: where pyproject.toml puts them, "
                         "man/ in the source tree)")
    args = ap.parse_args(argv)
    if not os.path.isfile(os.path.join(_TREE, "pyproject.toml")):
        ap.error(f"no pyproject.toml in {_TREE}: run this from the source tree")
    outdir = os.path.abspath(args.output_dir) if args.output_dir else None

    cwd = os.getcwd()
    os.chdir(_TREE)  # pyproject.toml's paths (pyfile=, the pages) are relative to the tree
    try:
        try:
            from setuptools.dist import Distribution

            dist = Distribution()
            dist.parse_config_files()  # pyproject.toml: [project], [tool.setuptools]
            cmd: Any = dist.get_command_obj("build_manpages")
            cmd.ensure_finalized()
        except Exception as e:  # noqa: BLE001 - one line, not a traceback
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            ap.exit(1, f"{ap.prog}: needs the package build's requirements ([build-system] "
                       f"requires in pyproject.toml; tox -e man installs them): {first}\n")
        if outdir is not None:
            cmd.manpages_data = {os.path.join(outdir, os.path.basename(page)): data
                                 for page, data in cmd.manpages_data.items()}
        cmd.run()
    finally:
        os.chdir(cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
