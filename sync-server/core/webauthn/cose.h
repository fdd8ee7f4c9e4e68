// COSE_Key (RFC 9052/9053) → OpenSSL public key, and signature checks, for the three
// algorithms WebAuthn relying parties offer: ES256 (-7, P-256), EdDSA (-8, Ed25519) and
// RS256 (-257, RSASSA-PKCS1-v1_5 with SHA-256). OpenSSL 3 EVP only.
//
//     QString why;
//     CoseKey key;
//     if (!parseCoseKey(coseBytes, &key, &why)) return fail(why);
//     if (!verifySignature(key, signedData, signature)) return reject();
#pragma once

#include "crypto/openssl_raii.h"
#include "webauthn/cbor.h"

#include <QByteArray>
#include <QString>

namespace Kernia::Server::WebAuthn {

namespace CoseAlg {
inline constexpr qint64 ES256 = -7;
inline constexpr qint64 EdDSA = -8;
inline constexpr qint64 RS256 = -257;
} // namespace CoseAlg

bool isSupportedAlgorithm(qint64 alg);

struct CoseKey
{
    qint64 alg = 0;
    Ossl::PkeyPtr pkey;
};

// Strict: the key type, curve and parameter sizes must fit the algorithm (EC2 P-256 with
// 32-byte x/y on the curve; OKP Ed25519 with a 32-byte x; RSA with a 2048..8192-bit n and
// an odd e >= 3). Keys must not carry private parameters.
bool parseCoseKey(const Cbor::Value &map, CoseKey *out, QString *error);
bool parseCoseKey(QByteArrayView coseBytes, CoseKey *out, QString *error);

// `signature`: DER for ES256 (as WebAuthn authenticators send it), raw 64 bytes for
// EdDSA, PKCS#1 v1.5 for RS256.
bool verifySignature(const CoseKey &key, QByteArrayView data, QByteArrayView signature);

} // namespace Kernia::Server::WebAuthn
