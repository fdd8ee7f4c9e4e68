#include "transport_p.h"

#include "logging_p.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonParseError>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>

namespace Kernia {

namespace {
QString statusCodeName(int status)
{
    switch (status) {
    case 400: return QStringLiteral("BAD_REQUEST");
    case 401: return QStringLiteral("UNAUTHORIZED");
    case 403: return QStringLiteral("FORBIDDEN");
    case 404: return QStringLiteral("NOT_FOUND");
    case 405: return QStringLiteral("METHOD_NOT_ALLOWED");
    case 408: return QStringLiteral("REQUEST_TIMEOUT");
    case 413: return QStringLiteral("PAYLOAD_TOO_LARGE");
    case 415: return QStringLiteral("UNSUPPORTED_MEDIA_TYPE");
    case 422: return QStringLiteral("UNPROCESSABLE_ENTITY");
    case 429: return QStringLiteral("TOO_MANY_REQUESTS");
    default: return status >= 500 ? QString::fromLatin1(Error::ServerErrorCode) : QStringLiteral("HTTP_%1").arg(status);
    }
}
} // namespace

Transport::Transport(const QUrl &serverUrl, const QString &basePath, int timeoutMs, QObject *parent)
    : QObject(parent),
      m_nam(new QNetworkAccessManager(this)),
      m_serverUrl(serverUrl),
      m_basePath(basePath),
      m_timeoutMs(timeoutMs)
{
    // A native client: no cookie jar, no automatic redirects, no proxy surprises.
    m_nam->setCookieJar(nullptr);
    m_nam->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
}

Transport::~Transport()
{
    const auto replies = m_pending.keys();
    m_pending.clear();
    for (QNetworkReply *reply : replies) {
        reply->disconnect(this);
        reply->abort();
        delete reply;
    }
}

QUrl Transport::endpoint(const QString &path, const QUrlQuery &query) const
{
    QString base = m_basePath;
    if (base.endsWith(QLatin1Char('/')))
        base.chop(1);
    return endpointAt(base + path, query);
}

QUrl Transport::endpointAt(const QString &absolutePath, const QUrlQuery &query) const
{
    QUrl url = m_serverUrl;
    QString prefix = url.path();
    if (prefix.endsWith(QLatin1Char('/')))
        prefix.chop(1);
    url.setPath(prefix + absolutePath);
    if (!query.isEmpty())
        url.setQuery(query);
    return url;
}

void Transport::getAt(const QString &absolutePath, const QUrlQuery &query, const QByteArray &bearer,
                      Callback callback)
{
    send("GET", endpointAt(absolutePath, query), QByteArray(), bearer, std::move(callback));
}

void Transport::postAt(const QString &absolutePath, const QJsonObject &body, const QByteArray &bearer,
                       Callback callback)
{
    send("POST", endpointAt(absolutePath), QJsonDocument(body).toJson(QJsonDocument::Compact), bearer,
         std::move(callback));
}

void Transport::get(const QString &path, const QUrlQuery &query, const QByteArray &bearer, Callback callback)
{
    send("GET", endpoint(path, query), QByteArray(), bearer, std::move(callback));
}

void Transport::post(const QString &path, const QJsonObject &body, const QByteArray &bearer, Callback callback)
{
    send("POST", endpoint(path), QJsonDocument(body).toJson(QJsonDocument::Compact), bearer, std::move(callback));
}

void Transport::send(const QByteArray &verb, const QUrl &url, const QByteArray &body, const QByteArray &bearer,
                     Callback callback)
{
    QNetworkRequest request(url);
    request.setTransferTimeout(m_timeoutMs);
    request.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    request.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    request.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    request.setRawHeader("Accept", "application/json");
    request.setHeader(QNetworkRequest::UserAgentHeader, QByteArrayLiteral("KerniaSdk/" KERNIA_SDK_VERSION_STRING));
    if (!bearer.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + bearer);

    QNetworkReply *reply;
    if (verb == "POST") {
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        reply = m_nam->post(request, body);
    } else {
        reply = m_nam->get(request);
    }
    qCDebug(lcTransport) << verb << url.path() << (bearer.isEmpty() ? "" : "(bearer)");
    m_pending.insert(reply, std::move(callback));
    connect(reply, &QNetworkReply::finished, this, [this, reply] { finish(reply); });
}

void Transport::finish(QNetworkReply *reply)
{
    const auto it = m_pending.find(reply);
    if (it == m_pending.end())
        return;
    Callback callback = std::move(it.value());
    m_pending.erase(it);
    reply->deleteLater();

    const HttpResult result = classify(reply);
    if (result.error.isError())
        qCInfo(lcTransport) << reply->url().path() << "failed:" << result.error.toString();
    if (result.error.kind() == Error::Kind::BadResponse)
        Q_EMIT badAnswer(result.error);
    else if (result.status > 0)
        Q_EMIT serverAnswered();
    else if (result.error.isError())
        Q_EMIT serverUnreachable(result.error);
    if (callback)
        callback(result);
}

HttpResult Transport::classify(QNetworkReply *reply) const
{
    HttpResult result;
    const QVariant statusAttr = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    result.status = statusAttr.isValid() ? statusAttr.toInt() : 0;
    const QByteArray data = reply->readAll();

    if (result.status == 0) {
        const auto netError = reply->error();
        switch (netError) {
        case QNetworkReply::OperationCanceledError:
        case QNetworkReply::TimeoutError:
            // We only abort replies in the destructor, whose callbacks never run: this is
            // the transfer timeout.
            result.error = Error(Error::Kind::Timeout, QString(),
                                 QStringLiteral("The server did not answer within %1 ms").arg(m_timeoutMs));
            break;
        case QNetworkReply::ProtocolFailure:
        case QNetworkReply::ProtocolUnknownError:
        case QNetworkReply::ProtocolInvalidOperationError:
        case QNetworkReply::UnknownContentError:
            result.error = Error(Error::Kind::BadResponse, QString(),
                                 QStringLiteral("The server's answer is not HTTP: %1").arg(reply->errorString()));
            break;
        default:
            result.error = Error(Error::Kind::Network, QString(),
                                 QStringLiteral("Cannot reach the server: %1").arg(reply->errorString()));
            break;
        }
        return result;
    }

    result.setAuthToken = reply->rawHeader("set-auth-token").trimmed();
    result.linkedGuest = reply->rawHeader("kernia-linked-guest").trimmed();

    // Parse the body. Only a literal `null` is JSON null (get-session without a session);
    // an empty body is no JSON at all, so a 2xx with one (a proxy's empty 200) is refused
    // below rather than read as "no session".
    QString notJson;
    const QByteArray trimmed = data.trimmed();
    if (trimmed == "null") {
        result.body = QJsonValue(QJsonValue::Null);   // QJsonDocument only parses objects/arrays
    } else if (trimmed.isEmpty()) {
        notJson = QStringLiteral("the body is empty");
    } else {
        QJsonParseError parseError{};
        const QJsonDocument doc = QJsonDocument::fromJson(data, &parseError);
        if (parseError.error != QJsonParseError::NoError)
            notJson = parseError.errorString();
        else if (doc.isObject())
            result.body = doc.object();
        else
            result.body = doc.array();
    }

    if (result.status >= 300 && result.status < 400) {
        const QByteArray location = reply->rawHeader("Location");
        if (!location.isEmpty())
            result.location = reply->url().resolved(QUrl::fromEncoded(location));
        const QString code = QUrlQuery(result.location).queryItemValue(QStringLiteral("error"));
        if (!code.isEmpty()) {
            result.error = Error(Error::Kind::Rejected, code.toUpper(),
                                 QStringLiteral("The server refused the request (%1)").arg(code), result.status);
        } else {
            // The server redirects only to a callbackURL, which the SDK never asks for, or
            // with ?error= above: any other redirect comes from something in between (a
            // captive portal's login page), and the request did not reach the server.
            const QString target = result.location.isEmpty()
                    ? QStringLiteral("nowhere")
                    : result.location.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment);
            result.error = Error(Error::Kind::BadResponse, QString(),
                                 QStringLiteral("Redirected to %1 instead of an answer from the server "
                                                "(a captive portal or proxy in the way?)").arg(target),
                                 result.status);
        }
        return result;
    }

    if (result.status >= 200 && result.status < 300) {
        if (!notJson.isEmpty())
            result.error = Error(Error::Kind::BadResponse, QString(),
                                 QStringLiteral("The server's answer is not JSON: %1").arg(notJson), result.status);
        return result;
    }

    // 4xx / 5xx: {code, message} when the server sent one.
    const QJsonObject obj = result.body.toObject();
    QString code = obj.value(QLatin1String("code")).toString();
    QString message = obj.value(QLatin1String("message")).toString();
    if (code.isEmpty())
        code = statusCodeName(result.status);
    if (message.isEmpty())
        message = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
    if (message.isEmpty())
        message = QStringLiteral("HTTP %1").arg(result.status);
    Error::Kind kind = Error::Kind::Rejected;
    if (result.status >= 500 || result.status == 408 || result.status == 429)
        kind = Error::Kind::Server;
    result.error = Error(kind, code, message, result.status);
    return result;
}

} // namespace Kernia
