"""The seed systems' deploy API, so their clients work unchanged."""
