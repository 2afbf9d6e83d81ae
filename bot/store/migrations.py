"""The schema, as forward-only migrations applied at start (sqlite-utils ``Migrations``).

Never edit a migration that has shipped: add a new one. ``tests/test_migrations.py`` builds a
database at every earlier version and checks that the current code opens it.
"""

from __future__ import annotations

import sqlite_utils

migrations = sqlite_utils.Migrations("elastic-access-bot")


@migrations(name="0001_initial")
def m0001_initial(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            requester_id TEXT NOT NULL,
            requester_email TEXT NOT NULL,
            resource_kind TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            resource_name TEXT NOT NULL,
            project_type TEXT,
            role_id TEXT NOT NULL,
            unit TEXT NOT NULL,
            duration_seconds INTEGER NOT NULL,
            justification TEXT NOT NULL,
            state TEXT NOT NULL,
            approvers TEXT NOT NULL DEFAULT '[]',
            approvals_needed INTEGER NOT NULL DEFAULT 1,
            elastic_user_id TEXT,
            decided_by TEXT,
            decided_at TEXT,
            decision_reason TEXT,
            granted_at TEXT,
            expires_at TEXT,
            ended_at TEXT,
            ended_by TEXT,
            added TEXT NOT NULL DEFAULT '[]',
            held_before TEXT NOT NULL DEFAULT '[]',
            lease_owner TEXT,
            lease_until TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            overdue_alerted_at TEXT,
            notified_state TEXT,
            outcome TEXT,
            invitation_token TEXT,
            extension_seconds INTEGER,
            extension_reason TEXT,
            extension_by TEXT,
            extensions INTEGER NOT NULL DEFAULT 0,
            expiry_noticed_at TEXT,
            approver_source TEXT,
            reminders_sent INTEGER NOT NULL DEFAULT 0,
            next_reminder_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX requests_state_expires ON requests (state, expires_at)")
    db.execute("CREATE INDEX requests_requester ON requests (requester_id, created_at)")
    db.execute("CREATE INDEX requests_created ON requests (created_at)")
    db.execute(
        "CREATE INDEX requests_live_user ON requests (elastic_user_id, state) "
        "WHERE state IN ('granting', 'active', 'revoking')"
    )
    db.execute(
        """
        CREATE TABLE approvals (
            request_id INTEGER NOT NULL REFERENCES requests(id),
            approver_id TEXT NOT NULL,
            decision TEXT NOT NULL,
            reason TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (request_id, approver_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE messages (
            request_id INTEGER NOT NULL REFERENCES requests(id),
            kind TEXT NOT NULL,
            user_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            PRIMARY KEY (request_id, kind, user_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE owned_units (
            elastic_user_id TEXT NOT NULL,
            unit TEXT NOT NULL,
            request_id INTEGER NOT NULL REFERENCES requests(id),
            added_at TEXT NOT NULL,
            PRIMARY KEY (elastic_user_id, unit)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            request_id INTEGER,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE INDEX events_request ON events (request_id, id)")
    db.execute("CREATE INDEX events_at ON events (at)")
    # The audit trail is append-only: the database itself refuses edits and deletions.
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    db.execute(
        """
        CREATE TABLE catalogue (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            project_type TEXT,
            tags TEXT NOT NULL DEFAULT '{}',
            refreshed_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX catalogue_name ON catalogue (name COLLATE NOCASE)")
    db.execute(
        "CREATE INDEX requests_pending ON requests (state, next_reminder_at) WHERE state = 'pending'"
    )
    db.execute(
        """
        CREATE TABLE reported_owners (
            reference TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE slash_dedupe (
            fingerprint TEXT PRIMARY KEY,
            request_id INTEGER,
            at TEXT NOT NULL
        )
        """
    )


@migrations(name="0002_audit_indexes")
def m0002_audit_indexes(db: sqlite_utils.Database) -> None:
    # /elastic-access list and the audit export: state, resource and name filters, newest first.
    db.execute("CREATE INDEX requests_state_created ON requests (state, created_at)")
    db.execute("CREATE INDEX requests_resource ON requests (resource_id, created_at)")
    db.execute(
        "CREATE INDEX requests_resource_name ON requests (resource_name COLLATE NOCASE, created_at)"
    )


@migrations(name="0003_escalation")
def m0003_escalation(db: sqlite_utils.Database) -> None:
    # When a pending request was also sent to the integration owners (escalate_after).
    db.execute("ALTER TABLE requests ADD COLUMN escalated_at TEXT")


@migrations(name="0004_event_chain")
def m0004_event_chain(db: sqlite_utils.Database) -> None:
    # Tamper evidence: each event's sha256 chained to the one before (bot/store/chain.py).
    # Events written before this migration are chained here, the trigger lifted only for that.
    from bot.store.chain import chain_existing

    db.execute("ALTER TABLE events ADD COLUMN hash TEXT")
    db.execute("DROP TRIGGER events_no_update")
    chain_existing(db.conn)
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )


@migrations(name="0005_invitation_hash")
def m0005_invitation_hash(db: sqlite_utils.Database) -> None:
    # Invitation tokens are bearer credentials: keep only their sha256 (bot/access/invitations.py)
    # and hash the ones stored in clear so far. The old column stays, emptied.
    import hashlib

    db.execute("PRAGMA secure_delete = ON")  # the old values are overwritten, not just unlinked
    db.execute("ALTER TABLE requests ADD COLUMN invitation_hash TEXT")
    rows = db.execute(
        "SELECT id, invitation_token FROM requests WHERE invitation_token IS NOT NULL"
    ).fetchall()
    for request_id, token in rows:
        db.execute(
            "UPDATE requests SET invitation_hash = ?, invitation_token = NULL WHERE id = ?",
            (hashlib.sha256(token.encode()).hexdigest(), request_id),
        )


@migrations(name="0006_parked_and_findings")
def m0006_parked_and_findings(db: sqlite_utils.Database) -> None:
    # A revocation Elastic refuses because the deployment is stopped (hidden) is parked: why,
    # shown by list and App Home instead of "active", retried at a low rate.
    db.execute("ALTER TABLE requests ADD COLUMN parked TEXT")
    # What the bot reported to the integration owners about Elastic (roles that appeared
    # during an admin grant, drift found by the reconciliation), so each is reported once.
    db.execute(
        """
        CREATE TABLE findings (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            request_id INTEGER,
            detail TEXT NOT NULL DEFAULT '{}',
            at TEXT NOT NULL
        )
        """
    )


@migrations(name="0007_probe_answers")
def m0007_probe_answers(db: sqlite_utils.Database) -> None:
    # What `python -m bot probe` measured about Elastic's undocumented behaviour (issue #18):
    # one row per run, the latest is what the bot goes by (bot/store/semantics.py).
    db.execute(
        """
        CREATE TABLE probe_answers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            measured_at TEXT NOT NULL,
            member TEXT NOT NULL,
            answers TEXT NOT NULL,
            report TEXT NOT NULL
        )
        """
    )


@migrations(name="0008_notice_claims")
def m0008_notice_claims(db: sqlite_utils.Database) -> None:
    # Several processes on one database (issue #16): who is telling people about which state
    # right now, so a notice is sent by one process, and again only if that one died.
    db.execute("ALTER TABLE requests ADD COLUMN notifying TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN notify_until TEXT")


@migrations(name="0009_extension_approvals")
def m0009_extension_approvals(db: sqlite_utils.Database) -> None:
    # Approvals of an extension are stored as those of a request are (issue #15): one row per
    # approver, keyed by the extension_requested event that names the extension. Until now
    # they were counted from extension_approval events, which stay the audit trail.
    db.execute(
        """
        CREATE TABLE extension_approvals (
            request_id INTEGER NOT NULL REFERENCES requests(id),
            extension INTEGER NOT NULL,
            approver_id TEXT NOT NULL,
            decision TEXT NOT NULL,
            reason TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (request_id, extension, approver_id)
        )
        """
    )
    # An extension waiting at the upgrade keeps the approvals it was given: the events of the
    # latest extension_requested onwards, one row per approver (the first of their clicks).
    db.execute(
        """
        INSERT INTO extension_approvals (request_id, extension, approver_id, decision, reason, at)
        SELECT given.request_id, asked.id, given.actor, 'approve', NULL, MIN(given.at)
        FROM (
            SELECT r.id AS request_id,
                   (SELECT MAX(e.id) FROM events e
                    WHERE e.request_id = r.id AND e.kind = 'extension_requested') AS id
            FROM requests r
            WHERE r.extension_seconds IS NOT NULL
        ) AS asked
        JOIN events given ON given.request_id = asked.request_id
            AND given.kind = 'extension_approval' AND given.id > asked.id
        GROUP BY given.request_id, asked.id, given.actor
        """
    )


@migrations(name="0010_approver_reasons")
def m0010_approver_reasons(db: sqlite_utils.Database) -> None:
    # Why each approver was asked (issue #14): their owner tag, the integration owners'
    # fallback and its cause, or an escalation; JSON keyed by Slack user ID, shown on cards.
    db.execute("ALTER TABLE requests ADD COLUMN approver_reasons TEXT NOT NULL DEFAULT '{}'")


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; returns the names applied (for the start-up log)."""
    pending = [m.name for m in migrations.pending(db)]
    migrations.apply(db)
    return pending
