// Options of the anonymous plugin: the seeds' on_link, email_domain_name, generate_name,
// generate_random_email and disable_delete_anonymous_user, in C++ form.
//
//   AnonymousOptions options;
//   options.onLink = [](const AnonymousLink &link, QString *error) {
//       // same transaction as the new session: link.store writes commit or roll back with it
//       link.store.execTemplate("UPDATE cart SET user_id = :new WHERE user_id = :old",
//                               {{"new", link.newUser.user.id}, {"old", link.anonymous.user.id}});
//       link.store.afterCommit([] { /* effects outside the store: once, after the commit */ });
//       return true;              // false (with *error set) rolls the whole sign-in back
//   };
#pragma once

#include "auth/json.h"
#include "http/request.h"

#include <functional>

namespace Kernia::Server {

class Store;

struct AnonymousLink
{
    SessionWithUser anonymous;   // the guest, as it was when the request arrived
    SessionWithUser newUser;     // the account and the session just issued
    Store &store;                // writes here join the link transaction; store.afterCommit()
                                 // runs a callback once it has committed
    const Request &request;
    QString path;                // the endpoint that signed in, e.g. "/sign-up/email"
};

struct AnonymousOptions
{
    // Runs inside the link transaction; one link per guest commits, but on PostgreSQL a
    // serialization failure runs the sign-in again, on_link included, so effects outside
    // the store belong in link.store.afterCommit. Return false and set *errorMessage to
    // refuse: nothing of the sign-in is kept and the client gets 500 ACCOUNT_LINK_FAILED.
    // It is called from request worker threads.
    std::function<bool(const AnonymousLink &link, QString *errorMessage)> onLink;
    // Placeholder emails become "temp-<id>@<emailDomainName>".
    QString emailDomainName;
    // Display name of new guests; default "Anonymous".
    std::function<QString(const Request &request)> generateName;
    // Wins over emailDomainName; must produce a valid email (else 400 INVALID_EMAIL_FORMAT).
    std::function<QString()> generateRandomEmail;
    // Keep the guest after a link, and refuse /delete-anonymous-user.
    bool disableDeleteAnonymousUser = false;
};

} // namespace Kernia::Server
