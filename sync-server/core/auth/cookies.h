// Better Auth's cookies, byte for byte (protocol README §2, bearer request side §3).
//
//     using namespace Kernia::Server;
//     const auto names = Cookies::AuthCookieNames::make("better-auth", secure);
//     // reading
//     const auto jar = Cookies::parseCookieHeader(request.value("cookie"));
//     if (auto token = Cookies::verifySigned(jar.value(names.sessionToken), secret)) { ... }
//     // writing
//     Cookies::CookieAttributes attrs;
//     attrs.maxAge = 604800;
//     attrs.secure = secure;
//     response.addHeader("Set-Cookie", Cookies::serializeSetCookie(
//             names.sessionToken, Cookies::encodeURIComponent(Cookies::sign(token, secret)), attrs));
//
// Everything works on bytes; text is UTF-8.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QMap>
#include <QtGlobal>

#include <optional>

namespace Kernia::Server::Cookies {

// value + "." + standard base64 (with '=' padding) of HMAC-SHA256(secret, value).
// Not percent-encoded: that is encodeURIComponent's job (Set-Cookie) or nobody's
// (the set-auth-token header carries it raw).
QByteArray sign(QByteArrayView value, QByteArrayView secret);

// Checks a signed value (already percent-decoded) the way Better Auth reads a signed
// cookie: split at the LAST '.', value part non-empty, signature exactly 44 chars ending
// in '=', HMAC compared in constant time. Returns the value part, or nullopt ("absent").
std::optional<QByteArray> verifySigned(QByteArrayView signedValue, QByteArrayView secret);

// JavaScript's encodeURIComponent over UTF-8 bytes: keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ),
// writes every other byte as %XX (upper-case hex).
QByteArray encodeURIComponent(QByteArrayView raw);

// JavaScript's decodeURIComponent: %XX sequences must be well-formed and decode to valid
// UTF-8 (no overlongs, surrogates or > U+10FFFF), else it fails. On failure returns the
// input unchanged and sets *ok = false. '+' stays '+'.
QByteArray decodeURIComponent(QByteArrayView encoded, bool *ok = nullptr);

// A request's Cookie header as Better Auth (better-call) parses it: pairs split on ';',
// name and value trimmed, the first occurrence of a name wins, a value starting with '"'
// loses its first and last character, then values containing '%' are percent-decoded
// (kept raw if that fails). Segments without '=' are skipped.
QMap<QByteArray, QByteArray> parseCookieHeader(QByteArrayView header);

struct CookieAttributes
{
    std::optional<qint64> maxAge;   // omitted when unset (browser-session cookie) or < 0
    QByteArray domain;              // only for cross-subdomain cookies
    QByteArray path = "/";
    bool httpOnly = true;
    bool secure = false;            // forced on for names starting with "__Secure-"
    QByteArray sameSite = "Lax";
};

// "<name>=<value>; Max-Age=<n>; Domain=<d>; Path=<p>; HttpOnly; Secure; SameSite=<s>",
// attributes in exactly this order, each only when set. The value is written as given
// (the caller percent-encodes it).
QByteArray serializeSetCookie(QByteArrayView name, QByteArrayView value,
                              const CookieAttributes &attrs);

// "<securePrefix><prefix>.<name>", securePrefix = "__Secure-" when secure cookies are on.
QByteArray cookieName(QByteArrayView prefix, QByteArrayView name, bool secure);

// The names of every cookie Better Auth sets, for one prefix and security mode.
struct AuthCookieNames
{
    QByteArray sessionToken;     // <p>.session_token
    QByteArray sessionData;      // <p>.session_data (cookie cache; Kernia only expires it)
    QByteArray dontRemember;     // <p>.dont_remember
    QByteArray passkeyChallenge; // <p>.better-auth-passkey

    static AuthCookieNames make(QByteArrayView prefix = "better-auth", bool secure = false);
};

// The bearer plugin's request side: from an Authorization header value, the signed
// session-token value ("token.sig", percent-decoded) that the request should be treated
// as carrying, or nullopt when the header is absent, not "bearer ", empty or not validly
// signed. A raw token without '.' is signed here (Better Auth accepts raw tokens) unless
// requireSignature. Callers take the part before the '.' as the session token.
std::optional<QByteArray> signedTokenFromBearer(QByteArrayView authorizationHeader,
                                                QByteArrayView secret,
                                                bool requireSignature = false);

} // namespace Kernia::Server::Cookies
