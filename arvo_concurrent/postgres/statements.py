"""The SQL of every memory operation, for one schema.

Each operation is one statement, so that an autocommit connection runs it in one
round trip, and every time comparison reads the database clock (``clock_timestamp()``),
never a client's. The statements are rendered to bytes once: psycopg caches what it
derives from a bytes query (placeholders, formats), whereas a ``sql.Composed`` is
rendered again at every execution. The lease row of an id outlives its lease (released: owner and
expiry NULL) so that the fence of the latest lease granted is never forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from psycopg import sql

__all__ = ["Statements", "render"]

# A try refused by a lease in force (as the statement's snapshot shows it) writes
# nothing: no lock of the lease row (which the holder's unlock and the next holder's
# claim need), no transaction id, no WAL flush at its commit. The snapshot may predate
# an unlock; that unlock's NOTIFY, sent at its commit, wakes the caller (armed before
# the try) to try again. A queued request's row is rewritten only when its expiry must
# move (its next try is due later than the row outlasts by ``keep_ms``).
_LOCK = """
WITH held AS (
    SELECT 1 FROM {lease} c
    WHERE c.id = %(id)s AND c.owner <> %(owner)s AND c.expires_at > clock_timestamp()
),
granted AS (
    INSERT INTO {lease} AS l (id, owner, fence, expires_at)
    SELECT %(id)s, %(owner)s, nextval({fence_seq}::regclass),
           clock_timestamp() + %(ttl_ms)s * interval '1 millisecond'
    WHERE NOT EXISTS (SELECT 1 FROM held)
    ON CONFLICT (id) DO UPDATE SET
        owner = EXCLUDED.owner,
        -- The holder locking again renews its lease and keeps its fence; so does a
        -- waiter claiming the lease an unlock handed it.
        fence = CASE WHEN l.owner = EXCLUDED.owner AND l.expires_at > clock_timestamp()
                     THEN l.fence ELSE EXCLUDED.fence END,
        expires_at = EXCLUDED.expires_at
    WHERE l.owner IS NULL OR l.expires_at <= clock_timestamp() OR l.owner = EXCLUDED.owner
    RETURNING l.fence
),
dequeued AS (
    DELETE FROM {waiter}
    WHERE id = %(id)s AND ticket = %(ticket)s AND EXISTS (SELECT 1 FROM granted)
),
kept AS (
    -- Refused, and already queued long enough: the row stays as it is.
    SELECT w.ticket FROM {waiter} w
    WHERE w.id = %(id)s AND w.ticket = %(ticket)s AND %(queue_ms)s > 0
      AND w.expires_at >= clock_timestamp()
          + (%(queue_ms)s - %(keep_ms)s) * interval '1 millisecond'
      AND NOT EXISTS (SELECT 1 FROM granted)
),
queued AS (
    -- Refused, and willing to wait: join (or stay in) the id's queue.
    INSERT INTO {waiter} AS w (id, ticket, owner, ttl_ms, expires_at)
    SELECT %(id)s, coalesce(%(ticket)s, nextval({ticket_seq}::regclass)), %(owner)s,
           %(ttl_ms)s, clock_timestamp() + %(queue_ms)s * interval '1 millisecond'
    WHERE %(queue_ms)s > 0 AND NOT EXISTS (SELECT 1 FROM granted)
      AND NOT EXISTS (SELECT 1 FROM kept)
    ON CONFLICT (id, ticket) DO UPDATE SET expires_at = EXCLUDED.expires_at
    RETURNING w.ticket
)
SELECT
    (SELECT fence FROM granted),
    -- Refused: who holds it (its fence tells hand-offs apart), how long it has left.
    (SELECT c.fence FROM {lease} c WHERE c.id = %(id)s),
    (SELECT extract(epoch FROM c.expires_at - clock_timestamp())::float8
     FROM {lease} c WHERE c.id = %(id)s),
    coalesce((SELECT ticket FROM queued), (SELECT ticket FROM kept))
"""

# The lock and, in the same round trip, the state once granted. The statement's
# snapshot predates any wait for the lease row's lock, during which a writer holding that
# row may have committed: the state is read with FOR SHARE, after the grant, which in READ
# COMMITTED returns the latest committed version of the row. A row first inserted after
# the snapshot stays unseen: no state (NULL) is read again by the caller.
_LOCK_READ = (
    _LOCK.rstrip()
    + """,
    (SELECT s.data::text FROM {state} s
     WHERE s.id = %(id)s AND EXISTS (SELECT 1 FROM granted) FOR SHARE OF s)
