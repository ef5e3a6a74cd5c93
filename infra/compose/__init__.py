"""The composition: the one package that knows every role. It builds the object graph
(settings, connections, the roles' services), registers each role's tables, serves the
API and runs each process role; ``python -m infra.compose.cli`` is ``buildspace``.

Nothing imports it but the entry points, tests and benchmarks."""
