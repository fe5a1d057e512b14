"""The SQL of every memory operation, for one schema.

Each operation is one statement, so that an autocommit connection runs it in one
round trip, and every time comparison reads the database clock (``clock_timestamp()``),
never a client's. The lease row of an id outlives its lease (released: owner and
expiry NULL) so that the fence of the latest lease granted is never forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

__all__ = ["Statements"]

_LOCK = """
WITH granted AS (
    INSERT INTO {lease} AS l (id, owner, fence, expires_at)
    VALUES (%(id)s, %(owner)s, nextval({fence_seq}::regclass),
            clock_timestamp() + %(ttl_ms)s * interval '1 millisecond')
    ON CONFLICT (id) DO UPDATE SET
        owner = EXCLUDED.owner,
        -- The holder locking again renews its lease and keeps its fence.
        fence = CASE WHEN l.owner = EXCLUDED.owner AND l.expires_at > clock_timestamp()
                     THEN l.fence ELSE EXCLUDED.fence END,
        expires_at = EXCLUDED.expires_at
    WHERE l.owner IS NULL OR l.expires_at <= clock_timestamp() OR l.owner = EXCLUDED.owner
    RETURNING l.fence
)
SELECT fence, NULL::bigint, NULL::float8 FROM granted
UNION ALL
-- Refused: who holds it (its fence tells hand-offs apart) and how long it has left.
SELECT NULL, c.fence, extract(epoch FROM c.expires_at - clock_timestamp())::float8
FROM {lease} c
WHERE c.id = %(id)s AND NOT EXISTS (SELECT 1 FROM granted)
"""

_UPSERT_TAIL = """
ON CONFLICT (id) DO UPDATE SET
    data = EXCLUDED.data,
    version = st.version + 1,
    subject = coalesce(EXCLUDED.subject, st.subject),
    parent_subject = coalesce(EXCLUDED.parent_subject, st.parent_subject),
    initiator = coalesce(EXCLUDED.initiator, st.initiator),
    source = coalesce(EXCLUDED.source, st.source),
    updated_at = clock_timestamp()
RETURNING st.version
"""

_ROW = """
SELECT %(id)s, %(data)s::jsonb, %(subject)s, %(parent_subject)s, %(initiator)s, %(source)s
"""

_INSERT = "INSERT INTO {state} AS st (id, data, subject, parent_subject, initiator, source)"

# A holder's write: stored only while its fence is the latest granted on the id. The
# row lock (FOR SHARE) makes a concurrent grant wait for this write's commit.
_WRITE_FENCED = (
    "WITH l AS (SELECT fence FROM {lease} WHERE id = %(id)s FOR SHARE)\n"
    + _INSERT
    + _ROW
    + "WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.fence <> %(fence)s)"
    + _UPSERT_TAIL
)

_LIVE_LEASE = """
WITH l AS (
    SELECT owner, expires_at > clock_timestamp() AS live FROM {lease}
    WHERE id = %(id)s FOR SHARE
)
"""

# A write without a lease: refused while someone else's lease is in force.
_WRITE_FREE = (
    _LIVE_LEASE
    + _INSERT
    + _ROW
    + "WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.live AND l.owner <> %(owner)s)"
    + _UPSERT_TAIL
)

# A write without a lease, with the state it read: a compare-and-set on that state,
# re-checked by UPDATE on the latest row version if another writer got there first.
_WRITE_SWAP = (
    _LIVE_LEASE
    + """
UPDATE {state} AS st SET
    data = %(data)s::jsonb,
    version = st.version + 1,
    subject = coalesce(%(subject)s, st.subject),
    parent_subject = coalesce(%(parent_subject)s, st.parent_subject),
    initiator = coalesce(%(initiator)s, st.initiator),
    source = coalesce(%(source)s, st.source),
    updated_at = clock_timestamp()
WHERE st.id = %(id)s AND st.data = %(prev)s::jsonb
  AND NOT EXISTS (SELECT 1 FROM l WHERE l.live AND l.owner <> %(owner)s)
RETURNING st.version
"""
)

_WRITE_REFUSED = """
SELECT owner, fence, expires_at > clock_timestamp() FROM {lease} WHERE id = %(id)s
"""

_READ = "SELECT data::text FROM {state} WHERE id = %(id)s"

_UNLOCK = """
UPDATE {lease} SET owner = NULL, expires_at = NULL
WHERE id = %(id)s AND owner = %(owner)s AND (%(fence)s::bigint IS NULL OR fence = %(fence)s)
RETURNING pg_notify(%(channel)s, %(key)s)
"""

_HELD_BY_OTHER = """
SELECT EXISTS (
    SELECT 1 FROM {lease}
    WHERE id = %(id)s AND owner IS NOT NULL AND expires_at > clock_timestamp()
)
"""

_CLEANUP = """
WITH gone AS (DELETE FROM {state} WHERE id = %(id)s),
dropped AS (
    UPDATE {lease} SET owner = NULL, expires_at = NULL
    WHERE id = %(id)s AND owner IS NOT NULL AND owner <> %(owner)s
    RETURNING pg_notify(%(channel)s, %(key)s)
)
SELECT count(*) FROM dropped
"""

_CLEAR = """
WITH states AS (DELETE FROM {state}), leases AS (DELETE FROM {lease})
SELECT pg_notify(%(channel)s, '*')
"""


@dataclass(frozen=True)
class Statements:
    """The statements of one schema, composed once. Immutable, so thread-safe.

    Attributes:
        lock: take a free or expired lease, or renew the caller's; returns
            ``(fence, NULL, NULL)`` when granted, ``(NULL, holder fence, seconds left)``
            when refused, or no row when the refusing lease vanished meanwhile.
        write_fenced, write_free, write_swap: the three kinds of write; each returns
            the new version, or no row when refused.
        write_refused: the lease row ``(owner, fence, live)`` of a refused write.
        read: the state as JSON text.
        unlock: release the caller's lease and notify its waiters.
        held_by_other: whether a lease is in force (asked after an unlock released none).
        cleanup: delete the state and drop a lease the caller does not hold.
        clear: delete every state and lease; wake every waiter.
    """

    lock: sql.Composed
    write_fenced: sql.Composed
    write_free: sql.Composed
    write_swap: sql.Composed
    write_refused: sql.Composed
    read: sql.Composed
    unlock: sql.Composed
    held_by_other: sql.Composed
    cleanup: sql.Composed
    clear: sql.Composed

    @classmethod
    def for_schema(cls, schema: str) -> Statements:
        """Compose every statement for the tables of ``schema``."""
        names = {
            "state": sql.Identifier(schema, "machine_state"),
            "lease": sql.Identifier(schema, "machine_lease"),
            # nextval() takes the sequence name as text: a quoted, qualified literal.
            "fence_seq": sql.Literal(_quoted(schema) + '."lease_fence"'),
        }

        def compose(text: str) -> sql.Composed:
            return sql.SQL(text).format(**names)

        return cls(
            lock=compose(_LOCK),
            write_fenced=compose(_WRITE_FENCED),
            write_free=compose(_WRITE_FREE),
            write_swap=compose(_WRITE_SWAP),
            write_refused=compose(_WRITE_REFUSED),
            read=compose(_READ),
            unlock=compose(_UNLOCK),
            held_by_other=compose(_HELD_BY_OTHER),
            cleanup=compose(_CLEANUP),
            clear=compose(_CLEAR),
        )


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
