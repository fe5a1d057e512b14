"""The SQL of the broker queue, for one schema.

Each step of an event's life is one statement (one round trip on an autocommit
connection): publishing, claiming a batch for every topic's free slots, and settling
(mark the event done, dead or due again, insert what its handler published, count the
lineage, mark the event consumed, NOTIFY) all at once. Every time comparison reads
the database clock. Notifications are signals: ``t:<topic>`` says that topic has
ready events, ``l:<lineage id>`` that a lineage's last event settled, ``a:<lineage id>``
that its resolve was abandoned.

The array parameters are sent in binary (``%(name)b``): psycopg's text format for an
array escapes every element (the events' JSON is full of quotes) with a regular
expression, which cost about a tenth of a worker's time under the GIL; the binary
format only prefixes each element with its length.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from arvo_concurrent.postgres.statements import render

__all__ = ["QueueStatements"]

_LEASE = "clock_timestamp() + %(lease_ms)s * interval '1 millisecond'"

_PUBLISH = """
WITH lineage AS (
    INSERT INTO {lineage} (id, pending) SELECT %(lineage)s, 1 WHERE %(lineage)s::text IS NOT NULL
),
event AS (
    INSERT INTO {queue} (topic, event, event_id, event_source, lineage_id, reply_to)
    VALUES (%(topic)s, %(event)s, %(event_id)s, %(source)s, %(lineage)s, %(reply_to)s)
    RETURNING topic
)
SELECT pg_notify(%(channel)s, 't:' || topic) FROM event
"""

# Up to slots[i] ready events of topics[i], oldest due first, skipping rows another
# claimer holds; the last columns say whether the event was consumed before and whether
# its lineage was abandoned.
_CLAIM = (
    """
UPDATE {queue} q SET status = 'running', attempts = q.attempts + 1, locked_by = %(me)s,
    locked_until = """
    + _LEASE
    + """, updated_at = clock_timestamp()
FROM (
    SELECT c.id
    FROM unnest(%(topics)b::text[], %(slots)b::int[]) AS w(topic, n),
    LATERAL (
        SELECT id FROM {queue}
        WHERE topic = w.topic AND status = 'ready' AND run_at <= clock_timestamp()
        ORDER BY run_at, id LIMIT w.n FOR UPDATE SKIP LOCKED
    ) c
) picked
WHERE q.id = picked.id
RETURNING q.id, q.topic, q.event, q.attempts, q.lineage_id, q.reply_to,
    %(dedup)s AND EXISTS (
        SELECT 1 FROM {consumed} d
        WHERE d.topic = q.topic AND d.event_source = q.event_source AND d.event_id = q.event_id
    ),
    q.lineage_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM {lineage} l WHERE l.id = q.lineage_id AND l.abandoned
    )
"""
)

# Settles event %(id)s, held by %(me)s, as %(status)s: 'done', 'dead', 'dropped' (not
# run), or 'ready' again after %(delay_ms)s. Only a 'done' event that was not consumed
# before (or with dedup off) publishes its outputs and final event; the outputs marked
# mine go straight to 'running' for this process, which runs them without a claim. In a
# lineage (a resolve's), the outputs past %(max_hops)s events are not inserted but
# recorded as HopLimitErrors, and none is inserted once the lineage was abandoned (its
# row is locked first, so that concurrent settlings count exactly). Returns (settled,
# took effect, notified, ids of the outputs kept, their event ids, the outputs the
# lineage had room for (NULL: no lineage), whether it was abandoned).
_SETTLE = (
    """
