"""The built-in apps of ``reactsse.server`` (the module moves into a package; split next)."""
