#include "sync_service.h"

#include "auth/json.h"
#include "store/store.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

Q_LOGGING_CATEGORY(lcSync, "kernia.sync")

namespace Kernia::Server {

namespace {

constexpr qint64 kMaxSafeInteger = (qint64(1) << 53) - 1;   // JSON numbers stay exact below it

QByteArray compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QJsonObject parseObject(const QByteArray &data)
{
    return QJsonDocument::fromJson(data).object();
}

bool isValidClientId(const QString &id)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9._:-]{1,128}$"));
    return pattern.match(id).hasMatch();
}

bool isValidCollection(const QString &name)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"));
    return pattern.match(name).hasMatch();
}

bool isValidRecordId(const QString &id)
{
    if (id.isEmpty() || id.size() > 256)
        return false;
    // A lone surrogate has no UTF-8 form: stored, it would become "?" and two different
    // ids one record.
    if (!QStringView(id).isValidUtf16())
        return false;
    for (const QChar c : id) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return false;
    }
    return true;
}

// A JSON number that is a whole number in 1 .. 2^53-1.
std::optional<qint64> positiveInteger(const QJsonValue &value)
{
    if (!value.isDouble())
        return std::nullopt;
    const double d = value.toDouble();
    if (!(d >= 1 && d <= double(kMaxSafeInteger)) || d != double(qint64(d)))
        return std::nullopt;
    return qint64(d);
}

// The id of the conflict record that keeps `guest`'s version of (collection, id) after a
// link: one per guest and record, within the 256 characters a record id may have.
QString conflictRecordId(const QString &guestId, const QString &collection, const QString &recordId)
{
    const QByteArray hash = QCryptographicHash::hash((collection + QLatin1Char('\n') + recordId).toUtf8(),
                                                     QCryptographicHash::Sha256).toHex().left(32);
    return guestId.left(64) + QLatin1Char('-') + QString::fromLatin1(hash);
}

} // namespace

SyncService::SyncService(SyncOptions options)
    : m_options(std::move(options))
{
}

MergePolicy SyncService::policyFor(const QString &collection) const
{
    return m_options.mergePolicies.value(collection, m_options.defaultMergePolicy);
}

SyncPush SyncService::parsePush(const QJsonObject &body) const
{
    SyncPush push;
    const QJsonValue clientId = body.value(QLatin1String("clientId"));
    if (!clientId.isString() || !isValidClientId(clientId.toString()))
        throw SyncError(SyncErrors::INVALID_CLIENT_ID);
    push.clientId = clientId.toString();

    const QJsonValue mutationsValue = body.value(QLatin1String("mutations"));
    if (!mutationsValue.isArray())
        throw SyncError(SyncErrors::INVALID_MUTATIONS);
    const QJsonArray mutations = mutationsValue.toArray();
    if (mutations.size() > m_options.maxMutationsPerPush) {
        throw SyncError(SyncErrors::TOO_MANY_MUTATIONS,
                        QStringLiteral("A push carries at most %1 mutations, got %2")
                            .arg(m_options.maxMutationsPerPush).arg(mutations.size()));
    }

    qint64 previousMid = 0;
    for (qsizetype i = 0; i < mutations.size(); ++i) {
        const QString where = QStringLiteral("mutations[%1]").arg(i);
        if (!mutations.at(i).isObject())
            throw SyncError(SyncErrors::INVALID_MUTATIONS, where + QStringLiteral(" must be an object"));
        const QJsonObject m = mutations.at(i).toObject();
        SyncMutation mutation;

        const std::optional<qint64> mid = positiveInteger(m.value(QLatin1String("mid")));
        if (!mid) {
            throw SyncError(SyncErrors::INVALID_MID,
                            where + QStringLiteral(".mid must be an integer between 1 and 2^53-1"));
        }
        if (*mid <= previousMid) {
            throw SyncError(SyncErrors::INVALID_MID,
                            QStringLiteral("%1.mid (%2) must be greater than the previous mid (%3)")
                                .arg(where).arg(*mid).arg(previousMid));
        }
        previousMid = mutation.mid = *mid;

        const QString op = m.value(QLatin1String("op")).toString();
        if (op == QLatin1String("put"))
            mutation.op = SyncMutation::Op::Put;
        else if (op == QLatin1String("patch"))
            mutation.op = SyncMutation::Op::Patch;
        else if (op == QLatin1String("delete"))
            mutation.op = SyncMutation::Op::Delete;
        else
            throw SyncError(SyncErrors::INVALID_OP, where + QStringLiteral(".op must be \"put\", \"patch\" or \"delete\""));

        const QJsonValue collection = m.value(QLatin1String("collection"));
        if (!collection.isString() || !isValidCollection(collection.toString())) {
            throw SyncError(SyncErrors::INVALID_COLLECTION,
                            where + QStringLiteral(".collection must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"));
        }
        mutation.collection = collection.toString();

        const QJsonValue id = m.value(QLatin1String("id"));
        if (!id.isString() || !isValidRecordId(id.toString())) {
            throw SyncError(SyncErrors::INVALID_RECORD_ID,
                            where + QStringLiteral(".id must be a string of 1-256 characters without control characters"));
        }
        mutation.id = id.toString();

        const QJsonValue data = m.value(QLatin1String("data"));
        if (mutation.op == SyncMutation::Op::Delete) {
            if (!data.isUndefined() && !data.isNull())
                throw SyncError(SyncErrors::INVALID_DATA, where + QStringLiteral(".data must be absent for delete"));
        } else {
            if (!data.isObject())
                throw SyncError(SyncErrors::INVALID_DATA, where + QStringLiteral(".data must be a JSON object"));
            mutation.data = data.toObject();
            const qint64 size = compact(mutation.data).size();
            if (size > m_options.maxRecordBytes) {
                throw SyncError(SyncErrors::RECORD_TOO_LARGE,
                                QStringLiteral("%1.data is %2 bytes; a record may have at most %3")
                                    .arg(where).arg(size).arg(m_options.maxRecordBytes));
            }
        }
        push.mutations.append(std::move(mutation));
    }
    return push;
}

