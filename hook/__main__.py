"""``python -I -m hook``: the same program as the ``cdi-hook`` command."""

from .main import main

raise SystemExit(main())
