"""The write side: one subpackage per feature (projects, deployments, domains, hooks,
lifecycle, uploads, builds, compat), each with the same file names: ``decide`` (pure),
``store`` (its state in PostgreSQL or the object store), ``http`` (its routes) and, where
one is needed, ``service`` (validate, decide, append). Shared by all: ``service``
(``CommandService``), ``deps`` (the port the routes receive) and ``tables``."""
