"""Deployments: request, cancel, promote, roll back, redeploy."""
