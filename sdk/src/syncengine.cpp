#include "syncengine_p.h"

#include "logging_p.h"
#include "transport_p.h"

#include <QtCore/QJsonArray>
#include <QtCore/QPointer>
#include <QtCore/QRegularExpression>
#include <QtCore/QStringList>
#include <QtCore/QUrlQuery>

#include <utility>

namespace Kernia {

SyncEngine::SyncEngine(LocalStore *store, Transport *transport, const QString &syncBasePath,
                       const QString &clientId, QObject *parent)
    : QObject(parent), m_store(store), m_transport(transport), m_base(syncBasePath), m_clientId(clientId)
{
}

QString SyncEngine::syncBasePathFor(const QString &authBasePath)
{
    QString base = authBasePath;
    while (base.endsWith(QLatin1Char('/')))
        base.chop(1);
    const int slash = base.lastIndexOf(QLatin1Char('/'));
    if (slash < 0)
        return QStringLiteral("/api/sync");
    return base.left(slash) + QStringLiteral("/sync");
}

bool SyncEngine::isValidClientId(const QString &clientId)
{
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9._:-]{1,128}$"));
    return re.match(clientId).hasMatch();
}

bool SyncEngine::isValidCollection(const QString &name)
{
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"));
    return re.match(name).hasMatch();
}

bool SyncEngine::isValidRecordId(const QString &id)
{
    if (id.isEmpty() || id.size() > 256)
        return false;
    if (!QStringView(id).isValidUtf16())   // a lone surrogate: the server refuses it, as it has no UTF-8 form
        return false;
    for (const QChar c : id) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return false;
    }
    return true;
}

Error SyncEngine::badResponse(const QString &what, int status) const
{
    return Error(Error::Kind::BadResponse, QString(), what, status);
}

void SyncEngine::run(const Context &context, Done done)
{
    Q_ASSERT(!m_running);
    m_running = true;
    m_context = context;
    m_done = std::move(done);
    m_cursor = m_store->cursor(context.owner);
    m_resetOnce = false;
    m_fullPull = false;
    m_oneAtATime = false;
    m_seen.clear();
    m_pages = 0;
    m_changes = 0;
    m_stoppedAtBudget = false;
    if (m_cursor.userId != context.userId) {
        // Another server user than the cursor's (a guest became an account, or the data
        // was adopted): that user's whole state is needed.
        qCInfo(lcSync) << "sync cursor reset: user" << m_cursor.userId << "->" << context.userId;
        m_cursor = SyncCursor{ context.userId, 0 };
    }
    if (auto unfinished = std::exchange(m_unfinishedFullPull, std::nullopt)) {
        if (unfinished->owner == context.owner && unfinished->userId == context.userId
            && unfinished->version == m_cursor.version && m_cursor.version > 0) {
            m_fullPull = true;
            m_seen = std::move(unfinished->seen);
        }
    }
    push();
}

void SyncEngine::finish(const Error &error)
{
    m_running = false;
    m_seen.clear();
    Done done = std::move(m_done);
    m_done = nullptr;
    if (done)
        done(error);
}

