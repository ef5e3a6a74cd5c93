"""Projects: create one, change its build settings, set its build variables; the
project stream's state and its rows in PostgreSQL."""
