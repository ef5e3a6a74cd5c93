"""The web dashboard: a single page of plain ES modules served by the API on its own
origin (``/`` and ``/ui/…``). It reads and writes through the same ``/v1`` API as every
client, signed in by the session cookie, so it can do exactly what the API lets its user
do. No build step and no CDN: the files here are what the browser runs."""
