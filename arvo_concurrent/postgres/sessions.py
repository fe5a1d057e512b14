"""The memory's own pooled connections: each statement parsed and planned once per connection.

On a fresh connection the memory's statements cost up to 2-3 times their steady cost for
their first ten or so executions (``lock_read`` 0.9-1.3 ms against 0.45 ms): psycopg sends a
statement unprepared, parsed anew each time, until its fifth execution
(``prepare_threshold``), and PostgreSQL then plans the prepared statement anew for each
of its first five executions (custom plans) before it settles on the generic plan. The
first execution also loads the catalog entries the statement reads (2-3 ms more). A
lease hand-off runs two statements on its critical path (the holder's write and unlock,
then the next holder's claim), so a burst of lock requests on new connections (a
process's start, or the pool growing again after a quiet spell) pays all of it, grant
after grant.

Every statement of the memory finds its rows by primary key, so its generic plan serves as
well as a custom one, and in PostgreSQL's default mode (``auto``) these statements settle on
the generic plan after their five custom ones anyway. The memory's own pool therefore
prepares a statement at its first execution
(``prepare_threshold=0``) and plans it once (``plan_cache_mode=force_generic_plan``), and
a new connection plans the hot statements once (``EXPLAIN``: planned, not run) before
the pool hands it out, which loads their catalog entries. A pool passed to the memory
keeps its own settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from arvo_concurrent.postgres.statements import Statements

__all__ = ["SESSION_KWARGS", "session_setup"]

SESSION_KWARGS: dict[str, Any] = {"prepare_threshold": 0}
"""Connection arguments of the memory's own pool (merged into the caller's)."""

# Values of the right types for the hot statements' parameters: EXPLAIN only plans them.
_LOCK_PARAMS: dict[str, Any] = {
    "id": "",
    "owner": "",
    "ttl_ms": 1.0,
    "ticket": 0,
    "keep_ms": 0.0,
    "queue_ms": 0.0,
}
_WRITE_UNLOCK_PARAMS: dict[str, Any] = {
    "id": "",
    "owner": "",
    "fence": 0,
    "data": "{}",
    "subject": None,
    "parent_subject": None,
    "initiator": None,
    "source": None,
    "channel": "",
    "key": "",
    "claim_ms": 1.0,
    "heir": None,
    "ttl_ms": 1.0,
}


def session_setup(statements: Statements) -> Callable[[psycopg.Connection[Any]], None]:
    """The pool's ``configure``: generic plans, and the hot statements' catalog loaded.

    Runs on the pool's worker thread as each connection opens, before any caller gets it;
    it leaves the connection idle (autocommit).
    """
    explained = (
        (b"EXPLAIN " + statements.lock_read, _LOCK_PARAMS),
        (b"EXPLAIN " + statements.write_unlock, _WRITE_UNLOCK_PARAMS),
    )

    def setup(conn: psycopg.Connection[Any]) -> None:
        # Run once per connection: not worth a prepared statement each.
        conn.execute("SET plan_cache_mode = force_generic_plan", prepare=False)
        for statement, params in explained:
            conn.execute(statement, params, prepare=False)

    return setup
