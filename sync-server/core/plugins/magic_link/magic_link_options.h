// Options of the magic-link plugin (protocol endpoints.md §20), Better Auth's defaults.
//
//   MagicLinkOptions options;
//   options.expiresIn = 600;                               // seconds a link stays valid
//   options.storeToken = MagicLinkOptions::StoreToken::Hashed;
//   auth.addPlugin(std::make_unique<MagicLinkPlugin>(options));
//   auth.setMailer(mailer);                                // links are mailed through it
#pragma once

#include <QString>
#include <functional>

namespace Kernia::Server {

struct MagicLinkOptions
{
    enum class StoreToken {
        Plain,      // verification identifier "magic-link:<token>" (Better Auth's default)
        Hashed,     // "magic-link:<base64url(SHA-256(token)), no padding>": a database
                    // reader cannot sign in with what it sees
    };

    qint64 expiresIn = 300;             // seconds
    bool disableSignUp = false;         // unknown emails get ?error=new_user_signup_disabled
    StoreToken storeToken = StoreToken::Plain;
    // Custom token generator (gets the email as typed); default: 32 random letters a-zA-Z.
    std::function<QString(const QString &email)> generateToken;
};

} // namespace Kernia::Server