WITH settled AS (
    UPDATE {queue} SET status = %(status)s, locked_by = NULL, locked_until = NULL,
        run_at = CASE WHEN %(status)s = 'ready'
                      THEN clock_timestamp() + %(delay_ms)s * interval '1 millisecond'
                      ELSE run_at END,
        last_error = coalesce(%(error)s, last_error), updated_at = clock_timestamp()
    WHERE id = %(id)s AND locked_by = %(me)s AND status = 'running'
    RETURNING id
),
fresh AS (
    INSERT INTO {consumed} (topic, event_source, event_id)
    SELECT %(topic)s, %(source)s, %(event_id)s
    WHERE %(dedup)s AND %(status)s = 'done' AND EXISTS (SELECT 1 FROM settled)
    ON CONFLICT DO NOTHING
    RETURNING 1
),
effect AS (
    SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM settled)
        AND (%(status)s <> 'done' OR NOT %(dedup)s OR EXISTS (SELECT 1 FROM fresh))
),
hop AS (
    SELECT abandoned, CASE WHEN abandoned THEN 0 ELSE greatest(%(max_hops)s - events, 0) END
        AS room
    FROM {lineage} WHERE id = %(lineage)s AND EXISTS (SELECT 1 FROM settled)
    FOR UPDATE
),
outputs AS (
    INSERT INTO {queue} (topic, event, event_id, event_source, lineage_id, reply_to,
                         status, attempts, locked_by, locked_until)
    SELECT o.topic, o.event, o.event_id, o.source, %(lineage)s, %(reply_to)s,
        CASE WHEN o.mine THEN 'running' ELSE 'ready' END,
        CASE WHEN o.mine THEN 1 ELSE 0 END,
        CASE WHEN o.mine THEN %(me)s END,
        CASE WHEN o.mine THEN """
    + _LEASE
    + """ END
    FROM unnest(%(o_topics)b::text[], %(o_events)b::text[], %(o_ids)b::text[],
                %(o_sources)b::text[], %(o_mine)b::bool[]) WITH ORDINALITY
        AS o(topic, event, event_id, source, mine, n)
    WHERE %(status)s = 'done' AND EXISTS (SELECT 1 FROM effect)
        AND o.n <= coalesce((SELECT room FROM hop), o.n)
    RETURNING id, topic, event_id, status
),
lineage AS (
    UPDATE {lineage} SET
        pending = pending - CASE WHEN %(status)s = 'ready' THEN 0 ELSE 1 END
            + (SELECT count(*) FROM outputs)::int,
        events = events + (SELECT count(*) FROM outputs)::int,
        final = CASE WHEN EXISTS (SELECT 1 FROM effect) THEN coalesce(%(final)s, final)
                     ELSE final END,
        errors = errors || %(errors)s::jsonb || coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'type', 'HopLimitError', 'event', o.event, 'message', format(
                    'Hop limit reached: the lineage of this event already published %%s '
                    'events (max_hops=%%s); it is not routed', events, %(max_hops)s)))
            FROM unnest(%(o_events)b::text[]) WITH ORDINALITY AS o(event, n), hop
            WHERE NOT hop.abandoned AND o.n > hop.room AND EXISTS (SELECT 1 FROM effect)
        ), '[]')
    WHERE id = %(lineage)s AND EXISTS (SELECT 1 FROM settled)
    RETURNING id, pending
),
wake AS (
    SELECT pg_notify(%(channel)s, 't:' || topic)
    FROM (SELECT DISTINCT topic FROM outputs WHERE status = 'ready') ready
    UNION ALL
    SELECT pg_notify(%(channel)s, 'l:' || id) FROM lineage WHERE pending <= 0
)
SELECT (SELECT count(*) FROM settled), (SELECT count(*) FROM effect),
    (SELECT count(*) FROM wake),
    (SELECT array_agg(id) FROM outputs WHERE status = 'running'),
    (SELECT array_agg(event_id) FROM outputs WHERE status = 'running'),
    (SELECT room FROM hop), coalesce((SELECT abandoned FROM hop), false)
