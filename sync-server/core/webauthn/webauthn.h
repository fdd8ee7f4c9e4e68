// WebAuthn relying-party verification (registration and authentication ceremonies) as
// SimpleWebAuthn does it for Better Auth's passkey plugin, over Kernia's strict CBOR/COSE
// parsers and OpenSSL 3.
//
//     using namespace Kernia::Server::WebAuthn;
//     Expectations expect{challenge, {"https://app.example"}, "app.example", false};
//     RegistrationResult r = verifyRegistrationResponse(body["response"].toObject(), expect);
//     if (!r.ok()) reject(r.error, r.message);
//     ... store r.credentialId, r.publicKey (COSE bytes), r.signCount ...
//     AssertionResult a = verifyAuthenticationResponse(json, expect, {storedCoseKey, storedCounter});
//
// Verified: credential id/rawId/type, clientDataJSON (type, challenge, origin, tokenBinding),
// RP ID hash, user presence (always), user verification (when required), attestation formats
// "none" and "packed" self attestation (no x5c), key algorithm ES256/EdDSA/RS256, the
// assertion signature over authData || SHA-256(clientDataJSON) and the signature counter.
// Not verified: attestation certificate chains (x5c) and every other attestation format.
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <optional>

namespace Kernia::Server::WebAuthn {

enum class VerifyError {
    None,
    MalformedResponse,      // missing/ill-typed JSON fields, bad base64url, bad CBOR, bad authData
    CredentialIdMismatch,   // id != rawId, or not the credential id inside authData
    WrongCredentialType,    // type != "public-key"
    WrongClientDataType,    // not webauthn.create / webauthn.get
    ChallengeMismatch,
    OriginMismatch,
    RpIdMismatch,           // rpIdHash != SHA-256(rpId)
    UserNotPresent,
    UserNotVerified,        // UV required but not set
    MissingCredentialData,  // registration without attested credential data
    UnsupportedAlgorithm,
    InvalidPublicKey,
    UnsupportedAttestation, // a format other than none / packed self attestation
    InvalidAttestation,     // malformed attestation statement
    BadSignature,           // the signature does not verify (SimpleWebAuthn: verified=false)
    CounterNotIncreased,    // cloned authenticator or replayed assertion
    InvalidBackupFlags,     // BS without BE
};

QString errorString(VerifyError error);

struct Expectations
{
    QString challenge;              // base64url, as sent in the options
    QStringList origins;            // clientData.origin must be one of these (exactly)
    QString rpId;
    bool requireUserVerification = false;
};

struct RegistrationResult
{
    VerifyError error = VerifyError::None;
    QString message;

    QString fmt;                    // "none" | "packed"
    QByteArray credentialId;        // raw bytes
    QByteArray publicKey;           // COSE_Key bytes as sent by the authenticator
    qint64 alg = 0;
    quint32 signCount = 0;
    QString aaguid;                 // UUID string
    bool userVerified = false;
    bool backupEligible = false;    // deviceType multiDevice
    bool backedUp = false;

    bool ok() const { return error == VerifyError::None; }
    QString deviceType() const { return backupEligible ? QStringLiteral("multiDevice") : QStringLiteral("singleDevice"); }
};

struct StoredCredential
{
    QByteArray publicKey;           // COSE_Key bytes
    qint64 counter = 0;
};

struct AssertionResult
{
    VerifyError error = VerifyError::None;
    QString message;

    quint32 newCounter = 0;
    bool userVerified = false;
    bool backupEligible = false;
    bool backedUp = false;

    bool ok() const { return error == VerifyError::None; }
};

// RegistrationResponseJSON: {id, rawId, type, response:{clientDataJSON, attestationObject, ...}}
RegistrationResult verifyRegistrationResponse(const QJsonObject &credential, const Expectations &expected);
// The same on decoded bytes (the id check is done by the JSON wrapper).
RegistrationResult verifyRegistration(QByteArrayView attestationObject, QByteArrayView clientDataJSON,
                                      const Expectations &expected);

// AuthenticationResponseJSON: {id, rawId, type, response:{clientDataJSON, authenticatorData, signature, userHandle?}}
AssertionResult verifyAuthenticationResponse(const QJsonObject &credential, const Expectations &expected,
                                             const StoredCredential &stored);
AssertionResult verifyAssertion(QByteArrayView authenticatorData, QByteArrayView clientDataJSON,
                                QByteArrayView signature, const Expectations &expected,
                                const StoredCredential &stored);

// Strict base64url (RFC 4648 §5): [A-Za-z0-9_-], optional '=' padding; nullopt otherwise.
std::optional<QByteArray> base64UrlDecode(QStringView text);
QString base64UrlEncode(QByteArrayView bytes);  // without padding

} // namespace Kernia::Server::WebAuthn
