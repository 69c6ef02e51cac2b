"""Chat adapters: the only code that imports `discord` or `telegram`."""
