// Kernia::Collection — a named set of JSON records of the current user, stored locally
// and synced with the server in the background (docs/sync-protocol.md).
//
//   Kernia::Collection *cart = client->collection(QStringLiteral("cart"));
//   cart->put(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("qty"), 2 } });   // works offline
//   cart->patch(QStringLiteral("apple"), QJsonObject{ { QStringLiteral("note"), QStringLiteral("ripe") } });
//   cart->remove(QStringLiteral("pear"));
//   for (const Kernia::Record &r : cart->list())
//       qInfo() << r.id << r.data << (r.pending ? "(not synced yet)" : "");
//
// Writes go to the local SQLite database at once — the record and its outbox entry in
// one transaction — and are pushed by the client when it has a server session; changes
// from the user's other devices arrive by pull. A collection always shows the data of the
// current user (guest or account): when the user changes, reset() is emitted.
//
// Kernia::CollectionModel presents a collection as a QAbstractListModel (QML:
// `CollectionModel { collection: client.collection("cart"); fields: ["name", "qty"] }`).
#pragma once

#include <Kernia/error.h>
#include <Kernia/kernia_global.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QScopedPointer>
#include <QtCore/QStringList>
#include <QtCore/QVariantMap>

#include <optional>

namespace Kernia {

class Client;
class ClientPrivate;
class CollectionPrivate;
class CollectionModelPrivate;

struct KERNIA_SDK_EXPORT Record
{
    Q_GADGET
    Q_PROPERTY(QString id MEMBER id)
    Q_PROPERTY(QJsonObject data MEMBER data)
    Q_PROPERTY(QDateTime updatedAt MEMBER updatedAt)
    Q_PROPERTY(bool pending MEMBER pending)

public:
    QString id;
    QJsonObject data;
    QDateTime updatedAt;      // last local write, or the server's write time once pulled
    bool pending = false;     // a local change not yet acknowledged by the server

    bool operator==(const Record &other) const
    {
        return id == other.id && data == other.data && updatedAt == other.updatedAt && pending == other.pending;
    }
    bool operator!=(const Record &other) const { return !(*this == other); }
};

class KERNIA_SDK_EXPORT Collection : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QString name READ name CONSTANT)
    Q_PROPERTY(int count READ count NOTIFY changed)

public:
    ~Collection() override;

    QString name() const;
    int count() const;   // live records of the current user

    // Local writes: the record and its outbox entry are written in ONE SQLite transaction,
    // work offline, and return at once; sync happens in the background. Errors:
    // INVALID_ARGUMENT (bad collection name / id, record above 64 KiB), INVALID_STATE
    // (nobody signed in), LOCAL_STORE_ERROR.
    Q_INVOKABLE Kernia::Error put(const QString &id, const QJsonObject &data);
    // Top-level merge: each field is set, a field whose value is null is removed.
    Q_INVOKABLE Kernia::Error patch(const QString &id, const QJsonObject &fields);
    Q_INVOKABLE Kernia::Error remove(const QString &id);

    std::optional<Record> get(const QString &id) const;
    QList<Record> list() const;   // ordered by id, by code point (UTF-8 byte order)
    Q_INVOKABLE QVariantMap value(const QString &id) const;   // for QML: data as a map, empty if absent
    Q_INVOKABLE bool contains(const QString &id) const;

Q_SIGNALS:
    void recordChanged(const QString &id);   // local write or pulled from the server
    void changed();
    // The whole content was replaced (another user became current, data adopted or
    // discarded); followed by changed().
    void reset();

private:
    friend class Client;
    friend class ClientPrivate;
    Collection(ClientPrivate *client, const QString &name, QObject *parent);
    Q_DISABLE_COPY(Collection)
    QScopedPointer<CollectionPrivate> d;
};

class KERNIA_SDK_EXPORT CollectionModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(Kernia::Collection *collection READ collection WRITE setCollection NOTIFY collectionChanged)
    // One extra role per top-level field name (value of that field, or undefined).
    Q_PROPERTY(QStringList fields READ fields WRITE setFields NOTIFY fieldsChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

public:
    enum Role {
        IdRole = Qt::UserRole + 1,   // "id"
        DataRole,                    // "data" (QVariantMap)
        PendingRole,                 // "pending"
        UpdatedAtRole,               // "updatedAt"
        FirstFieldRole = Qt::UserRole + 100   // fields()[i] is FirstFieldRole + i
    };
    Q_ENUM(Role)

    explicit CollectionModel(QObject *parent = nullptr);
    ~CollectionModel() override;

    Collection *collection() const;
    void setCollection(Collection *collection);
    QStringList fields() const;
    void setFields(const QStringList &fields);

    Q_INVOKABLE Kernia::Record recordAt(int row) const;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

Q_SIGNALS:
    void collectionChanged();
    void fieldsChanged();
    void countChanged();

private:
    void reload();
    void onRecordChanged(const QString &id);
    QScopedPointer<CollectionModelPrivate> d;
};

} // namespace Kernia

Q_DECLARE_METATYPE(Kernia::Record)
