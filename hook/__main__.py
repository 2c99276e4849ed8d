"""``python -I -m hook``: the same program as the ``cdi-hook`` command."""

from ldcache_hook.main import main

raise SystemExit(main())
