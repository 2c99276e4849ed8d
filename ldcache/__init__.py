"""ldcache — glibc's ld.so.cache, read, written and built without executing ldconfig."""

__version__ = "0.1.0"
