"""cdi-hook: a drop-in for NVIDIA's ``nvidia-cdi-hook``, built on ldcache.

This file is deliberately empty of imports: the entry point (:mod:`hook.main`) must get
control, leave the inherited working directory and re-execute an isolated interpreter
before anything else is imported (see :mod:`hook.main`).
"""
