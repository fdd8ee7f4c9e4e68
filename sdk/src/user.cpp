#include <Kernia/user.h>

#include <QtCore/QDebug>

namespace Kernia {

class UserData : public QSharedData
{
public:
    bool valid = false;
    QString id;
    QString localId;
    QString name;
    QString email;
    bool emailVerified = false;
    QString image;
    QString username;
    QString displayUsername;
    bool anonymous = false;
    QDateTime createdAt;
    QDateTime updatedAt;
};

User::User() : d(new UserData) { }
User::User(const User &other) = default;
User::User(User &&other) noexcept = default;
User &User::operator=(const User &other) = default;
User &User::operator=(User &&other) noexcept = default;
User::~User() = default;

namespace {
QString stringField(const QJsonObject &json, QLatin1String key)
{
    const QJsonValue v = json.value(key);
    return v.isString() ? v.toString() : QString();
}
QDateTime dateField(const QJsonObject &json, QLatin1String key)
{
    const QString s = stringField(json, key);
    return s.isEmpty() ? QDateTime() : QDateTime::fromString(s, Qt::ISODateWithMs);
}
QJsonValue orNull(const QString &s)
{
    return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s);
}
QJsonValue orNull(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue(QJsonValue::Null);
}
} // namespace

User User::fromJson(const QJsonObject &json, const QString &localId)
{
    User u;
    u.d->valid = true;
    u.d->id = stringField(json, QLatin1String("id"));
    u.d->localId = localId.isEmpty() ? stringField(json, QLatin1String("localId")) : localId;
    u.d->name = stringField(json, QLatin1String("name"));
    u.d->email = stringField(json, QLatin1String("email"));
    u.d->emailVerified = json.value(QLatin1String("emailVerified")).toBool();
    u.d->image = stringField(json, QLatin1String("image"));
    u.d->username = stringField(json, QLatin1String("username"));
    u.d->displayUsername = stringField(json, QLatin1String("displayUsername"));
    u.d->anonymous = json.value(QLatin1String("isAnonymous")).toBool();
    u.d->createdAt = dateField(json, QLatin1String("createdAt"));
    u.d->updatedAt = dateField(json, QLatin1String("updatedAt"));
    return u;
}

QJsonObject User::toJson() const
{
    if (!d->valid)
        return {};
    return QJsonObject{
        { QLatin1String("id"), orNull(d->id) },
        { QLatin1String("localId"), orNull(d->localId) },
        { QLatin1String("name"), d->name },
        { QLatin1String("email"), orNull(d->email) },
        { QLatin1String("emailVerified"), d->emailVerified },
        { QLatin1String("image"), orNull(d->image) },
        { QLatin1String("username"), orNull(d->username) },
        { QLatin1String("displayUsername"), orNull(d->displayUsername) },
        { QLatin1String("isAnonymous"), d->anonymous },
        { QLatin1String("createdAt"), orNull(d->createdAt) },
        { QLatin1String("updatedAt"), orNull(d->updatedAt) },
    };
}

bool User::isValid() const { return d->valid; }
QString User::id() const { return d->id; }
QString User::localId() const { return d->localId; }
QString User::name() const { return d->name; }
QString User::email() const { return d->email; }
bool User::emailVerified() const { return d->emailVerified; }
QString User::image() const { return d->image; }
QString User::username() const { return d->username; }
QString User::displayUsername() const { return d->displayUsername; }
bool User::isAnonymous() const { return d->anonymous; }
bool User::isLocalOnly() const { return d->valid && d->id.isEmpty(); }
QDateTime User::createdAt() const { return d->createdAt; }
QDateTime User::updatedAt() const { return d->updatedAt; }

void User::setId(const QString &id) { d->valid = true; d->id = id; }
void User::setLocalId(const QString &localId) { d->valid = true; d->localId = localId; }
void User::setName(const QString &name) { d->valid = true; d->name = name; }
void User::setEmail(const QString &email) { d->valid = true; d->email = email; }
void User::setEmailVerified(bool verified) { d->valid = true; d->emailVerified = verified; }
void User::setImage(const QString &image) { d->valid = true; d->image = image; }
void User::setUsername(const QString &username) { d->valid = true; d->username = username; }
void User::setDisplayUsername(const QString &name) { d->valid = true; d->displayUsername = name; }
void User::setAnonymous(bool anonymous) { d->valid = true; d->anonymous = anonymous; }
void User::setCreatedAt(const QDateTime &at) { d->valid = true; d->createdAt = at; }
void User::setUpdatedAt(const QDateTime &at) { d->valid = true; d->updatedAt = at; }

bool User::operator==(const User &other) const
{
    return d == other.d || (d->valid == other.d->valid && toJson() == other.toJson());
}

QDebug operator<<(QDebug debug, const User &user)
{
    QDebugStateSaver saver(debug);
    if (!user.isValid())
        debug.nospace() << "Kernia::User(none)";
    else
        debug.nospace() << "Kernia::User(id=" << user.id() << ", localId=" << user.localId()
                        << ", email=" << user.email() << ", anonymous=" << user.isAnonymous() << ')';
    return debug;
}

} // namespace Kernia
