// KerniaReply — the outcome of one KerniaClient operation, for QML (which cannot
// await a QFuture).
//
//   const reply = client.signUpEmail(email, password, name)
//   reply.completed.connect(function() {
//       if (!reply.ok) errorLabel.text = reply.error.message
//   })
//
// The reply is C++-owned until it completes, then the QML engine's. It completes even if
// its KerniaClient is destroyed first (CANCELLED when its Kernia::Client went with it).
// completed fires once; its connections are dropped right after, so a handler that
// refers to its reply does not keep it alive.
#pragma once

#include <QtCore/QObject>
#include <QtCore/QVariantMap>
#include <QtQml/qqmlregistration.h>

#include <Kernia/Error>

class KerniaReply : public QObject
{
    Q_OBJECT
    QML_NAMED_ELEMENT(KerniaReply)
    QML_UNCREATABLE("KerniaReply objects are returned by KerniaClient operations")
    Q_PROPERTY(bool done READ isDone NOTIFY completed)
    Q_PROPERTY(bool ok READ isOk NOTIFY completed)
    Q_PROPERTY(QVariantMap error READ error NOTIFY completed)
    Q_PROPERTY(QString operation READ operation CONSTANT)

public:
    explicit KerniaReply(const QString &operation);

    bool isDone() const { return m_done; }
    bool isOk() const { return m_done && !m_error.isError(); }
    QVariantMap error() const;
    QString operation() const { return m_operation; }

    void complete(const Kernia::Error &error);

    static QVariantMap errorToMap(const Kernia::Error &error);
    static QString kindName(Kernia::Error::Kind kind);   // "InvalidArgument"

Q_SIGNALS:
    void completed();

private:
    QString m_operation;
    Kernia::Error m_error;
    bool m_done = false;
};
