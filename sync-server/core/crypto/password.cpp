#include "password.h"

#include "crypto.h"

#include <QByteArray>

namespace Kernia::Server {

namespace {

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

QByteArray scryptKey(const QByteArray &password, const QByteArray &salt, const ScryptParams &params)
{
    const std::string key = scryptKdf(std::string_view(password.constData(), size_t(password.size())),
                                      std::string_view(salt.constData(), size_t(salt.size())), params);
    return QByteArray(key.data(), qsizetype(key.size()));
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
