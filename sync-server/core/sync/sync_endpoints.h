// The data-sync API as a plugin of the auth engine: POST {mount}/push and GET {mount}/pull
// (mount "/api/sync" by default), served through the same pipeline as /api/auth — session
// by cookie or bearer, the same Origin rules, body limits and error format. Protocol:
// docs/sync-protocol.md.
//
//   auto sync = std::make_shared<SyncService>(syncOptions);
//   AnonymousOptions anonymous;
//   anonymous.onLink = syncOnLink(sync, anonymous.onLink);   // guest data moves at link
//   auth.addPlugin(std::make_unique<AnonymousPlugin>(anonymous));
//   auth.addPlugin(std::make_unique<SyncPlugin>(sync));
#pragma once

#include "auth/plugin.h"
#include "plugins/anonymous/anonymous_options.h"
#include "sync/sync_service.h"

#include <memory>

namespace Kernia::Server {

class SyncPlugin final : public Plugin
{
public:
    explicit SyncPlugin(std::shared_ptr<const SyncService> service);

    QString id() const override { return QStringLiteral("sync"); }
    void registerEndpoints(Router &router) override;

    const SyncService &service() const { return *m_service; }

private:
    Response push(EndpointContext &context);
    Response pull(EndpointContext &context);

    std::shared_ptr<const SyncService> m_service;
};

using OnLinkFunction = std::function<bool(const AnonymousLink &link, QString *errorMessage)>;

// The built-in on_link: moves the guest's records and client marks into the account
// (SyncService::linkGuest) inside the link transaction, then runs `next` (e.g. the
// operator's on_link SQL) when given. A failure of either rolls the whole sign-in back.
// The summary of what moved is logged once the sign-in has committed.
OnLinkFunction syncOnLink(std::shared_ptr<const SyncService> service, OnLinkFunction next = {});

} // namespace Kernia::Server
