// An HTTP response as a plain value. Cookies are kept structured until the response is
// written, so hooks (bearer, anonymous link) can inspect what the endpoint set.
#pragma once

#include "auth/cookies.h"

#include <QByteArray>
#include <QDeadlineTimer>
#include <QJsonValue>
#include <QList>
#include <QPair>
#include <optional>

namespace Kernia::Server {

struct ResponseCookie
{
    QByteArray name;
    QByteArray value;                 // already encoded for the wire
    Cookies::CookieAttributes attributes;
};

class Response
{
public:
    static Response json(const QJsonValue &value, int status = 200);
    static Response jsonText(const QByteArray &json, int status = 200);   // already serialised
    static Response empty(int status);
    // A 302 to `location` with an empty body. Better Auth labels it application/json (its
    // redirects are thrown API responses), so Kernia does too (transcripts 06, 07, 09).
    static Response redirect(const QByteArray &location);
    static Response html(const QByteArray &page, int status = 200);   // page must declare its charset

    int status() const { return m_status; }
    void setStatus(int status) { m_status = status; }
    const QByteArray &body() const { return m_body; }
    const QByteArray &contentType() const { return m_contentType; }

    void setHeader(const QByteArray &name, const QByteArray &value); // replaces
    void addHeader(const QByteArray &name, const QByteArray &value);
    QByteArray header(QByteArrayView name) const;
    const QList<QPair<QByteArray, QByteArray>> &headers() const { return m_headers; }

    // Queues a Set-Cookie; an earlier one with the same name is dropped first, so a
    // response never both sets and expires one cookie.
    void setCookie(const QByteArray &name, const QByteArray &value,
                   const Cookies::CookieAttributes &attributes);
    std::optional<ResponseCookie> cookie(QByteArrayView name) const;
    const QList<ResponseCookie> &cookies() const { return m_cookies; }

    // Every header line to write, Set-Cookie lines included.
    QList<QPair<QByteArray, QByteArray>> wireHeaders() const;

    // The response must not be sent before `deadline` (answers padded to a fixed time, so
    // that their timing does not tell whether an account exists). The HTTP layer holds it
    // on a timer, with no thread waiting. Unset: send at once.
    void holdUntil(QDeadlineTimer deadline) { m_heldUntil = deadline; m_held = true; }
    QDeadlineTimer heldUntil() const { return m_heldUntil; }
    // Whether the hold still has time to run; reads the clock only for held responses.
    bool isHeld() const { return m_held && m_heldUntil.remainingTime() > 0; }

private:
    int m_status = 200;
    QByteArray m_contentType;
    QByteArray m_body;
    QList<QPair<QByteArray, QByteArray>> m_headers;
    QList<ResponseCookie> m_cookies;
    QDeadlineTimer m_heldUntil;   // expired by default
    bool m_held = false;          // holdUntil() was called
};

} // namespace Kernia::Server
