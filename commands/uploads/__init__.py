"""Deployments of uploaded files (``buildspace deploy``): the file list, the blobs
the platform lacks, their admission, the request."""
