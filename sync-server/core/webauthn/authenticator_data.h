// WebAuthn authenticator data (WebAuthn L2 §6.1): rpIdHash, flags, signCount, attested
// credential data, extensions. Strict: every length is checked against the input, the COSE
// key and extensions must be CBOR maps, and nothing may follow them.
//
//     AuthenticatorData data;
//     QString why;
//     if (!parseAuthenticatorData(bytes, &data, &why)) return fail(why);
//     if (!data.userPresent()) ...
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

namespace Kernia::Server::WebAuthn {

struct AuthenticatorData
{
    enum Flag : quint8 {
        UP = 0x01,   // user present
        UV = 0x04,   // user verified
        BE = 0x08,   // backup eligible
        BS = 0x10,   // backed up
        AT = 0x40,   // attested credential data included
        ED = 0x80,   // extension data included
    };

    QByteArray rpIdHash;            // 32 bytes
    quint8 flags = 0;
    quint32 signCount = 0;
    // Attested credential data (only with AT)
    QByteArray aaguid;              // 16 bytes
    QByteArray credentialId;
    QByteArray credentialPublicKey; // the COSE_Key bytes exactly as sent
    QByteArray extensions;          // the extension map's bytes (only with ED)

    bool has(Flag flag) const { return (flags & flag) != 0; }
    bool userPresent() const { return has(UP); }
    bool userVerified() const { return has(UV); }
    bool backupEligible() const { return has(BE); }
    bool backedUp() const { return has(BS); }
};

inline constexpr int kMaxCredentialIdLength = 1023; // WebAuthn L2 §5.8.3

bool parseAuthenticatorData(QByteArrayView bytes, AuthenticatorData *out, QString *error);

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lower-case hex) of a 16-byte AAGUID.
QString aaguidString(QByteArrayView aaguid);

} // namespace Kernia::Server::WebAuthn
