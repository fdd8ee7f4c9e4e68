#include <Kernia/collection.h>

#include "client_p.h"

#include <QtCore/QPointer>

#include <algorithm>

namespace Kernia {

namespace {
Record toRecord(const LocalRecord &r)
{
    Record out;
    out.id = r.id;
    out.data = r.data;
    out.updatedAt = r.updatedAt;
    out.pending = r.pending;
    return out;
}

// The store lists records by id in SQLite's order: the UTF-8 bytes, which is code point
// order. QString's operator< compares UTF-16 units instead, which sorts U+E000–U+FFFF
// after the surrogates of U+10000 and above. Comparing the first differing units with the
// surrogates moved to the top (ICU's "code point order" fix-up) gives code point order.
bool idLess(QStringView a, QStringView b)
{
    const qsizetype n = qMin(a.size(), b.size());
    for (qsizetype i = 0; i < n; ++i) {
        char16_t x = a[i].unicode();
        char16_t y = b[i].unicode();
        if (x == y)
            continue;
        if (x >= 0xD800 && y >= 0xD800) {
            x = char16_t(x >= 0xE000 ? x - 0x800 : x + 0x2000);
            y = char16_t(y >= 0xE000 ? y - 0x800 : y + 0x2000);
        }
        return x < y;
    }
    return a.size() < b.size();
}
} // namespace

// ---------------------------------------------------------------------------------
// Collection
// ---------------------------------------------------------------------------------

class CollectionPrivate
{
public:
    ClientPrivate *client;
    QString name;
};

Collection::Collection(ClientPrivate *client, const QString &name, QObject *parent)
    : QObject(parent), d(new CollectionPrivate{ client, name })
{
}

Collection::~Collection() = default;

QString Collection::name() const { return d->name; }

int Collection::count() const
{
    return d->client->store->recordCount(d->client->owner(), d->name);
}

Error Collection::put(const QString &id, const QJsonObject &data)
{
    return d->client->writeRecord(d->name, QStringLiteral("put"), id, data);
}

Error Collection::patch(const QString &id, const QJsonObject &fields)
{
    return d->client->writeRecord(d->name, QStringLiteral("patch"), id, fields);
}

Error Collection::remove(const QString &id)
{
    return d->client->writeRecord(d->name, QStringLiteral("delete"), id, QJsonObject());
}

std::optional<Record> Collection::get(const QString &id) const
{
    const QString owner = d->client->owner();
    if (owner.isEmpty())
        return std::nullopt;
    const std::optional<LocalRecord> r = d->client->store->record(owner, d->name, id);
    if (!r)
        return std::nullopt;
    return toRecord(*r);
}

QList<Record> Collection::list() const
{
    QList<Record> out;
    const QString owner = d->client->owner();
    if (owner.isEmpty())
        return out;
    const QList<LocalRecord> rows = d->client->store->records(owner, d->name);
    out.reserve(rows.size());
    for (const LocalRecord &r : rows)
        out.append(toRecord(r));
    return out;
}

QVariantMap Collection::value(const QString &id) const
{
    const std::optional<Record> r = get(id);
    return r ? r->data.toVariantMap() : QVariantMap();
}

bool Collection::contains(const QString &id) const
{
    return get(id).has_value();
}

// ---------------------------------------------------------------------------------
// CollectionModel
// ---------------------------------------------------------------------------------

class CollectionModelPrivate
{
public:
    QPointer<Collection> collection;
    QStringList fields;
    QList<Record> rows;   // ordered by id like Collection::list(), i.e. by idLess()
    QList<QMetaObject::Connection> connections;