"""
)

_LEAVE_QUEUE = """
DELETE FROM {waiter} WHERE id = %(id)s AND ticket = %(ticket)s RETURNING ticket
"""

_LEAVE_QUEUES = "DELETE FROM {waiter} WHERE ticket = ANY(%(tickets)s)"

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

# The hand-off both unlocks share, after a ``mine`` CTE that holds the caller's lease
# row: drop expired requests, take the oldest live one, and move the lease to it (or
# free it), then delete its queue row.
_HAND_OFF = """
stale AS (
    DELETE FROM {waiter}
    WHERE id = %(id)s AND expires_at <= clock_timestamp() AND EXISTS (SELECT 1 FROM mine)
),
next AS (
    SELECT ticket, owner, ttl_ms FROM {waiter}
    WHERE id = %(id)s AND %(heir)s::text IS NULL AND expires_at > clock_timestamp()
      AND EXISTS (SELECT 1 FROM mine)
    ORDER BY ticket LIMIT 1
    FOR UPDATE SKIP LOCKED
),
successor AS (
    SELECT %(heir)s::text AS owner, %(ttl_ms)s::float8 AS ttl_ms WHERE %(heir)s::text IS NOT NULL
    UNION ALL
    SELECT owner, least(ttl_ms, %(claim_ms)s) FROM next
),
moved AS (
    UPDATE {lease} AS l SET
        owner = (SELECT owner FROM successor),
        fence = CASE WHEN EXISTS (SELECT 1 FROM successor)
                     THEN nextval({fence_seq}::regclass) ELSE l.fence END,
        expires_at = clock_timestamp()
            + (SELECT ttl_ms FROM successor) * interval '1 millisecond'
    WHERE l.id = %(id)s AND l.owner = %(owner)s
      AND (%(fence)s::bigint IS NULL OR l.fence = %(fence)s)
      AND EXISTS (SELECT 1 FROM mine)
    RETURNING l.id, l.fence
),
taken AS (
    DELETE FROM {waiter} w USING next
    WHERE w.id = %(id)s AND w.ticket = next.ticket AND EXISTS (SELECT 1 FROM moved)
)"""

# Release the caller's lease; when a live request waits, hand the lease straight to
# the oldest one (a new fence, and a short claim window: the waiter's next try renews
# it to a full TTL; a waiter that died lets it lapse soon). A write-and-unlock may name
# an ``heir`` instead: a request of the caller's own process, waiting in that process
# and told at once, which gets the lease for a full ``ttl_ms`` and needs no claim.
# Either way notify: a lock refused as this statement runs queues a request its
# snapshot may not show; another process's waiters see the hand-off (their budget). The row
# names the ticket handed the lease (NULL: released free).
_UNLOCK = (
    """
WITH mine AS (
    SELECT id FROM {lease}
    WHERE id = %(id)s AND owner = %(owner)s
      AND (%(fence)s::bigint IS NULL OR fence = %(fence)s)
    FOR UPDATE
),"""
    + _HAND_OFF
    + """
SELECT pg_notify(%(channel)s, %(key)s), (SELECT ticket FROM next) FROM moved
"""
)

# A holder's write and its unlock in one statement (one commit): the write as
# _WRITE_FENCED, the release (or hand-off) as _UNLOCK, both under the lease row's lock.
# A stale fence stores nothing and releases nothing. One row: (the new version or NULL
# when refused, whether the lease was released, the ticket handed it or NULL, the
# lease's fence after it: the heir's, when one was named).
_WRITE_UNLOCK = (
    """
WITH lease_row AS (SELECT fence, owner FROM {lease} WHERE id = %(id)s FOR UPDATE),
written AS (
"""
    + _INSERT
    + _ROW
    + "WHERE NOT EXISTS (SELECT 1 FROM lease_row l WHERE l.fence <> %(fence)s)"
    + _UPSERT_TAIL
    + """),
mine AS (SELECT 1 FROM lease_row WHERE owner = %(owner)s AND fence = %(fence)s),"""
    + _HAND_OFF
    + """,
notified AS (SELECT pg_notify(%(channel)s, %(key)s) FROM moved)
SELECT (SELECT version FROM written), (SELECT count(*) FROM notified) > 0,
       (SELECT ticket FROM next), (SELECT fence FROM moved)
