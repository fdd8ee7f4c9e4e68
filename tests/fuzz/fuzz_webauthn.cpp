// libFuzzer target over Kernia's WebAuthn parsers: the strict CBOR decoder, COSE_Key →
// EVP_PKEY, the authenticator-data parser and the registration/assertion verifiers that
// sit on top of them. Every input goes through all of them; besides ASan/UBSan findings,
// the invariants below abort on a wrong result.
//
// Built with clang only (-fsanitize=fuzzer,address,undefined); run_fuzzer.sh builds and runs
// it from a g++ tree as a ctest. Seeds: fuzz_webauthn_seeds writes the unit-test vectors.
#include "webauthn/authenticator_data.h"
#include "webauthn/cbor.h"
#include "webauthn/cose.h"
#include "webauthn/webauthn.h"

#include <QByteArray>
#include <QStringList>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace Kernia::Server::WebAuthn;

namespace {

// Names the broken invariant before aborting, so a finding says which property failed.
void checkAt(bool condition, const char *what, int line)
{
    if (!condition) {
        std::fprintf(stderr, "fuzz_webauthn.cpp:%d: invariant failed: %s\n", line, what);
        std::abort();
    }
}

} // namespace

#define check(condition) checkAt((condition), #condition, __LINE__)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));

    // CBOR: a successful decode consumed everything; decodeFirst agrees on the prefix.
    Cbor::Value value;
    const Cbor::Error error = Cbor::decode(input, &value);
    Cbor::Value first;
    qsizetype consumed = -1;
    const Cbor::Error firstError = Cbor::decodeFirst(input, &first, &consumed);
    if (error == Cbor::Error::None)
        check(firstError == Cbor::Error::None && consumed == input.size());
    if (firstError == Cbor::Error::None)
        check(consumed > 0 && consumed <= input.size());

    // COSE keys from the whole input.
    CoseKey key;
    QString why;
    if (parseCoseKey(QByteArrayView(input), &key, &why)) {
        check(key.pkey != nullptr && isSupportedAlgorithm(key.alg));
        (void)verifySignature(key, input, input);
    }

    // Authenticator data: a parsed credential key and extensions are complete CBOR maps.
    AuthenticatorData authData;
    if (parseAuthenticatorData(input, &authData, &why)) {
        check(authData.rpIdHash.size() == 32);
        if (authData.has(AuthenticatorData::AT)) {
            Cbor::Value k;
            check(Cbor::decode(authData.credentialPublicKey, &k) == Cbor::Error::None && k.isMap());
            check(authData.aaguid.size() == 16 && !authData.credentialId.isEmpty());
        }
        if (authData.has(AuthenticatorData::ED)) {
            Cbor::Value e;
            check(Cbor::decode(authData.extensions, &e) == Cbor::Error::None && e.isMap());
        }
    }

    // The verifiers on top: the input as attestation object and as assertion authData.
    static const QByteArray clientCreate =
        R"({"type":"webauthn.create","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","origin":"https://example.com"})";
    static const QByteArray clientGet =
        R"({"type":"webauthn.get","challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","origin":"https://example.com"})";
    const Expectations expected{QStringLiteral("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                                {QStringLiteral("https://example.com")}, QStringLiteral("example.com"), false};
    const RegistrationResult registration = verifyRegistration(input, clientCreate, expected);
    if (registration.ok()) {
        CoseKey k;
        check(parseCoseKey(QByteArrayView(registration.publicKey), &k, &why));
    }
    // An assertion with an all-zero "signature" never verifies.
    if (authData.has(AuthenticatorData::AT) && !authData.credentialPublicKey.isEmpty()) {
        const AssertionResult assertion = verifyAssertion(input, clientGet, QByteArray(64, '\0'), expected,
                                                          {authData.credentialPublicKey, 0});
        check(!assertion.ok());
    }
    return 0;
}
