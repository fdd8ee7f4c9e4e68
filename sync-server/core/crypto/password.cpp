#include "password.h"

#include "crypto.h"
#include "openssl_raii.h"

#include <openssl/core_names.h>

#include <QByteArray>

#include <limits>

namespace Kernia::Server {

namespace {

// Memory OpenSSL's scrypt will ask for (its own formula) plus slack. The default limit
// (32 MiB) is just below what Better Auth's N=16384, r=16 needs, so it must be raised.
quint64 maxMemFor(const ScryptParams &params)
{
    constexpr quint64 max = std::numeric_limits<quint64>::max();
    const quint64 r = params.r;
    if (r == 0 || params.n > max / 128 / r - 2 || params.p > max / 128 / r)
        return max; // absurd parameters: let OpenSSL itself refuse them
    const quint64 v = 128 * r * (params.n + 2);
    const quint64 b = 128 * r * params.p;
    const auto add = [](quint64 x, quint64 y) { return x > max - y ? max : x + y; };
    return add(add(v, b), 1u << 20);
}

QByteArray scrypt(const QByteArray &password, const QByteArray &salt, const ScryptParams &params)
{
    if (params.keyLength <= 0)
        return {};
    Ossl::KdfPtr kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
    if (!kdf)
        return {};
    Ossl::KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx)
        return {};

    uint64_t n = params.n;
    uint32_t r = params.r;
    uint32_t p = params.p;
    uint64_t maxMem = maxMemFor(params);
    // OpenSSL copies the octet strings and never writes through these pointers.
    const OSSL_PARAM ossl[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                          const_cast<char *>(password.constData()),
                                          size_t(password.size())),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char *>(salt.constData()),
                                          size_t(salt.size())),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxMem),
        OSSL_PARAM_construct_end(),
    };
    QByteArray key(params.keyLength, Qt::Uninitialized);
    if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char *>(key.data()), size_t(key.size()),
                       ossl) != 1) {
        return {};
    }
    return key;
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

QString hashPassword(const QString &password, const ScryptParams &params)
{
    // The salt is the 32-char hex *string*; its UTF-8 bytes (not the 16 raw bytes) go
    // into scrypt. Odd, but it is what Better Auth stores and verifies.
    const QByteArray saltHex = Crypto::randomBytes(16).toHex();
    const QByteArray key = scrypt(passwordBytes(password), saltHex, params);
    if (key.isEmpty())
        return {};
    return QString::fromLatin1(saltHex + ':' + key.toHex());
}

bool verifyPassword(const QString &storedHash, const QString &password, const ScryptParams &params)
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
    const QByteArray actual = scrypt(passwordBytes(password), salt.toUtf8(), params);
    return !actual.isEmpty() && Crypto::constantTimeEquals(actual, expected);
}

} // namespace Kernia::Server