SyncPushResult SyncService::push(Store &store, const QString &userId, const SyncPush &push) const
{
    SyncPushResult result;
    // Every push of a user bumps that user's version row: pushes of one user (several
    // devices, several server processes) queue for it rather than conflict.
    store.serialTransaction(QStringLiteral("kernia.sync.push:") + userId, [&] {
        result = SyncPushResult();   // PostgreSQL may run this again after a conflict
        const qint64 mark = store.syncClientMark(userId, push.clientId);
        QList<const SyncMutation *> pending;
        for (const SyncMutation &mutation : push.mutations) {
            if (mutation.mid > mark)
                pending.append(&mutation);
            else
                ++result.skipped;
        }
        if (pending.isEmpty()) {
            result.lastMid = mark;
            result.version = store.syncVersion(userId);
            return;
        }

        const SyncCounter counter = store.bumpSyncVersion(userId, pending.size());   // locks the user's row
        const qint64 last = counter.version;
        qint64 version = last - pending.size();
        const QDateTime now = nowUtc();
        // The change of the user's storage usage: each record's new size minus its size
        // before (read within this transaction, so a record written twice in one push
        // counts once).
        qint64 delta = 0;
        for (const SyncMutation *mutation : std::as_const(pending)) {
            SyncRecord record;
            record.collection = mutation->collection;
            record.recordId = mutation->id;
            record.version = ++version;
            record.updatedAt = now;
            switch (mutation->op) {
            case SyncMutation::Op::Put:
                record.data = compact(mutation->data);
                delta += record.data.size() - store.syncRecordBytes(userId, record.collection, record.recordId);
                break;
            case SyncMutation::Op::Patch: {
                const std::optional<SyncRecord> existing = store.syncRecord(userId, record.collection, record.recordId);
                QJsonObject merged = existing && !existing->deleted ? parseObject(existing->data) : QJsonObject();
                for (auto it = mutation->data.constBegin(); it != mutation->data.constEnd(); ++it) {
                    if (it.value().isNull())
                        merged.remove(it.key());
                    else
                        merged.insert(it.key(), it.value());
                }
                record.data = compact(merged);
                // A record can already be above the limit (a conflict record wraps one of
                // up to the limit; the limit may have been lowered since): patches may
                // shrink it or leave its size, never grow it, so it never becomes a record
                // nobody can change.
                const qint64 sizeBefore = existing && !existing->deleted ? existing->data.size() : 0;
                if (record.data.size() > m_options.maxRecordBytes && record.data.size() > sizeBefore) {
                    throw SyncError(SyncErrors::RECORD_TOO_LARGE,
                                    QStringLiteral("patch mid %1 makes %2/%3 %4 bytes; a record may have at most %5")
                                        .arg(mutation->mid).arg(record.collection, record.recordId)
                                        .arg(record.data.size()).arg(m_options.maxRecordBytes));
                }
                delta += record.data.size() - sizeBefore;
                break;
            }
            case SyncMutation::Op::Delete:
                record.deleted = true;
                delta -= store.syncRecordBytes(userId, record.collection, record.recordId);
                break;
            }
            store.putSyncRecord(userId, record);
        }
        // The quota: a push that grows the usage may not end above it (the throw rolls
        // everything back); one that shrinks or keeps it always passes, so a user above the
        // quota (a link, a lowered quota) can still delete and shrink.
        const qint64 used = counter.bytes;
        const qint64 usage = used + delta;
        if (delta > 0 && m_options.maxUserBytes > 0 && usage > m_options.maxUserBytes) {
            throw SyncError(SyncErrors::SYNC_QUOTA_EXCEEDED,
                            QStringLiteral("The push would store %1 bytes of synced data; %2 are used and a user "
                                           "may store at most %3")
                                .arg(usage).arg(used).arg(m_options.maxUserBytes));
        }
        if (delta != 0)
            store.setSyncUserBytes(userId, usage);
        result.applied = int(pending.size());
        result.lastMid = pending.last()->mid;
        result.version = last;
        store.setSyncClientMark(userId, push.clientId, result.lastMid);
    });
    return result;
}

