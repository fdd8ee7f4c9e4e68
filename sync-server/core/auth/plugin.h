// A server plugin: one self-contained unit that registers its endpoints and hooks. Adding a
// plugin touches no other plugin (the same shape as Better Auth's plugins).
#pragma once

#include "ratelimit/rate_limit_rule.h"

#include <QList>
#include <QString>

namespace Kernia::Server {

class Router;
class EndpointContext;
class Response;
struct SessionWithUser;
struct User;

class Plugin
{
public:
    virtual ~Plugin() = default;
    virtual QString id() const = 0;

    virtual void registerEndpoints(Router &router) { Q_UNUSED(router); }

    // Rate limits for the plugin's paths (Better Auth's plugin `rateLimit`); they win over
    // the built-in special rules, the operator's custom rules win over them.
    virtual QList<RateLimitRule> rateLimitRules() const { return {}; }

    // Before the endpoint runs: may adjust the request's internal view (the bearer plugin
    // turns an Authorization header into the session cookie here).
    virtual void onRequest(EndpointContext &context) { Q_UNUSED(context); }

    // sign-up/email, before the password is hashed: validate the plugin's body fields
    // (throw ApiError to refuse).
    virtual void validateSignUp(EndpointContext &context) { Q_UNUSED(context); }

    // sign-up/email, inside the transaction, before the user row is written: fill the
    // plugin's user fields and re-check anything that must be unique.
    virtual void prepareNewUser(EndpointContext &context, User &user)
    {
        Q_UNUSED(context);
        Q_UNUSED(user);
    }

    // update-user: apply the plugin's body fields to `user`; true if anything changed.
    virtual bool applyUserUpdate(EndpointContext &context, User &user)
    {
        Q_UNUSED(context);
        Q_UNUSED(user);
        return false;
    }

    // Inside the store transaction that issues a new session, after the session row was
    // written. Throwing ApiError (or StoreError) rolls the whole sign-in back.
    virtual void onSessionIssued(EndpointContext &context, const SessionWithUser &issued)
    {
        Q_UNUSED(context);
        Q_UNUSED(issued);
    }
    // Whether onSessionIssued has anything to do for this request. When no plugin has, a
    // new user and its session are written without a transaction around them
    // (SessionManager::issueForNewUser). Override it with onSessionIssued.
    virtual bool needsSessionIssued(EndpointContext &context) const
    {
        Q_UNUSED(context);
        return false;
    }

    // After the endpoint produced its response (success or error).
    virtual void onResponse(EndpointContext &context, Response &response)
    {
        Q_UNUSED(context);
        Q_UNUSED(response);
    }
};

} // namespace Kernia::Server
