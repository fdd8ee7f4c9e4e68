// Name and email templates for the anonymous plugin's generate_name and
// generate_random_email, since a config file cannot hold code:
//   "{id}"        a fresh 32-character random id (lower-case alphanumerics)
//   "{random:N}"  N random lower-case alphanumerics (1..64)
//   "{uuid}"      a random UUID
// Anything else in braces is an error reported at start-up.
#pragma once

#include <QString>
#include <optional>

namespace Kernia::Server {

// nullopt with *error set when the template is malformed.
std::optional<QString> validateTemplate(const QString &text, QString *error);
QString expandTemplate(const QString &text);

} // namespace Kernia::Server
