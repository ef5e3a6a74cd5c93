"""Deploying from outside: Git push webhooks (GitHub, GitLab) and deploy hook URLs."""