"""
)

_HELD_BY_OTHER = """
SELECT EXISTS (
    SELECT 1 FROM {lease}
    WHERE id = %(id)s AND owner IS NOT NULL AND expires_at > clock_timestamp()
)
"""

_CLEANUP = """
WITH locked AS (SELECT id FROM {lease} WHERE id = %(id)s FOR UPDATE),
gone AS (DELETE FROM {state} WHERE id = %(id)s AND (SELECT count(*) FROM locked) >= 0),
dropped AS (
    UPDATE {lease} SET owner = NULL, expires_at = NULL
    WHERE id = %(id)s AND owner IS NOT NULL AND owner <> %(owner)s
    RETURNING pg_notify(%(channel)s, %(key)s)
)
SELECT count(*) FROM dropped
"""

_CLEAR = """
WITH states AS (DELETE FROM {state}), leases AS (DELETE FROM {lease}),
waiters AS (DELETE FROM {waiter})
SELECT pg_notify(%(channel)s, '*')
"""


@dataclass(frozen=True)
class Statements:
    """The statements of one schema, composed once. Immutable, so thread-safe.

    Attributes:
        lock: take a free or expired lease, or renew the caller's (or claim the one an
            unlock handed it); when refused and ``queue_ms`` > 0, join the id's queue
            (or refresh the caller's ``ticket`` when its row expires sooner than
            ``queue_ms - keep_ms`` from now). One row: ``(fence, holder fence,
            seconds left, ticket)``; ``fence`` is NULL when refused, and the holder's
            columns may be NULL when its lease ended as the statement ran.
        lock_read: ``lock`` with one more column: once granted, the state as JSON text
            (NULL: none seen; see ``_LOCK_READ``).
        leave_queue: withdraw ``ticket``; no row when it is gone (handed the lease, or
            expired).
        leave_queues: withdraw every ticket of ``tickets`` (at close).
        write_fenced, write_free, write_swap: the three kinds of write; each returns
            the new version, or no row when refused.
        write_refused: the lease row ``(owner, fence, live)`` of a refused write.
        read: the state as JSON text.
        write_unlock: a holder's ``write_fenced`` and its ``unlock`` in one statement;
            with ``heir``, the lease goes to that owner (for ``ttl_ms``) instead.
        unlock: release the caller's lease, or hand it to the oldest live waiter; notify.
            One row when it released: ``(notified, ticket handed the lease or NULL)``.
        held_by_other: whether a lease is in force (asked after an unlock released none).
        cleanup: delete the state and drop a lease the caller does not hold.
        clear: delete every state, lease and queued request; wake every waiter.
    """

    lock: bytes
    lock_read: bytes
    leave_queue: bytes
    leave_queues: bytes
    write_fenced: bytes
    write_free: bytes
    write_swap: bytes
    write_refused: bytes
    write_unlock: bytes
    read: bytes
    unlock: bytes
    held_by_other: bytes
    cleanup: bytes
    clear: bytes

    @classmethod
    def for_schema(cls, schema: str) -> Statements:
        """Compose every statement for the tables of ``schema``."""
        names = {
            "state": sql.Identifier(schema, "machine_state"),
            "lease": sql.Identifier(schema, "machine_lease"),
            "waiter": sql.Identifier(schema, "machine_waiter"),
            "ticket_seq": sql.Literal(_quoted(schema) + '."waiter_ticket"'),
            # nextval() takes the sequence name as text: a quoted, qualified literal.
            "fence_seq": sql.Literal(_quoted(schema) + '."lease_fence"'),
        }

        def compose(text: str) -> bytes:
            return render(text, names)

        return cls(
            lock=compose(_LOCK),
            lock_read=compose(_LOCK_READ),
            leave_queue=compose(_LEAVE_QUEUE),
            leave_queues=compose(_LEAVE_QUEUES),
            write_fenced=compose(_WRITE_FENCED),
            write_free=compose(_WRITE_FREE),
            write_swap=compose(_WRITE_SWAP),
            write_refused=compose(_WRITE_REFUSED),
            write_unlock=compose(_WRITE_UNLOCK),
            read=compose(_READ),
            unlock=compose(_UNLOCK),
            held_by_other=compose(_HELD_BY_OTHER),
            cleanup=compose(_CLEANUP),
            clear=compose(_CLEAR),
        )


def render(text: str, names: Mapping[str, sql.Composable]) -> bytes:
    """``text`` with ``names`` filled in, rendered once to bytes.

    psycopg caches what it derives from a bytes query (its parse, its prepared statement);
    a ``sql.Composed`` would be rendered again at every execution.
    """
    return sql.SQL(text).format(**names).as_bytes(None)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
