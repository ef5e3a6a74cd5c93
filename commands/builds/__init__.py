"""The intake of builders outside the platform (ECS tasks), which hold only a grant:
their spec, status events, log lines, blobs, manifest and, for uploads, the files."""
