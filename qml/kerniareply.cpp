#include "kerniareply.h"

#include <QtCore/QMetaEnum>
#include <QtQml/QQmlEngine>

KerniaReply::KerniaReply(const QString &operation) : m_operation(operation)
{
    // Ours while pending: the collector must not take a reply whose handler has yet to
    // run, even if no script refers to it. No parent either: it outlives its KerniaClient.
    QQmlEngine::setObjectOwnership(this, QQmlEngine::CppOwnership);
}

QVariantMap KerniaReply::error() const
{
    return errorToMap(m_error);
}

void KerniaReply::complete(const Kernia::Error &error)
{
    if (m_done)
        return;
    m_error = error;
    m_done = true;
    // From now on QML owns it: collected when no script refers to it any more.
    QQmlEngine::setObjectOwnership(this, QQmlEngine::JavaScriptOwnership);
    Q_EMIT completed();
    // It fires once. A handler that refers to its reply (the documented pattern) is held
    // by the connection and holds the reply: a cycle the collector cannot see through.
    disconnect(this, &KerniaReply::completed, nullptr, nullptr);
}

QString KerniaReply::kindName(Kernia::Error::Kind kind)
{
    return QString::fromLatin1(QMetaEnum::fromType<Kernia::Error::Kind>().valueToKey(int(kind)));
}

QVariantMap KerniaReply::errorToMap(const Kernia::Error &error)
{
    return QVariantMap{
        { QStringLiteral("isError"), error.isError() },
        { QStringLiteral("kind"), kindName(error.kind()) },
        { QStringLiteral("code"), error.code() },
        { QStringLiteral("message"), error.message() },
        { QStringLiteral("httpStatus"), error.httpStatus() },
        { QStringLiteral("isTransient"), error.isTransient() },
    };
}
