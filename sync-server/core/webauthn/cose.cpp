#include "cose.h"

#include <openssl/core_names.h>

namespace Kernia::Server::WebAuthn {

bool isSupportedAlgorithm(qint64 alg)
{
    return alg == CoseAlg::ES256 || alg == CoseAlg::EdDSA || alg == CoseAlg::RS256;
}

namespace {

// COSE labels
constexpr qint64 kKty = 1;
constexpr qint64 kAlg = 3;
constexpr qint64 kCrvOrN = -1;
constexpr qint64 kXOrE = -2;
constexpr qint64 kY = -3;
constexpr qint64 kD = -4;  // EC2/OKP private key
constexpr qint64 kKtyOkp = 1;
constexpr qint64 kKtyEc2 = 2;
constexpr qint64 kKtyRsa = 3;
constexpr qint64 kCrvP256 = 1;
constexpr qint64 kCrvEd25519 = 6;

bool fail(QString *error, const QString &message)
{
    if (error)
        *error = message;
    return false;
}

const Cbor::Value *bytesParam(const Cbor::Value &map, qint64 label)
{
    const Cbor::Value *v = map.find(label);
    return v && v->isBytes() ? v : nullptr;
}

Ossl::PkeyPtr pkeyFromParams(const char *type, const OSSL_PARAM *params)
{
    Ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0)
        return {};
    EVP_PKEY *raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM *>(params)) <= 0)
        return {};
    Ossl::PkeyPtr pkey(raw);
    // EC: full public-key validation (point on the curve, not infinity). Not for RSA:
    // OpenSSL's RSA check runs a randomised primality test on n, so a crafted modulus could
    // be accepted at registration and refused at the next sign-in (the fuzzer found one).
    // rsaKey() checks size and exponent deterministically; a weak modulus only weakens the
    // registering user's own credential.
    if (qstrcmp(type, "RSA") != 0) {
        Ossl::PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
        if (!check || EVP_PKEY_public_check(check.get()) != 1)
            return {};
    }
    return pkey;
}

Ossl::PkeyPtr ec2Key(const QByteArray &x, const QByteArray &y)
{
    QByteArray point;
    point.reserve(65);
    point.append(char(0x04)).append(x).append(y);
    char group[] = "prime256v1";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), size_t(point.size())),
        OSSL_PARAM_construct_end(),
    };
    return pkeyFromParams("EC", params);
}

Ossl::PkeyPtr okpKey(const QByteArray &x)
{
    Ossl::PkeyPtr pkey(EVP_PKEY_new_raw_public_key_ex(
        nullptr, "ED25519", nullptr, reinterpret_cast<const unsigned char *>(x.constData()), size_t(x.size())));
    return pkey;
}

Ossl::PkeyPtr rsaKey(const QByteArray &n, const QByteArray &e)
{
    Ossl::BignumPtr bnN(BN_bin2bn(reinterpret_cast<const unsigned char *>(n.constData()), int(n.size()), nullptr));
    Ossl::BignumPtr bnE(BN_bin2bn(reinterpret_cast<const unsigned char *>(e.constData()), int(e.size()), nullptr));
    if (!bnN || !bnE)
        return {};
    const int bits = BN_num_bits(bnN.get());
    if (bits < 2048 || bits > 8192 || !BN_is_odd(bnE.get()) || BN_num_bits(bnE.get()) < 2 || BN_num_bits(bnE.get()) > 64)
        return {};
    Ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bnN.get())
        || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bnE.get()))
        return {};
    Ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    if (!params)
        return {};
    return pkeyFromParams("RSA", params.get());
}

} // namespace

bool parseCoseKey(const Cbor::Value &map, CoseKey *out, QString *error)
{
    if (!map.isMap())
        return fail(error, QStringLiteral("COSE key is not a map"));
    const Cbor::Value *kty = map.find(kKty);
    const Cbor::Value *alg = map.find(kAlg);
    if (!kty || !kty->isInteger())
        return fail(error, QStringLiteral("COSE key has no integer kty"));
    if (!alg || !alg->isInteger())
        return fail(error, QStringLiteral("COSE key has no integer alg"));
    if (!isSupportedAlgorithm(alg->integer))
        return fail(error, QStringLiteral("COSE algorithm %1 is not supported").arg(alg->integer));
    if (map.find(kD))
        return fail(error, QStringLiteral("COSE key carries private key material"));

    Ossl::PkeyPtr pkey;
    switch (alg->integer) {
    case CoseAlg::ES256: {
        const Cbor::Value *crv = map.find(kCrvOrN);
        const Cbor::Value *x = bytesParam(map, kXOrE);
        const Cbor::Value *y = bytesParam(map, kY);
        if (kty->integer != kKtyEc2 || !crv || !crv->isInteger() || crv->integer != kCrvP256)
            return fail(error, QStringLiteral("ES256 key must be EC2 on P-256"));
        if (!x || !y || x->bytes.size() != 32 || y->bytes.size() != 32)
            return fail(error, QStringLiteral("ES256 key needs 32-byte x and y"));
        pkey = ec2Key(x->bytes, y->bytes);
        break;
    }
    case CoseAlg::EdDSA: {
        const Cbor::Value *crv = map.find(kCrvOrN);
        const Cbor::Value *x = bytesParam(map, kXOrE);
        if (kty->integer != kKtyOkp || !crv || !crv->isInteger() || crv->integer != kCrvEd25519)
            return fail(error, QStringLiteral("EdDSA key must be OKP on Ed25519"));
        if (!x || x->bytes.size() != 32)
            return fail(error, QStringLiteral("EdDSA key needs a 32-byte x"));
        pkey = okpKey(x->bytes);
        break;
    }
    case CoseAlg::RS256: {
        const Cbor::Value *n = bytesParam(map, kCrvOrN);
        const Cbor::Value *e = bytesParam(map, kXOrE);
        if (kty->integer != kKtyRsa)
            return fail(error, QStringLiteral("RS256 key must be RSA"));
        if (!n || !e || n->bytes.isEmpty() || e->bytes.isEmpty() || e->bytes.size() > 8 || n->bytes.size() > 1024)
            return fail(error, QStringLiteral("RS256 key needs n and e"));
        if (map.find(-3) || map.find(-4))
            return fail(error, QStringLiteral("COSE key carries private key material"));
        pkey = rsaKey(n->bytes, e->bytes);
        break;
    }
    }
    if (!pkey)
        return fail(error, QStringLiteral("COSE key is not a valid public key"));
    out->alg = alg->integer;
    out->pkey = std::move(pkey);
    return true;
}

bool parseCoseKey(QByteArrayView coseBytes, CoseKey *out, QString *error)
{
    Cbor::Value value;
    const Cbor::Error e = Cbor::decode(coseBytes, &value);
    if (e != Cbor::Error::None)
        return fail(error, Cbor::errorString(e));
    return parseCoseKey(value, out, error);
}

bool verifySignature(const CoseKey &key, QByteArrayView data, QByteArrayView signature)
{
    if (!key.pkey || signature.isEmpty() || signature.size() > 2048)
        return false;
    const char *digest = key.alg == CoseAlg::EdDSA ? nullptr : "SHA256";
    if (key.alg == CoseAlg::EdDSA && signature.size() != 64)
        return false;
    Ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, digest, nullptr, nullptr, key.pkey.get(), nullptr) != 1)
        return false;
    // RSA: PKCS#1 v1.5 is the EVP default padding.
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char *>(signature.data()), size_t(signature.size()),
                            reinterpret_cast<const unsigned char *>(data.data()), size_t(data.size())) == 1;
}

} // namespace Kernia::Server::WebAuthn
