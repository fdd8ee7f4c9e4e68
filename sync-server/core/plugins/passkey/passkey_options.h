// Options of the passkey plugin (Better Auth's passkey({rpID, rpName, origin})), for native
// apps as well as browsers. docs/methods/passkey.md explains the defaults.
//
//   PasskeyOptions options;
//   options.rpId = "example.com";                       // default: host of the base URL
//   options.rpName = "Example";                         // default: "Kernia"
//   options.origins = {"https://example.com",           // default: the request's Origin
//                      "android:apk-key-hash:..."};     //   header plus the base URL origin
#pragma once

#include <QString>
#include <QStringList>

namespace Kernia::Server {

struct PasskeyOptions
{
    QString rpId;
    QString rpName;
    // Accepted clientDataJSON origins. Empty: the request's Origin header is required
    // (400 as in Better Auth when it is missing) and it or the base URL origin is accepted.
    QStringList origins;
    // Better Auth verifies with requireUserVerification:false; set to demand the UV flag.
    bool requireUserVerification = false;
    qint64 challengeMaxAge = 300;  // seconds: cookie Max-Age and verification row lifetime
    int timeoutMs = 60000;         // the WebAuthn "timeout" hint in the options
};

} // namespace Kernia::Server
