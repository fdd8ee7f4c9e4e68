#include "cookies.h"

#include "crypto/crypto.h"

namespace Kernia::Server::Cookies {

namespace {

constexpr QByteArrayView securePrefix("__Secure-");

// base64(HMAC-SHA256) is 32 bytes -> 43 chars + one '=' pad.
constexpr qsizetype signatureLength = 44;

bool isUnreserved(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || QByteArrayView("-_.!~*'()").contains(c);
}

int hexDigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// The byte of the "%XX" at `pos`, or -1 when there is no well-formed escape there.
int escapedByte(QByteArrayView in, qsizetype pos)
{
    if (pos + 2 >= in.size() || in[pos] != '%')
        return -1;
    const int hi = hexDigit(in[pos + 1]);
    const int lo = hexDigit(in[pos + 2]);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

// Like better-call's verifySignature: atob(signature) must equal the HMAC of `value`.
// Qt's strict base64 decoder, like atob, rejects the url-safe alphabet and ignores the
// unused low bits of the last character.
bool signatureMatches(QByteArrayView value, QByteArrayView signature, QByteArrayView secret)
{
    const auto decoded = QByteArray::fromBase64Encoding(
            signature.toByteArray(),
            QByteArray::Base64Encoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return false;
    const QByteArray expected = Crypto::hmacSha256(secret, value);
    return !expected.isEmpty() && Crypto::constantTimeEquals(*decoded, expected);
}

} // namespace

QByteArray sign(QByteArrayView value, QByteArrayView secret)
{
    const QByteArray mac = Crypto::hmacSha256(secret, value);
    if (mac.isEmpty())
        return {};
    return value.toByteArray() + '.' + mac.toBase64();
}

std::optional<QByteArray> verifySigned(QByteArrayView signedValue, QByteArrayView secret)
{
    const qsizetype dot = signedValue.lastIndexOf('.');
    if (dot < 1) // no '.', or an empty value part
        return std::nullopt;
    const QByteArrayView value = signedValue.first(dot);
    const QByteArrayView signature = signedValue.sliced(dot + 1);
    if (signature.size() != signatureLength || !signature.endsWith('='))
        return std::nullopt;
    if (!signatureMatches(value, signature, secret))
        return std::nullopt;
    return value.toByteArray();
}

QByteArray encodeURIComponent(QByteArrayView raw)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    QByteArray out;
    out.reserve(raw.size());
    for (const char c : raw) {
        if (isUnreserved(c)) {
            out.append(c);
        } else {
            const auto b = quint8(c);
            out.append('%').append(hex[b >> 4]).append(hex[b & 0xF]);
        }
    }
    return out;
}

QByteArray decodeURIComponent(QByteArrayView encoded, bool *ok)
{
    const auto fail = [&] {
        if (ok)
            *ok = false;
        return encoded.toByteArray();
    };
    QByteArray out;
    out.reserve(encoded.size());
    for (qsizetype i = 0; i < encoded.size();) {
        if (encoded[i] != '%') {
            out.append(encoded[i++]);
            continue;
        }
        const int lead = escapedByte(encoded, i);
        if (lead < 0)
            return fail();
        i += 3;
        if (lead < 0x80) {
            out.append(char(lead));
            continue;
        }
        // A multi-byte character must arrive as consecutive escapes forming valid UTF-8,
        // exactly as ECMAScript's Decode() demands; anything else is a URIError in JS.
        const int length = lead >= 0xF0 && lead <= 0xF4 ? 4
                : lead >= 0xE0 && lead <= 0xEF          ? 3
                : lead >= 0xC2 && lead <= 0xDF          ? 2
                                                        : 0;
        if (length == 0) // stray continuation byte, overlong 2-byte lead, or > U+10FFFF
            return fail();
        char32_t cp = char32_t(lead) & (0x7Fu >> length);
        QByteArray bytes(1, char(lead));
        for (int k = 1; k < length; ++k, i += 3) {
            const int cont = escapedByte(encoded, i);
            if (cont < 0 || (cont & 0xC0) != 0x80)
                return fail();
            cp = cp << 6 | char32_t(cont & 0x3F);
            bytes.append(char(cont));
        }
        static constexpr char32_t minimum[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < minimum[length] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return fail();
        out.append(bytes);
    }
    if (ok)
        *ok = true;
    return out;
}

QMap<QByteArray, QByteArray> parseCookieHeader(QByteArrayView header)
{
    // A transcription of better-call's parseCookies, including its quirks: a segment
    // without '=' is skipped, and a value starting with '"' loses its first and last
    // character whether or not the last one is a quote.
    QMap<QByteArray, QByteArray> cookies;
    qsizetype index = 0;
    while (index < header.size()) {
        const qsizetype eq = header.indexOf('=', index);
        if (eq == -1)
            break;
        qsizetype end = header.indexOf(';', index);
        if (end == -1) {
            end = header.size();
        } else if (end < eq) {
            index = header.lastIndexOf(';', eq - 1) + 1;
            continue;
        }
        const QByteArray name = header.sliced(index, eq - index).trimmed().toByteArray();
        if (!cookies.contains(name)) {
            QByteArrayView value = header.sliced(eq + 1, end - eq - 1).trimmed();
            if (value.startsWith('"'))
                value = value.size() >= 2 ? value.sliced(1, value.size() - 2) : QByteArrayView();
            // decodeURIComponent hands back the raw value when it fails, as tryDecode does.
            cookies.insert(name, value.contains('%') ? decodeURIComponent(value)
                                                     : value.toByteArray());
        }
        index = end + 1;
    }
    return cookies;
}

QByteArray serializeSetCookie(QByteArrayView name, QByteArrayView value,
                              const CookieAttributes &attrs)
{
    QByteArray out = name.toByteArray() + '=' + value.toByteArray();
    if (attrs.maxAge && *attrs.maxAge >= 0)
        out += "; Max-Age=" + QByteArray::number(*attrs.maxAge);
    if (!attrs.domain.isEmpty())
        out += "; Domain=" + attrs.domain;
    if (!attrs.path.isEmpty())
        out += "; Path=" + attrs.path;
    if (attrs.httpOnly)
        out += "; HttpOnly";
    // Browsers drop a "__Secure-" cookie that lacks Secure, so better-call forces it.
    if (attrs.secure || name.startsWith(securePrefix))
        out += "; Secure";
    if (!attrs.sameSite.isEmpty()) {
        QByteArray sameSite = attrs.sameSite;
        if (sameSite[0] >= 'a' && sameSite[0] <= 'z') // "lax" -> "Lax", as better-call does
            sameSite[0] = char(sameSite[0] - 'a' + 'A');
        out += "; SameSite=" + sameSite;
    }
    return out;
}

QByteArray cookieName(QByteArrayView prefix, QByteArrayView name, bool secure)
{
    QByteArray out;
    if (secure)
        out.append(securePrefix);
    return out.append(prefix).append('.').append(name);
}

AuthCookieNames AuthCookieNames::make(QByteArrayView prefix, bool secure)
{
    return { cookieName(prefix, "session_token", secure),
             cookieName(prefix, "session_data", secure),
             cookieName(prefix, "dont_remember", secure),
             cookieName(prefix, "better-auth-passkey", secure) };
}

std::optional<QByteArray> signedTokenFromBearer(QByteArrayView authorizationHeader,
                                                QByteArrayView secret, bool requireSignature)
{
    constexpr QByteArrayView scheme("bearer ");
    if (authorizationHeader.size() < scheme.size()
        || authorizationHeader.first(scheme.size()).compare(scheme, Qt::CaseInsensitive) != 0) {
        return std::nullopt;
    }
    QByteArray token = authorizationHeader.sliced(scheme.size()).trimmed().toByteArray();
    if (token.isEmpty())
        return std::nullopt;

    if (token.contains('.')) {
        if (token.contains('%')) {
            bool ok = false;
            token = decodeURIComponent(token, &ok);
            if (!ok) // JS throws here and the plugin ignores the header
                return std::nullopt;
        }
    } else {
        // Better Auth accepts a raw, unsigned session token as a bearer (transcript 01).
        if (requireSignature)
            return std::nullopt;
        token = sign(token, secret);
    }

    // README §3 says the plugin verifies "HMAC-SHA256 over the part before the first '.'"
    // against the base64-decoded rest; the result then goes through the session cookie's
    // reader, which splits at the LAST '.' (verifySigned). Both must pass. With several
    // dots the first check always fails ('.' is not a base64 character), and with one dot
    // the two splits coincide, so "exactly one '.' and verifySigned" is the same rule.
    if (token.count('.') != 1 || !verifySigned(token, secret))
        return std::nullopt;
    return token;
}

} // namespace Kernia::Server::Cookies