void SyncEngine::push()
{
    const QList<OutboxEntry> entries = m_store->outbox(m_context.owner, MaxMutationsPerPush);
    if (entries.isEmpty())
        return pull(m_cursor.version);

    // One client id per push: the leading run of changes numbered under the same one (a
    // profile's own and those it took back from another profile of the account).
    const auto clientIdOf = [this](const OutboxEntry &e) { return e.clientId.isEmpty() ? m_clientId : e.clientId; };
    const QString clientId = clientIdOf(entries.constFirst());
    QJsonArray mutations;
    qsizetype bytes = 0;
    QList<qint64> sent;
    for (const OutboxEntry &e : entries) {
        if (clientIdOf(e) != clientId)
            break;   // the next push

        QJsonObject m{ { QLatin1String("mid"), double(e.mid) },
                       { QLatin1String("op"), e.op },
                       { QLatin1String("collection"), e.collection },
                       { QLatin1String("id"), e.id } };
        if (e.op != QLatin1String("delete"))
            m.insert(QLatin1String("data"), e.data);
        // At most this many bytes in the body, from the stored text (no serialising twice):
        // the fixed keys, mid and op; an id of UTF-16 units takes at most 3 bytes each, even
        // escaped; collection names are ASCII.
        const qsizetype size = 80 + e.collection.size() + 3 * e.id.size() + e.dataBytes;
        if (!mutations.isEmpty() && (bytes + size > MaxPushBytes || m_oneAtATime))
            break;   // the rest goes in the next push
        bytes += size;
        mutations.append(m);
        sent.append(e.mid);
    }
    const qint64 lastSent = sent.constLast();
    const OutboxEntry first = entries.constFirst();
    qCDebug(lcSync) << "push" << mutations.size() << "mutations," << bytes << "bytes, mids" << first.mid << "…" << lastSent
                    << "as" << clientId;
    const QJsonObject body{ { QLatin1String("clientId"), clientId }, { QLatin1String("mutations"), mutations } };
    QPointer<SyncEngine> guard(this);
    const bool alone = mutations.size() == 1;
    m_transport->postAt(m_base + QStringLiteral("/push"), body, m_context.bearer,
                        [this, guard, sent, lastSent, first, alone](const HttpResult &r) {
        if (!guard)
            return;
        if (r.error.isError() && refusesAMutation(r)) {
            if (alone)
                return rejectFirst(first, r.error);
            // The whole push was refused for one of its mutations: find which.
            qCInfo(lcSync) << "push refused (" << r.error.toString() << "): pushing one mutation at a time";
            m_oneAtATime = true;
            return push();
        }
        if (r.error.isError())
            return finish(r.error);   // the outbox is untouched: the retry sends the same mids
        const QJsonObject answer = r.body.toObject();
        const QJsonValue lastMidValue = answer.value(QLatin1String("lastMid"));
        if (!lastMidValue.isDouble())
            return finish(badResponse(QStringLiteral("POST /sync/push answered without lastMid"), r.status));
        const qint64 lastMid = qint64(lastMidValue.toDouble());
        // Everything at or below the client's mark is on the server (applied now or by an
        // earlier push whose answer was lost). Only what this push sent leaves the outbox:
        // changes taken back from another profile meanwhile may have lower mids.
        const qint64 acknowledged = qMin(lastMid, lastSent);
        if (acknowledged < first.mid)
            return finish(badResponse(QStringLiteral("POST /sync/push did not acknowledge mid %1 (lastMid %2)")
                                              .arg(first.mid).arg(lastMid), r.status));
        qCDebug(lcSync) << "pushed: applied" << answer.value(QLatin1String("applied")).toInt()
                        << "skipped" << answer.value(QLatin1String("skipped")).toInt() << "lastMid" << lastMid;
        TouchedRecords touched;
        QList<qint64> landed = sent;
        landed.removeIf([acknowledged](qint64 mid) { return mid > acknowledged; });
        const Error e = m_store->acknowledge(m_context.owner, landed, &touched);
        if (e.isError())
            return finish(e);
        Q_EMIT outboxChanged(m_context.owner);
        if (!touched.isEmpty())
            Q_EMIT recordsTouched(m_context.owner, touched);
        push();   // the next batch, or the pull
    });
}

bool SyncEngine::refusesAMutation(const HttpResult &result)
{
    static const QStringList codes = {
        QStringLiteral("INVALID_OP"), QStringLiteral("INVALID_COLLECTION"),
        QStringLiteral("INVALID_RECORD_ID"), QStringLiteral("INVALID_DATA"),
        QStringLiteral("RECORD_TOO_LARGE"), QStringLiteral("PAYLOAD_TOO_LARGE"),
        // The user's storage quota: the first mutation that would take it above is dropped;
        // those after it (deletes, smaller records) may still fit.
        QStringLiteral("SYNC_QUOTA_EXCEEDED"),
    };
    return (result.status == 400 || result.status == 413) && codes.contains(result.error.code());
}

void SyncEngine::rejectFirst(const OutboxEntry &entry, const Error &reason)
{
    qCWarning(lcSync) << "the server refused" << entry.op << "of" << entry.collection << entry.id
                      << "(mid" << entry.mid << "):" << reason.toString() << "- dropping it";
    TouchedRecords touched;
    const Error e = m_store->acknowledge(m_context.owner, { entry.mid }, &touched);
    if (e.isError())
        return finish(e);
    Q_EMIT outboxChanged(m_context.owner);
    Q_EMIT changeRejected(m_context.owner, entry.collection, entry.id, reason);
    m_oneAtATime = false;
    // The local copy still shows the refused change: a full pull puts the server's state
    // back (and removes a record the server never had).
    m_cursor.version = 0;
    push();
}

