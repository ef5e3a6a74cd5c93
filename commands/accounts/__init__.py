"""Accounts: users, sign-in, sessions and personal access tokens."""
