"""The suite uses the same fixtures a plugin author gets (``core.testing``, a pytest11 plugin)."""
