"""The core's version, which plugins declare compatibility against."""
__version__ = "0.1.0"