void SyncEngine::pull(qint64 since)
{
    if (since == 0) {   // (again, after a refused change: what was seen before does not count)
        m_fullPull = true;
        m_seen.clear();
    }
    QUrlQuery query;
    query.addQueryItem(QStringLiteral("since"), QString::number(since));
    query.addQueryItem(QStringLiteral("limit"), QString::number(PullLimit));
    QPointer<SyncEngine> guard(this);
    m_transport->getAt(m_base + QStringLiteral("/pull"), query, m_context.bearer,
                       [this, guard, since](const HttpResult &r) {
        if (!guard)
            return;
        if (r.error.isError()) {
            m_fullPull = false;
            return finish(r.error);
        }
        const QJsonObject answer = r.body.toObject();
        const QJsonValue versionValue = answer.value(QLatin1String("version"));
        const QJsonValue changesValue = answer.value(QLatin1String("changes"));
        if (!versionValue.isDouble() || !changesValue.isArray()) {
            m_fullPull = false;
            return finish(badResponse(QStringLiteral("GET /sync/pull answered without version and changes"), r.status));
        }
        const qint64 version = qint64(versionValue.toDouble());
        const bool more = answer.value(QLatin1String("more")).toBool();
        if (version < since) {
            // The cursor belongs to another history (e.g. the guest's): pull everything.
            m_fullPull = false;
            if (m_resetOnce)
                return finish(badResponse(QStringLiteral("GET /sync/pull went back in version twice"), r.status));
            m_resetOnce = true;
            qCInfo(lcSync) << "server version" << version << "< cursor" << since << ": pulling everything";
            m_cursor.version = 0;
            return pull(0);
        }
        if (more && version <= since) {
            // With more: true, version is that of the last change returned, above since. A
            // page that is not would be asked for again and again, and the operations queued
            // behind this sync (sign-in, sign-out) would never run. The client's backoff
            // retries the sync later.
            qCWarning(lcSync).nospace() << "the pull from version " << since
                                        << " did not advance (version " << version << ", " << changesValue.toArray().size()
                                        << " changes, more: true); stopping this sync";
            m_fullPull = false;
            return finish(badResponse(QStringLiteral("GET /sync/pull did not advance past version %1 "
                                                     "but announced more changes").arg(since), r.status));
        }
        QList<RemoteChange> changes;
        const QJsonArray array = changesValue.toArray();
        changes.reserve(array.size());
        for (const QJsonValue &v : array) {
            const QJsonObject o = v.toObject();
            RemoteChange c;
            c.collection = o.value(QLatin1String("collection")).toString();
            c.id = o.value(QLatin1String("id")).toString();
            c.deleted = o.value(QLatin1String("deleted")).toBool();
            c.data = o.value(QLatin1String("data")).toObject();
            c.updatedAt = QDateTime::fromString(o.value(QLatin1String("updatedAt")).toString(), Qt::ISODateWithMs);
            if (c.collection.isEmpty() || c.id.isEmpty() || (!c.deleted && !o.value(QLatin1String("data")).isObject())) {
                m_fullPull = false;
                return finish(badResponse(QStringLiteral("GET /sync/pull answered a malformed change"), r.status));
            }
            if (m_fullPull)
                m_seen.insert(c.collection + QLatin1Char('\n') + c.id);
            changes.append(c);
        }
        m_cursor.version = version;
        TouchedRecords touched;
        Error e = m_store->applyRemote(m_context.owner, changes, m_cursor, &touched);
        if (!e.isError() && !more && m_fullPull)
            e = m_store->pruneSettled(m_context.owner, m_seen, &touched);
        if (!touched.isEmpty())
            Q_EMIT recordsTouched(m_context.owner, touched);
        if (e.isError()) {
            m_fullPull = false;
            return finish(e);
        }
        qCDebug(lcSync) << "pulled" << changes.size() << "changes, version" << version << (more ? "(more)" : "");
        ++m_pages;
        m_changes += changes.size();
        if (more && m_pages >= m_maxPullPages) {
            // A large account continues in the next run; a server whose pull never ends
            // (its version growing on every page) no longer holds the queue for ever.
            qCInfo(lcSync).nospace() << "the pull reached this sync's page budget (" << m_pages << " pages, "
                                     << m_changes << " changes, version " << version
                                     << "); the next sync continues from there";
            if (m_fullPull)
                m_unfinishedFullPull = UnfinishedFullPull{ m_context.owner, m_context.userId, version, std::move(m_seen) };
            m_fullPull = false;
            m_stoppedAtBudget = true;
            return finish(Error());
        }
        if (more)
            return pull(version);
        m_fullPull = false;
        finish(Error());
    });
}

} // namespace Kernia
