#include "response.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace Kernia::Server {

Response Response::json(const QJsonValue &value, int status)
{
    switch (value.type()) {
    case QJsonValue::Object:
        return jsonText(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact), status);
    case QJsonValue::Array:
        return jsonText(QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact), status);
    case QJsonValue::Bool:
        return jsonText(value.toBool() ? "true" : "false", status);
    default: // Better Auth answers a literal `null` (get-session without a session)
        return jsonText("null", status);
    }
}

Response Response::jsonText(const QByteArray &json, int status)
{
    Response response;
    response.m_status = status;
    response.m_contentType = "application/json";
    response.m_body = json;
    return response;
}

Response Response::empty(int status)
{
    Response response;
    response.m_status = status;
    return response;
}

Response Response::redirect(const QByteArray &location)
{
    Response response;
    response.m_status = 302;
    response.m_contentType = "application/json";
    response.setHeader("location", location);
    return response;
}

Response Response::html(const QByteArray &page, int status)
{
    Response response;
    response.m_status = status;
    // Better Auth's exact type (its /error page); pages declare <meta charset="utf-8">
    response.m_contentType = "text/html";
    response.m_body = page;
    return response;
}

void Response::setHeader(const QByteArray &name, const QByteArray &value)
{
    const QByteArray lower = name.toLower();
    m_headers.removeIf([&](const auto &entry) { return entry.first == lower; });
    m_headers.append({lower, value});
}

void Response::addHeader(const QByteArray &name, const QByteArray &value)
{
    m_headers.append({name.toLower(), value});
}

QByteArray Response::header(QByteArrayView name) const
{
    for (const auto &[key, value] : m_headers) {
        if (name.compare(key, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

void Response::setCookie(const QByteArray &name, const QByteArray &value,
                         const Cookies::CookieAttributes &attributes)
{
    m_cookies.removeIf([&](const ResponseCookie &c) { return c.name == name; });
    m_cookies.append({name, value, attributes});
}

std::optional<ResponseCookie> Response::cookie(QByteArrayView name) const
{
    for (const ResponseCookie &c : m_cookies) {
        if (c.name == name)
            return c;
    }
    return std::nullopt;
}

QList<QPair<QByteArray, QByteArray>> Response::wireHeaders() const
{
    QList<QPair<QByteArray, QByteArray>> lines = m_headers;
    if (!m_contentType.isEmpty())
        lines.append({"content-type", m_contentType});
    for (const ResponseCookie &c : m_cookies)
        lines.append({"set-cookie", Cookies::serializeSetCookie(c.name, c.value, c.attributes)});
    return lines;
}

} // namespace Kernia::Server
