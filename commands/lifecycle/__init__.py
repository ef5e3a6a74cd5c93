"""The end of a project (deletion) and its outgoing webhooks."""
