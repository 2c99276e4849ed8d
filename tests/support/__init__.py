"""What the tests and benchmarks share: real roots (Debian debootstraps, synthetic ones),
gcc-built libraries, hook roots and launchers, fault injection and racers.

Importable as ``support`` from tests/ and bench/ (pytest's ``pythonpath`` setting in
pyproject.toml puts tests/ on the path; nothing edits ``sys.path``)."""
