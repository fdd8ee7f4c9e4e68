// Kernia SDK internal: one sync cycle against /api/sync (docs/sync-protocol.md): push the
// outbox in mid order in batches, drop what the server acknowledged (applied or skipped),
// then pull from the cursor until `more` is false, applying the changes with the pending
// local changes replayed on top. Every step commits to the local store before the next
// request, so a failure at any point (network, kill -9) loses nothing and, with the same
// mids on retry, duplicates nothing. A push refused because of one mutation is retried
// one mutation at a time to find it; that one is dropped (changeRejected) and the record
// re-pulled. A pull stops after a budget of pages (a server whose pull never ends would
// otherwise hold the job queue for ever): the cycle ends normally and the next one
// continues from the cursor. The Client runs cycles one at a time in its job queue. Not API.
#pragma once

#include "localstore_p.h"

#include <Kernia/error.h>

#include <QtCore/QObject>
#include <QtCore/QSet>
#include <QtCore/QString>

#include <functional>
#include <optional>

namespace Kernia {

class Transport;
struct HttpResult;

class SyncEngine : public QObject
{
    Q_OBJECT

public:
    static constexpr int MaxMutationsPerPush = 500;   // the protocol's limit
    // A push's mutations stop here (one always goes: a record is at most 64 KiB). The
    // server refuses bodies above its max_body_bytes (1 MiB by default) with a 413, and
    // the same too-large push retried forever would block the outbox.
    static constexpr qsizetype MaxPushBytes = 256 * 1024;
    static constexpr int PullLimit = 500;
    // A run whose pages held fewer changes than this on average is "sparse": a large
    // account's pages are full (500 changes, or 4 MiB of the server's page budget, which
    // takes more than 60 records of the 64 KiB maximum); a server whose pull never ends
    // moves its version on with next to nothing.
    static constexpr int DensePageChanges = PullLimit / 10;

    struct Context
    {
        QString owner;       // the local profile (owner_local_id)
        QString userId;      // the server user the session belongs to
        QByteArray bearer;
    };
    using Done = std::function<void(const Error &)>;

    // syncBasePath: e.g. "/api/sync" (derived from the auth base path by the client).
    SyncEngine(LocalStore *store, Transport *transport, const QString &syncBasePath, const QString &clientId,
               QObject *parent = nullptr);

    QString clientId() const { return m_clientId; }
    bool isRunning() const { return m_running; }
    // Pull pages per run (at least 1).
    void setMaxPullPages(int pages) { m_maxPullPages = qMax(1, pages); }
    // The last run ended at its page budget with more to pull (not an error: what it
    // pulled is stored, the cursor with it); the next run continues from there.
    bool stoppedAtBudget() const { return m_stoppedAtBudget; }
    // ... and its pages were sparse (see DensePageChanges).
    bool pulledSparsePages() const { return m_pages > 0 && m_changes < qint64(m_pages) * DensePageChanges; }

    // One cycle. done runs exactly once (not at all if the engine is destroyed first).
    void run(const Context &context, Done done);

    // "/api/auth" -> "/api/sync"; anything else -> "<basePath>/../sync".
    static QString syncBasePathFor(const QString &authBasePath);
    static bool isValidClientId(const QString &clientId);
    static bool isValidCollection(const QString &name);
    static bool isValidRecordId(const QString &id);

Q_SIGNALS:
    // Local records changed by the cycle (acknowledged or pulled).
    void recordsTouched(const QString &owner, const Kernia::TouchedRecords &touched);
    void outboxChanged(const QString &owner);
    // The server refused this change for good (e.g. RECORD_TOO_LARGE after merging with
    // another device's edit); it left the outbox and the record takes the server's state.
    void changeRejected(const QString &owner, const QString &collection, const QString &id,
                        const Kernia::Error &reason);

private:
    void push();
    void rejectFirst(const OutboxEntry &entry, const Error &reason);
    void pull(qint64 since);
    // A refusal that names one mutation (its op, collection, id or data), not the push as
    // a whole or the session: only these may cost a change.
    static bool refusesAMutation(const HttpResult &result);
    void finish(const Error &error);
    Error badResponse(const QString &what, int status) const;

    LocalStore *m_store;
    Transport *m_transport;
    QString m_base;
    QString m_clientId;   // the install's: for changes without a client id of their own (OutboxEntry::clientId)

    bool m_running = false;
    Context m_context;
    Done m_done;
    SyncCursor m_cursor;
    bool m_fullPull = false;       // this pull started from 0: prune what it did not return
    bool m_oneAtATime = false;     // a push was refused: find the mutation, one per push
    bool m_resetOnce = false;      // restarted from 0 after the server's version went back
    QSet<QString> m_seen;          // (collection '\n' id) returned by a full pull
    int m_maxPullPages = 200;
    int m_pages = 0;               // pull pages of this run
    qint64 m_changes = 0;          // changes on them
    bool m_stoppedAtBudget = false;
    // A full pull that stopped at the budget: the next run of the same profile and user
    // from the same cursor continues it, with what it has seen, so that it still drops
    // the settled records the server does not have at its end.
    struct UnfinishedFullPull
    {
        QString owner;
        QString userId;
        qint64 version = 0;
        QSet<QString> seen;
    };
    std::optional<UnfinishedFullPull> m_unfinishedFullPull;
};

} // namespace Kernia
