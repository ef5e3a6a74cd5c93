"""The edge: serves every project at ``<label>.<base_domain>`` from its deployment's
artifacts, following the routes topic live. Start it with ``edge.server``."""
