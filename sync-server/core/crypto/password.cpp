#include "password.h"

#include "crypto.h"

#include <sodium.h>

#include <QByteArray>

namespace Kernia::Server {

namespace {

// One hash may use at most this much memory (128·r·(N+p) bytes); Better Auth's N=16384,
// r=16 needs 32 MiB. Larger parameters are refused rather than risking the process.
constexpr quint64 kMaxScryptMemory = quint64(1) << 30;

bool validParameters(const ScryptParams &params)
{
    const quint64 n = params.n;
    const quint64 r = params.r;
    const quint64 p = params.p;
    if (params.keyLength <= 0 || n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0)
        return false;
    return n <= kMaxScryptMemory / 128 / r && p <= kMaxScryptMemory / 128 / r
        && 128 * r * (n + p) <= kMaxScryptMemory;
}

QByteArray runScrypt(const ScryptFunction &scrypt, const QByteArray &password, const QByteArray &salt,
                     const ScryptParams &params)
{
    return scrypt ? scrypt(password, salt, params) : scryptKey(password, salt, params);
}

// Better Auth feeds scrypt the NFKC form, so "ﬁ" (U+FB01) and "fi" are the same password.
QByteArray passwordBytes(const QString &password)
{
    return password.normalized(QString::NormalizationForm_KC).toUtf8();
}

bool isHex(QStringView s)
{
    for (QChar c : s) {
        const char16_t u = c.unicode();
        if (!((u >= '0' && u <= '9') || (u >= 'a' && u <= 'f') || (u >= 'A' && u <= 'F')))
            return false;
    }
    return true;
}

} // namespace

// libsodium's scrypt, not OpenSSL's: the same bytes, but its SIMD salsa20/8 core takes
// ~60 ms for Better Auth's parameters where OpenSSL's portable C takes ~100 ms (and Node,
// which the reference server uses, ~93 ms). Sign-up cost is this number.
QByteArray scryptKey(const QByteArray &password, const QByteArray &salt, const ScryptParams &params)
{
    static const bool sodiumReady = sodium_init() >= 0;   // thread-safe, idempotent
    if (!sodiumReady || !validParameters(params))
        return {};
    QByteArray key(params.keyLength, Qt::Uninitialized);
    if (crypto_pwhash_scryptsalsa208sha256_ll(
                reinterpret_cast<const uint8_t *>(password.constData()), size_t(password.size()),
                reinterpret_cast<const uint8_t *>(salt.constData()), size_t(salt.size()),
                params.n, params.r, params.p,
                reinterpret_cast<uint8_t *>(key.data()), size_t(key.size())) != 0) {
        return {};
    }
    return key;
}

QString hashPassword(const QString &password, const ScryptParams &params, const ScryptFunction &scrypt)
{
    // The salt is the 32-char hex *string*; its UTF-8 bytes (not the 16 raw bytes) go
    // into scrypt. Odd, but it is what Better Auth stores and verifies.
    const QByteArray saltHex = Crypto::randomBytes(16).toHex();
    const QByteArray key = runScrypt(scrypt, passwordBytes(password), saltHex, params);
    if (key.isEmpty())
        return {};
    return QString::fromLatin1(saltHex + ':' + key.toHex());
}

bool verifyPassword(const QString &storedHash, const QString &password, const ScryptParams &params,
                    const ScryptFunction &scrypt)
{
    const qsizetype colon = storedHash.indexOf(u':');
    if (colon <= 0 || storedHash.indexOf(u':', colon + 1) != -1)
        return false;
    const QStringView salt = QStringView(storedHash).left(colon);
    const QStringView keyHex = QStringView(storedHash).mid(colon + 1);
    // QByteArray::fromHex skips junk silently, so check the shape first.
    if (params.keyLength <= 0 || keyHex.size() != 2 * qsizetype(params.keyLength) || !isHex(keyHex))
        return false;

    const QByteArray expected = QByteArray::fromHex(keyHex.toLatin1());
    const QByteArray actual = runScrypt(scrypt, passwordBytes(password), salt.toUtf8(), params);
    return !actual.isEmpty() && Crypto::constantTimeEquals(actual, expected);
}

} // namespace Kernia::Server