SyncPullResult SyncService::pull(Store &store, const QString &userId, qint64 since, int limit) const
{
    if (since < 0)
        throw SyncError(SyncErrors::INVALID_SINCE);
    if (limit < 1 || limit > m_options.maxPullLimit) {
        throw SyncError(SyncErrors::INVALID_LIMIT,
                        QStringLiteral("limit must be between 1 and %1").arg(m_options.maxPullLimit));
    }
    // No transaction needed: read the counter first and only rows up to it. A push that
    // commits in between gives its rows versions above the counter, so they come with the
    // next pull; a record rewritten in between moves above the counter the same way.
    //
    // A page holds at most `limit` changes and at most maxPullBytes of them (at least one
    // change, so every pull makes progress). Its extent comes from the records' sizes, read
    // without their data; then only the data of that extent is read. A record of the
    // extent rewritten in between moves above the counter and comes with a later pull; the
    // cursor is still the extent's end.
    SyncPullResult result;
    const qint64 current = store.syncVersion(userId);
    int count = 0;
    qint64 bytes = 0;
    qint64 end = since;
    store.syncChangeSizes(userId, since, current, limit + 1, [&](qint64 version, qint64 size) {
        if (count == limit || (count > 0 && bytes + size > m_options.maxPullBytes)) {
            result.more = true;
            return false;
        }
        ++count;
        bytes += size;
        end = version;
        return true;
    });
    if (count > 0)
        result.changes = store.syncChangesSince(userId, since, result.more ? end : current, count);
    result.version = result.more ? end : current;
    return result;
}

