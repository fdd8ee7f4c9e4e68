// Request-body schemas with Better Auth's (zod's) error texts:
// 400 VALIDATION_ERROR "[body.email] Invalid email address; [body.password] ...".
#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>

namespace Kernia::Server {

bool isValidEmail(const QString &email);

class BodySchema
{
public:
    enum class Presence { Required, Optional };

    BodySchema &string(const QString &field, Presence presence = Presence::Required);
    BodySchema &nonEmptyString(const QString &field, Presence presence = Presence::Required);
    BodySchema &email(const QString &field, Presence presence = Presence::Required);
    BodySchema &boolean(const QString &field, Presence presence = Presence::Optional);
    BodySchema &nullableString(const QString &field, Presence presence = Presence::Optional);

    // Throws ApiError(400, VALIDATION_ERROR) listing every issue in field order.
    void validate(const QJsonObject &body) const;

private:
    enum class Kind { String, NonEmptyString, Email, Boolean, NullableString };
    struct Field { QString name; Kind kind; Presence presence; };
    QList<Field> m_fields;
};

// "[body] Invalid input: expected object, received undefined" and friends.
[[noreturn]] void throwValidationError(const QStringList &issues);
QString jsTypeName(const QJsonValue &value);

} // namespace Kernia::Server