    qsizetype lowerBound(const QString &id) const
    {
        const auto it = std::lower_bound(rows.cbegin(), rows.cend(), id,
                                         [](const Record &r, const QString &key) { return idLess(r.id, key); });
        return it - rows.cbegin();
    }
};

CollectionModel::CollectionModel(QObject *parent) : QAbstractListModel(parent), d(new CollectionModelPrivate) { }

CollectionModel::~CollectionModel()
{
    for (const auto &c : std::as_const(d->connections))
        disconnect(c);
}

Collection *CollectionModel::collection() const { return d->collection; }

void CollectionModel::setCollection(Collection *collection)
{
    if (d->collection == collection)
        return;
    for (const auto &c : std::as_const(d->connections))
        disconnect(c);
    d->connections.clear();
    d->collection = collection;
    if (collection) {
        d->connections << connect(collection, &Collection::recordChanged, this, &CollectionModel::onRecordChanged);
        d->connections << connect(collection, &Collection::reset, this, &CollectionModel::reload);
        d->connections << connect(collection, &QObject::destroyed, this, [this] {
            d->connections.clear();
            reload();
            Q_EMIT collectionChanged();
        });
    }
    reload();
    Q_EMIT collectionChanged();
}

QStringList CollectionModel::fields() const { return d->fields; }

void CollectionModel::setFields(const QStringList &fields)
{
    if (d->fields == fields)
        return;
    // Role names change: views must re-read them, which only a reset guarantees.
    beginResetModel();
    d->fields = fields;
    endResetModel();
    Q_EMIT fieldsChanged();
}

Record CollectionModel::recordAt(int row) const
{
    return row >= 0 && row < d->rows.size() ? d->rows.at(row) : Record();
}

void CollectionModel::reload()
{
    const int before = int(d->rows.size());
    beginResetModel();
    d->rows = d->collection ? d->collection->list() : QList<Record>();
    endResetModel();
    if (int(d->rows.size()) != before)
        Q_EMIT countChanged();
}

void CollectionModel::onRecordChanged(const QString &id)
{
    if (!d->collection)
        return;
    const std::optional<Record> record = d->collection->get(id);
    const qsizetype pos = d->lowerBound(id);
    const bool present = pos < d->rows.size() && d->rows.at(pos).id == id;
    if (record && present) {
        if (d->rows.at(pos) != *record) {
            d->rows[pos] = *record;
            const QModelIndex i = index(int(pos));
            Q_EMIT dataChanged(i, i);
        }
    } else if (record) {
        beginInsertRows(QModelIndex(), int(pos), int(pos));
        d->rows.insert(pos, *record);
        endInsertRows();
        Q_EMIT countChanged();
    } else if (present) {
        beginRemoveRows(QModelIndex(), int(pos), int(pos));
        d->rows.removeAt(pos);
        endRemoveRows();
        Q_EMIT countChanged();
    }
}

int CollectionModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->rows.size());
}

QVariant CollectionModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() < 0 || index.row() >= d->rows.size())
        return QVariant();
    const Record &r = d->rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case IdRole:
        return r.id;
    case DataRole:
        return r.data.toVariantMap();
    case PendingRole:
        return r.pending;
    case UpdatedAtRole:
        return r.updatedAt;
    default:
        break;
    }
    const int field = role - FirstFieldRole;
    if (field >= 0 && field < d->fields.size()) {
        const QJsonValue v = r.data.value(d->fields.at(field));
        return v.isUndefined() ? QVariant() : v.toVariant();
    }
    return QVariant();
}

QHash<int, QByteArray> CollectionModel::roleNames() const
{
    QHash<int, QByteArray> names{ { IdRole, QByteArrayLiteral("id") },
                                  { DataRole, QByteArrayLiteral("data") },
                                  { PendingRole, QByteArrayLiteral("pending") },
                                  { UpdatedAtRole, QByteArrayLiteral("updatedAt") } };
    for (int i = 0; i < d->fields.size(); ++i) {
        const QByteArray name = d->fields.at(i).toUtf8();
        // A field named like a built-in role is reachable through `data` only.
        if (!name.isEmpty() && name != "id" && name != "data" && name != "pending" && name != "updatedAt")
            names.insert(FirstFieldRole + i, name);
    }
    return names;
}

} // namespace Kernia
