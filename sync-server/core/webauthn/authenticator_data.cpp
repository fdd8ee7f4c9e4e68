#include "authenticator_data.h"

#include "webauthn/cbor.h"

namespace Kernia::Server::WebAuthn {

namespace {
bool fail(QString *error, const QString &message)
{
    if (error)
        *error = message;
    return false;
}
} // namespace

bool parseAuthenticatorData(QByteArrayView bytes, AuthenticatorData *out, QString *error)
{
    *out = AuthenticatorData();
    constexpr qsizetype kFixed = 32 + 1 + 4;
    if (bytes.size() < kFixed)
        return fail(error, QStringLiteral("authenticator data is %1 bytes, expected at least 37").arg(bytes.size()));
    if (bytes.size() > (1 << 16))
        return fail(error, QStringLiteral("authenticator data is too large"));

    AuthenticatorData data;
    data.rpIdHash = bytes.first(32).toByteArray();
    data.flags = quint8(bytes[32]);
    data.signCount = (quint32(quint8(bytes[33])) << 24) | (quint32(quint8(bytes[34])) << 16)
                     | (quint32(quint8(bytes[35])) << 8) | quint32(quint8(bytes[36]));
    qsizetype pos = kFixed;

    if (data.has(AuthenticatorData::AT)) {
        if (bytes.size() - pos < 18)
            return fail(error, QStringLiteral("attested credential data is truncated"));
        data.aaguid = bytes.sliced(pos, 16).toByteArray();
        pos += 16;
        const qsizetype idLength = (qsizetype(quint8(bytes[pos])) << 8) | qsizetype(quint8(bytes[pos + 1]));
        pos += 2;
        if (idLength == 0 || idLength > kMaxCredentialIdLength)
            return fail(error, QStringLiteral("credential id length %1 is out of range").arg(idLength));
        if (bytes.size() - pos < idLength)
            return fail(error, QStringLiteral("credential id is truncated"));
        data.credentialId = bytes.sliced(pos, idLength).toByteArray();
        pos += idLength;

        Cbor::Value key;
        qsizetype used = 0;
        const Cbor::Error e = Cbor::decodeFirst(bytes.sliced(pos), &key, &used);
        if (e != Cbor::Error::None)
            return fail(error, QStringLiteral("credential public key: ") + Cbor::errorString(e));
        if (!key.isMap())
            return fail(error, QStringLiteral("credential public key is not a CBOR map"));
        data.credentialPublicKey = bytes.sliced(pos, used).toByteArray();
        pos += used;
    }

    if (data.has(AuthenticatorData::ED)) {
        Cbor::Value extensions;
        qsizetype used = 0;
        const Cbor::Error e = Cbor::decodeFirst(bytes.sliced(pos), &extensions, &used);
        if (e != Cbor::Error::None)
            return fail(error, QStringLiteral("extensions: ") + Cbor::errorString(e));
        if (!extensions.isMap())
            return fail(error, QStringLiteral("extensions are not a CBOR map"));
        data.extensions = bytes.sliced(pos, used).toByteArray();
        pos += used;
    }

    if (pos != bytes.size())
        return fail(error, QStringLiteral("authenticator data has %1 leftover bytes").arg(bytes.size() - pos));
    *out = std::move(data);
    return true;
}

QString aaguidString(QByteArrayView aaguid)
{
    if (aaguid.size() != 16)
        return QString();
    const QByteArray hex = aaguid.toByteArray().toHex();
    return QString::fromLatin1(hex.mid(0, 8) + '-' + hex.mid(8, 4) + '-' + hex.mid(12, 4) + '-' + hex.mid(16, 4)
                               + '-' + hex.mid(20, 12));
}

} // namespace Kernia::Server::WebAuthn
