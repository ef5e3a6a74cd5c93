"""The event catalog, commands and API models. One module per stream."""
