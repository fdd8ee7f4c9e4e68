// Kernia SDK internal: JSON over HTTP to the auth server as a native bearer client
// (Authorization: Bearer <set-auth-token>, no cookies, no Origin header). Not API.
#pragma once

#include <Kernia/error.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QObject>
#include <QtCore/QUrl>
#include <QtCore/QUrlQuery>

#include <functional>

QT_BEGIN_NAMESPACE
class QNetworkAccessManager;
class QNetworkReply;
QT_END_NAMESPACE

namespace Kernia {

struct HttpResult
{
    int status = 0;                // HTTP status, 0 when no HTTP answer arrived
    QJsonValue body{ QJsonValue::Undefined };   // parsed JSON; Null only for a literal "null"
    QByteArray setAuthToken;       // the set-auth-token header (signed session token)
    // kernia-server's kernia-linked-guest header on a sign-in from a guest: the id of the
    // guest it linked, or "none" when it did not link it. Empty: no such header (a plain
    // Better Auth server never sends it).
    QByteArray linkedGuest;
    QUrl location;                 // Location of a 3xx answer
    // Classified failure; none for a 2xx with a JSON body (an empty one is BadResponse).
    // A 3xx is Rejected with the server's code for its own error redirect (?error=CODE),
    // otherwise BadResponse.
    Error error;
};

class Transport : public QObject
{
    Q_OBJECT

public:
    using Callback = std::function<void(const HttpResult &)>;

    Transport(const QUrl &serverUrl, const QString &basePath, int timeoutMs, QObject *parent = nullptr);
    ~Transport() override;

    // Callbacks run on this object's thread; they are dropped when the transport is destroyed.
    void get(const QString &path, const QUrlQuery &query, const QByteArray &bearer, Callback callback);
    void post(const QString &path, const QJsonObject &body, const QByteArray &bearer, Callback callback);

    QUrl endpoint(const QString &path, const QUrlQuery &query = QUrlQuery()) const;

    // The same, for a path from the server root (e.g. /api/sync/push) instead of basePath.
    void getAt(const QString &absolutePath, const QUrlQuery &query, const QByteArray &bearer, Callback callback);
    void postAt(const QString &absolutePath, const QJsonObject &body, const QByteArray &bearer, Callback callback);
    QUrl endpointAt(const QString &absolutePath, const QUrlQuery &query = QUrlQuery()) const;

Q_SIGNALS:
    // The server answered with HTTP (any status, with a body the protocol allows).
    void serverAnswered();
    // No answer at all: a network error or a timeout.
    void serverUnreachable(const Kernia::Error &error);
    // Something answered, but not as the server would (BadResponse: not HTTP, not JSON, a
    // foreign redirect). Maybe a captive portal in place of the server, maybe a proxy that
    // breaks one endpoint: this alone says nothing about reachability.
    void badAnswer(const Kernia::Error &error);

private:
    void send(const QByteArray &verb, const QUrl &url, const QByteArray &body, const QByteArray &bearer,
              Callback callback);
    void finish(QNetworkReply *reply);
    HttpResult classify(QNetworkReply *reply) const;

    QNetworkAccessManager *m_nam;
    QUrl m_serverUrl;
    QString m_basePath;
    int m_timeoutMs;
    QHash<QNetworkReply *, Callback> m_pending;
};

} // namespace Kernia
