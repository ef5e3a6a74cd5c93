"""The TTL of a ClickHouse table, kept to what the settings say.

``CREATE TABLE IF NOT EXISTS`` leaves a table that already exists as it is: one made
before it had a TTL, or with another retention setting, keeps its old one. On start,
each store compares the table's TTL with the one it wants and, only when they differ,
changes it (``ALTER TABLE … MODIFY TTL``); ClickHouse then recomputes the TTL of the
parts already stored in the background, so rows past the new retention go at the next
merge.
"""

from __future__ import annotations

import re
from typing import Any

# The table's TTL clause in system.tables.engine_full: SETTINGS is the only clause
# after it.
TTL_CLAUSE = re.compile(r" TTL (.+?)(?: SETTINGS |$)")


def current_ttl(client: Any, table: str) -> str | None:
    """The TTL expression ``table`` has now, as ClickHouse prints it; None without one."""
    rows = client.query(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
        "AND name = {t:String}", parameters={"t": table}).result_rows
    match = TTL_CLAUSE.search(rows[0][0]) if rows else None
    return match.group(1) if match else None


def printed(client: Any, expression: str) -> str:
    """``expression`` as ClickHouse prints it (``INTERVAL 30 DAY`` is
    ``toIntervalDay(30)``), to compare with ``current_ttl``."""
    query = client.query("SELECT formatQuerySingleLine({q:String})",
                         parameters={"q": f"SELECT {expression}"}).result_rows[0][0]
    return str(query).removeprefix("SELECT ")


def ensure_ttl(client: Any, table: str, expression: str) -> bool:
    """Give ``table`` the TTL ``expression`` unless it has it; True when it changed."""
    if current_ttl(client, table) == printed(client, expression):
        return False
    client.command(f"ALTER TABLE {table} MODIFY TTL {expression}")
    return True
