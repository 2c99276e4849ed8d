"""cdi-hook: a drop-in for NVIDIA's ``nvidia-cdi-hook``, built on ldcache.

Installed as the package ``ldcache_hook`` (its folder in the source tree is ``hook/``).
This file is deliberately empty of imports: the entry point (:mod:`ldcache_hook.main`) must
get control, leave the inherited working directory and re-execute an isolated interpreter
before anything else is imported (see :mod:`ldcache_hook.main`).
"""
