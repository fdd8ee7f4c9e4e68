// Kernia::User — the person the client is acting for: a guest or an account.
//
//   const Kernia::User user = client.user();
//   if (user.isAnonymous())
//       label->setText(QObject::tr("Guest"));
//   else
//       label->setText(user.displayUsername().isEmpty() ? user.email() : user.displayUsername());
//
// A guest that has not reached the server yet (first launch offline) has an empty
// id() and isLocalOnly() == true; its localId() is stable on this device and is
// what local data is attached to. Once the server has answered, id() is the
// server's user id.
#pragma once

#include <Kernia/kernia_global.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QMetaType>
#include <QtCore/QObject>
#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>

namespace Kernia {

class UserData;

class KERNIA_SDK_EXPORT User
{
    Q_GADGET
    Q_PROPERTY(bool isValid READ isValid CONSTANT)
    Q_PROPERTY(QString id READ id CONSTANT)
    Q_PROPERTY(QString localId READ localId CONSTANT)
    Q_PROPERTY(QString name READ name CONSTANT)
    Q_PROPERTY(QString email READ email CONSTANT)
    Q_PROPERTY(bool emailVerified READ emailVerified CONSTANT)
    Q_PROPERTY(QString image READ image CONSTANT)
    Q_PROPERTY(QString username READ username CONSTANT)
    Q_PROPERTY(QString displayUsername READ displayUsername CONSTANT)
    Q_PROPERTY(bool isAnonymous READ isAnonymous CONSTANT)
    Q_PROPERTY(bool isLocalOnly READ isLocalOnly CONSTANT)
    Q_PROPERTY(QDateTime createdAt READ createdAt CONSTANT)
    Q_PROPERTY(QDateTime updatedAt READ updatedAt CONSTANT)

public:
    User();   // invalid: nobody
    User(const User &other);
    User(User &&other) noexcept;
    User &operator=(const User &other);
    User &operator=(User &&other) noexcept;
    ~User();

    // A server user object as sent by the Better Auth protocol ({id, name, email, ...}).
    static User fromJson(const QJsonObject &json, const QString &localId = QString());
    QJsonObject toJson() const;   // the server fields plus "localId"

    bool isValid() const;   // false for a default-constructed User (signed out)

    QString id() const;
    QString localId() const;
    QString name() const;
    QString email() const;
    bool emailVerified() const;
    QString image() const;
    QString username() const;
    QString displayUsername() const;
    bool isAnonymous() const;
    bool isLocalOnly() const;   // a guest the server has not seen yet
    QDateTime createdAt() const;
    QDateTime updatedAt() const;

    void setId(const QString &id);
    void setLocalId(const QString &localId);
    void setName(const QString &name);
    void setEmail(const QString &email);
    void setEmailVerified(bool verified);
    void setImage(const QString &image);
    void setUsername(const QString &username);
    void setDisplayUsername(const QString &displayUsername);
    void setAnonymous(bool anonymous);
    void setCreatedAt(const QDateTime &at);
    void setUpdatedAt(const QDateTime &at);

    bool operator==(const User &other) const;
    bool operator!=(const User &other) const { return !(*this == other); }

    void swap(User &other) noexcept { d.swap(other.d); }

private:
    QSharedDataPointer<UserData> d;
};

KERNIA_SDK_EXPORT QDebug operator<<(QDebug debug, const User &user);

} // namespace Kernia

Q_DECLARE_SHARED(Kernia::User)
Q_DECLARE_METATYPE(Kernia::User)
