// Writes a seed corpus for fuzz_webauthn from the unit-test vectors (the software
// authenticator of tests/unit/soft_authenticator.h): attestation objects ("none" and
// "packed", every algorithm), authenticator data with and without attested credential
// data and extensions, COSE keys and assertion authData.
//
//     fuzz_webauthn_seeds <directory>
#include "soft_authenticator.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>

using namespace Kernia::Server;
using namespace Kernia::Server::Testing;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_webauthn_seeds DIR\n");
        return 2;
    }
    QDir dir(QString::fromLocal8Bit(argv[1]));
    if (!dir.mkpath(QStringLiteral(".")))
        return 1;
    int written = 0;
    auto write = [&](const QByteArray &bytes) {
        QFile f(dir.filePath(QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha1).toHex())));
        if (f.open(QIODevice::WriteOnly))
            written += f.write(bytes) == bytes.size();
    };
    const QString challenge = QStringLiteral("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    const QString rpId = QStringLiteral("example.com");
    for (qint64 alg : {WebAuthn::CoseAlg::ES256, WebAuthn::CoseAlg::EdDSA, WebAuthn::CoseAlg::RS256}) {
        SoftAuthenticator a = SoftAuthenticator::make(alg);
        const QByteArray cd = SoftAuthenticator::clientData(QStringLiteral("webauthn.create"), challenge,
                                                            QStringLiteral("https://example.com"));
        const QByteArray authData = a.attestedAuthData(rpId);
        const QByteArray ext = cborMap({{Cbor::encodeText("credProtect"), Cbor::encodeInt(2)}});
        write(authData);
        write(a.attestedAuthData(rpId, 0xC5) + ext);
        write(a.coseKey());
        write(a.attestationObject(authData, cd));
        write(a.attestationObject(authData, cd, QStringLiteral("packed")));
        write(SoftAuthenticator::header(rpId, 0x05, 7));
        write(SoftAuthenticator::header(rpId, 0x85, 7) + ext);
    }
    write(QByteArray::fromHex("a201020304"));
    write(QByteArray::fromHex("83010203"));
    write(QByteArray::fromHex("a1636b6579f5"));
    printf("%d seeds written to %s\n", written, qPrintable(dir.absolutePath()));
    return written > 0 ? 0 : 1;
}
