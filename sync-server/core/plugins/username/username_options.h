// Options of the username plugin: Better Auth's username() options in C++ form, with the
// same defaults (protocol endpoints.md §19).
//
//   UsernameOptions options;                 // min 3, max 30, ^[a-zA-Z0-9_.]+$, lower-case
//   options.maxUsernameLength = 20;
//   options.displayUsernameValidator = [](const QString &name) { return !name.trimmed().isEmpty(); };
//   auth.addPlugin(std::make_unique<UsernamePlugin>(options));
#pragma once

#include <QString>
#include <functional>

namespace Kernia::Server {

struct UsernameOptions
{
    // Length limits in UTF-16 units (JavaScript string length). 0 or less = the default,
    // as Better Auth's `options.minUsernameLength || 3`.
    int minUsernameLength = 3;
    int maxUsernameLength = 30;

    // Default: ^[a-zA-Z0-9_.]+$. Called from request worker threads.
    std::function<bool(const QString &username)> usernameValidator;
    // Default: lower-case. Set disableUsernameNormalization for Better Auth's
    // `usernameNormalization: false` (stored and looked up exactly as typed).
    std::function<QString(const QString &username)> usernameNormalization;
    bool disableUsernameNormalization = false;

    // Default: none (any displayUsername is accepted) / identity.
    std::function<bool(const QString &displayUsername)> displayUsernameValidator;
    std::function<QString(const QString &displayUsername)> displayUsernameNormalization;

    // Better Auth's validationOrder: validate the value as typed (PreNormalization, the
    // default) or after normalisation.
    enum class ValidationOrder { PreNormalization, PostNormalization };
    ValidationOrder usernameValidationOrder = ValidationOrder::PreNormalization;
    ValidationOrder displayUsernameValidationOrder = ValidationOrder::PreNormalization;

    // Better Auth's `displayUsername: false`: the displayUsername field is neither set nor
    // copied (the column stays empty).
    bool displayUsername = true;

    // update-user may not change a username once set (400 USERNAME_IS_IMMUTABLE).
    bool immutableUsername = false;
};

} // namespace Kernia::Server
