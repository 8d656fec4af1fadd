"""The version, alone in a module that imports nothing (the sans-IO layers read it)."""

__version__ = "0.1.0"