"""
)

_HEARTBEAT = (
    "UPDATE {queue} SET locked_until = "
    + _LEASE
    + " WHERE locked_by = %(me)s AND status = 'running'"
)

# The events whose holder stopped renewing their lease: ready again for anyone.
_RECLAIM = """
WITH lapsed AS (
    UPDATE {queue} SET status = 'ready', locked_by = NULL, locked_until = NULL,
        updated_at = clock_timestamp()
    WHERE status = 'running' AND locked_until < clock_timestamp()
    RETURNING topic
)
SELECT pg_notify(%(channel)s, 't:' || topic) FROM (SELECT DISTINCT topic FROM lapsed) t
"""

# Claimed events never started (a close): ready again at once, their attempt not spent.
_RELEASE = """
WITH released AS (
    UPDATE {queue} SET status = 'ready', locked_by = NULL, locked_until = NULL,
        attempts = greatest(attempts - 1, 0), updated_at = clock_timestamp()
    WHERE id = ANY(%(ids)s) AND locked_by = %(me)s AND status = 'running'
    RETURNING topic
)
SELECT pg_notify(%(channel)s, 't:' || topic) FROM (SELECT DISTINCT topic FROM released) t
"""

# A read: the rows collected are deleted later, in batches (see forget), so that a
# resolve waits for no commit of its own.
_COLLECT = """
SELECT id, final, errors FROM {lineage} WHERE id = ANY(%(ids)s) AND pending <= 0
"""

# A resolve gave up: the lineage's events still queued are dropped when claimed, and the
# settlings insert none of its outputs. Every process hears of it (a:<id>).
_ABANDON = """
WITH marked AS (
    UPDATE {lineage} SET abandoned = true WHERE id = %(lineage)s RETURNING id
)
SELECT pg_notify(%(channel)s, 'a:' || id) FROM marked
"""

# Records (or renews, with the leases) the topics this process serves, and reads the
# topics served: those some process subscribed to within the routing window.
_SERVED = """
WITH renewed AS (
    INSERT INTO {subscription} (topic, worker) SELECT unnest(%(topics)b::text[]), %(me)s
    ON CONFLICT (topic, worker) DO UPDATE SET seen_at = clock_timestamp()
)
SELECT DISTINCT topic FROM {subscription}
WHERE seen_at > clock_timestamp() - %(window_s)s * interval '1 second'
"""

_FORGET = "DELETE FROM {lineage} WHERE id = ANY(%(ids)s)"

_DEAD = """
SELECT id, topic, event, attempts, last_error, created_at, updated_at FROM {queue}
WHERE status = 'dead' AND (%(topic)s::text IS NULL OR topic = %(topic)s)
ORDER BY id LIMIT %(limit)s
"""

_REQUEUE = """
WITH again AS (
    UPDATE {queue} SET status = 'ready', attempts = 0, run_at = clock_timestamp(),
        lineage_id = NULL, updated_at = clock_timestamp()
    WHERE id = ANY(%(ids)s) AND status = 'dead'
    RETURNING id, topic
),
wake AS (
    SELECT pg_notify(%(channel)s, 't:' || topic) FROM (SELECT DISTINCT topic FROM again) t
)
SELECT array_agg(id), (SELECT count(*) FROM wake) FROM again
"""

_COUNTS = "SELECT status, count(*)::int FROM {queue} GROUP BY status"

_PURGE = """
WITH old_events AS (
    DELETE FROM {queue} WHERE status IN ('done', 'dropped')
        AND updated_at < clock_timestamp() - %(retention_s)s * interval '1 second'
),
old_marks AS (
    DELETE FROM {consumed}
    WHERE consumed_at < clock_timestamp() - %(retention_s)s * interval '1 second'
),
old_lineages AS (
    -- Those whose resolving process went away before it collected them, and those
    -- abandoned whose events all settled.
    DELETE FROM {lineage}
    WHERE created_at < clock_timestamp() - %(retention_s)s * interval '1 second'
        OR (abandoned AND pending <= 0)
),
old_subscriptions AS (
    DELETE FROM {subscription}
    WHERE seen_at < clock_timestamp() - %(subscribed_s)s * interval '1 second'
)
SELECT 1
"""


@dataclass(frozen=True)
class QueueStatements:
    """The queue statements of one schema, composed once. Immutable, so thread-safe.

    Attributes:
        publish: insert one event (and its lineage row when it has one); notify.
        claim: take ready events for every topic's free slots, as ``(id, topic, event,
            attempts, lineage_id, reply_to, consumed before, lineage abandoned)`` rows.
        settle: see ``_SETTLE``; one row.
        heartbeat: renew every lease this process holds.
        reclaim: make events whose lease lapsed ready again; notify their topics.
        release: give back claimed events never started; notify.
        collect: the settled lineages among ``ids``; forget: delete lineages.
        abandon: mark a lineage abandoned; notify.
        served: record or renew the topics this process serves; list the topics served.
        dead: list dead events; requeue: make dead events ready again.
        counts: events per status. purge: forget what is older than the retention.
    """

    publish: bytes
    claim: bytes
    settle: bytes
    heartbeat: bytes
    reclaim: bytes
    release: bytes
    collect: bytes
    forget: bytes
    abandon: bytes
    served: bytes
    dead: bytes
    requeue: bytes
    counts: bytes
    purge: bytes

    @classmethod
    def for_schema(cls, schema: str) -> QueueStatements:
        """Compose every statement for the queue tables of ``schema``."""
        names = {
            "queue": sql.Identifier(schema, "queue_event"),
            "lineage": sql.Identifier(schema, "queue_lineage"),
            "consumed": sql.Identifier(schema, "queue_consumed"),
            "subscription": sql.Identifier(schema, "queue_subscription"),
        }

        def compose(text: str) -> bytes:
            return render(text, names)

        return cls(
            publish=compose(_PUBLISH),
            claim=compose(_CLAIM),
            settle=compose(_SETTLE),
            heartbeat=compose(_HEARTBEAT),
            reclaim=compose(_RECLAIM),
            release=compose(_RELEASE),
            collect=compose(_COLLECT),
            forget=compose(_FORGET),
            abandon=compose(_ABANDON),
            served=compose(_SERVED),
            dead=compose(_DEAD),
            requeue=compose(_REQUEUE),
            counts=compose(_COUNTS),
            purge=compose(_PURGE),
        )
