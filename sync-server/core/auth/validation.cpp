#include "validation.h"

#include "http/api_error.h"

#include <QRegularExpression>

namespace Kernia::Server {

bool isValidEmail(const QString &email)
{
    // zod v4's email pattern, which Better Auth's schemas use.
    static const QRegularExpression pattern(QStringLiteral(
        R"(^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+\-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$)"));
    return pattern.match(email).hasMatch();
}

QString jsTypeName(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Null: return QStringLiteral("null");
    case QJsonValue::Bool: return QStringLiteral("boolean");
    case QJsonValue::Double: return QStringLiteral("number");
    case QJsonValue::String: return QStringLiteral("string");
    case QJsonValue::Array: return QStringLiteral("array");
    case QJsonValue::Object: return QStringLiteral("object");
    case QJsonValue::Undefined: break;
    }
    return QStringLiteral("undefined");
}

void throwValidationError(const QStringList &issues)
{
    throw ApiError(400, QStringLiteral("VALIDATION_ERROR"), issues.join(QStringLiteral("; ")));
}

BodySchema &BodySchema::string(const QString &field, Presence presence)
{
    m_fields.append({field, Kind::String, presence});
    return *this;
}

BodySchema &BodySchema::nonEmptyString(const QString &field, Presence presence)
{
    m_fields.append({field, Kind::NonEmptyString, presence});
    return *this;
}

BodySchema &BodySchema::email(const QString &field, Presence presence)
{
    m_fields.append({field, Kind::Email, presence});
    return *this;
}

BodySchema &BodySchema::boolean(const QString &field, Presence presence)
{
    m_fields.append({field, Kind::Boolean, presence});
    return *this;
}

BodySchema &BodySchema::nullableString(const QString &field, Presence presence)
{
    m_fields.append({field, Kind::NullableString, presence});
    return *this;
}

void BodySchema::validate(const QJsonObject &body) const
{
    QStringList issues;
    for (const Field &field : m_fields) {
        const QJsonValue value = body.value(field.name);
        const QString where = QStringLiteral("[body.%1] ").arg(field.name);
        if (value.isUndefined()) {
            if (field.presence == Presence::Required) {
                const char *expected = field.kind == Kind::Boolean ? "boolean" : "string";
                issues << where + QStringLiteral("Invalid input: expected %1, received undefined")
                                      .arg(QLatin1String(expected));
            }
            continue;
        }
        switch (field.kind) {
        case Kind::Boolean:
            if (!value.isBool())
                issues << where + QStringLiteral("Invalid input: expected boolean, received ") + jsTypeName(value);
            break;
        case Kind::NullableString:
            if (!value.isString() && !value.isNull())
                issues << where + QStringLiteral("Invalid input: expected string, received ") + jsTypeName(value);
            break;
        case Kind::String:
        case Kind::NonEmptyString:
        case Kind::Email:
            if (!value.isString()) {
                issues << where + QStringLiteral("Invalid input: expected string, received ") + jsTypeName(value);
            } else if (field.kind == Kind::NonEmptyString && value.toString().isEmpty()) {
                issues << where + QStringLiteral("Too small: expected string to have >=1 characters");
            } else if (field.kind == Kind::Email && !isValidEmail(value.toString())) {
                issues << where + QStringLiteral("Invalid email address");
            }
            break;
        }
    }
    if (!issues.isEmpty())
        throwValidationError(issues);
}

} // namespace Kernia::Server