SyncLinkResult SyncService::linkGuest(Store &store, const QString &guestId, const QString &accountId) const
{
    SyncLinkResult result;
    if (guestId == accountId)
        return result;
    store.transaction([&] {   // nested: joins the link transaction
        result = SyncLinkResult();
        const QDateTime now = nowUtc();

        // Keys the account holds too (live or tombstone): read, and decided one by one.
        QList<SyncRecord> writes;
        for (const SharedSyncRecord &shared : store.sharedSyncRecords(guestId, accountId)) {
            const SyncRecord &guest = shared.from;
            const SyncRecord &account = shared.to;
            if (guest.deleted) {
                // A guest's deletion only travels where the account has nothing (moved
                // below); it never deletes a live record, nor rewrites a tombstone.
                if (!account.deleted)
                    ++result.dropped;
                continue;
            }
            if (account.deleted) {
                writes.append(guest);
                ++result.moved;
                continue;
            }
            const QJsonObject accountData = parseObject(account.data);
            const QJsonObject guestData = parseObject(guest.data);
            QJsonObject merged;
            if (!m_options.mergePolicies.contains(guest.collection) && m_options.mergeHook)
                merged = m_options.mergeHook(guest.collection, accountData, guestData);
            else
                merged = mergeRecords(policyFor(guest.collection), accountData, account.updatedAt,
                                      guestData, guest.updatedAt);
            if (merged == accountData) {
                ++result.keptAccount;
                continue;
            }
            SyncRecord record = guest;
            record.data = compact(merged);
            record.updatedAt = now;
            if (record.data.size() > m_options.maxRecordBytes) {
                // The account's record stays (its devices hold it already); the guest's is
                // kept whole where the user's devices pull it, instead of a record that
                // every later patch would push over the limit.
                SyncRecord conflict;
                conflict.collection = m_options.conflictCollection;
                conflict.recordId = conflictRecordId(guestId, guest.collection, guest.recordId);
                conflict.updatedAt = now;
                conflict.data = compact(QJsonObject{
                    {QStringLiteral("collection"), guest.collection},
                    {QStringLiteral("id"), guest.recordId},
                    {QStringLiteral("reason"), QString::fromLatin1(SyncErrors::RECORD_TOO_LARGE.code)},
                    {QStringLiteral("mergedBytes"), qint64(record.data.size())},
                    {QStringLiteral("updatedAt"), isoTimestamp(guest.updatedAt)},
                    {QStringLiteral("data"), guestData},
                });
                // Logged once the link has committed: an attempt that is rolled back (and
                // maybe run again) stored no conflict record.
                store.afterCommit([guestId, accountId, key = guest.collection + '/' + guest.recordId,
                                   bytes = record.data.size(), limit = m_options.maxRecordBytes,
                                   conflictKey = conflict.collection + '/' + conflict.recordId] {
                    qCWarning(lcSync).nospace().noquote()
                        << "guest " << guestId << " -> " << accountId << ": merging " << key << " would make it "
                        << bytes << " bytes (at most " << limit << "): kept the account's record; the guest's is "
                        << conflictKey;
                });
                writes.append(conflict);
                ++result.conflicts;
                continue;
            }
            writes.append(record);
            ++result.merged;
        }

        // Keys the account does not hold at all (usually nearly all of them): moved as
        // they are, live records and tombstones, without being read here.
        const UnsharedSyncRecordCounts unshared = store.unsharedSyncRecordCounts(guestId, accountId);
        result.moved += int(unshared.live);
        result.tombstones += int(unshared.deleted);

        // Fresh versions from the account's counter, so the account's other devices pull
        // them: the moved records first, then the written ones, each in the guest's order.
        const qint64 count = unshared.total() + writes.size();
        if (count > 0) {
            const qint64 last = store.bumpSyncVersion(accountId, count).version;
            qint64 version = last - count;
            if (unshared.total() > 0) {
                const qint64 moved = store.moveUnsharedSyncRecords(guestId, accountId, version + 1);
                if (moved != unshared.total()) {
                    throw StoreError(QStringLiteral("linking guest %1: moved %2 records, counted %3")
                                         .arg(guestId).arg(moved).arg(unshared.total()));
                }
                version += moved;
            }
            for (SyncRecord &record : writes) {
                record.version = ++version;
                store.putSyncRecord(accountId, record);
            }
            // The account's usage, counted afresh (links are rare): the quota never fails a
            // link, so the account may end above it; then only pushes that shrink pass.
            store.recountSyncUserBytes(accountId);
        }

        // The guest's client marks travel too: a push the guest's device retries after the
        // link is still recognised as applied.
        for (const auto &[clientId, lastMid] : store.syncClientMarks(guestId)) {
            if (lastMid > store.syncClientMark(accountId, clientId)) {
                store.setSyncClientMark(accountId, clientId, lastMid);
                ++result.clients;
            }
        }
        store.deleteSyncData(guestId);   // the shared keys' rows, marks and counter
    });
    return result;
}

QJsonObject SyncService::changeJson(const SyncRecord &record)
{
    return QJsonObject{
        {QStringLiteral("collection"), record.collection},
        {QStringLiteral("id"), record.recordId},
        {QStringLiteral("version"), record.version},
        {QStringLiteral("deleted"), record.deleted},
        {QStringLiteral("data"), record.deleted ? QJsonValue(QJsonValue::Null) : QJsonValue(parseObject(record.data))},
        {QStringLiteral("updatedAt"), isoTimestamp(record.updatedAt)},
    };
}

} // namespace Kernia::Server
