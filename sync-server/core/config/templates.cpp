#include "templates.h"

#include "crypto/crypto.h"

#include <QRegularExpression>
#include <QUuid>

namespace Kernia::Server {

namespace {

const QRegularExpression &placeholderPattern()
{
    static const QRegularExpression pattern(QStringLiteral(R"(\{([^{}]*)\})"));
    return pattern;
}

const QString kLowerAlphanumerics = QStringLiteral("abcdefghijklmnopqrstuvwxyz0123456789");

// Expansion of one placeholder body ("id", "random:6", "uuid"), or nullopt if unknown.
std::optional<QString> expandPlaceholder(const QString &name)
{
    if (name == QLatin1String("id"))
        return Crypto::randomString(32, kLowerAlphanumerics);
    if (name == QLatin1String("uuid"))
        return QUuid::createUuid().toString(QUuid::WithoutBraces);
    if (name.startsWith(QLatin1String("random:"))) {
        bool ok = false;
        const int length = name.mid(7).toInt(&ok);
        if (ok && length >= 1 && length <= 64)
            return Crypto::randomString(length, kLowerAlphanumerics);
    }
    return std::nullopt;
}

} // namespace

std::optional<QString> validateTemplate(const QString &text, QString *error)
{
    auto matches = placeholderPattern().globalMatch(text);
    while (matches.hasNext()) {
        const QString name = matches.next().captured(1);
        if (!expandPlaceholder(name)) {
            if (error)
                *error = QStringLiteral("unknown placeholder {%1} in template \"%2\" "
                                        "(use {id}, {uuid} or {random:N})").arg(name, text);
            return std::nullopt;
        }
    }
    return text;
}

QString expandTemplate(const QString &text)
{
    QString result;
    qsizetype last = 0;
    auto matches = placeholderPattern().globalMatch(text);
    while (matches.hasNext()) {
        const QRegularExpressionMatch match = matches.next();
        result += text.mid(last, match.capturedStart() - last);
        result += expandPlaceholder(match.captured(1)).value_or(match.captured(0));
        last = match.capturedEnd();
    }
    result += text.mid(last);
    return result;
}

} // namespace Kernia::Server
