"""Custom domains: add, verify by a DNS TXT record, remove."""
