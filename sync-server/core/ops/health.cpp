#include "health.h"

#include "store/store.h"

#include <QJsonObject>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcHealth, "kernia.health")

namespace Kernia::Server {

Response healthResponse(Store &store)
{
    bool ok = false;
    try {
        store.transaction([&] {
            store.execTemplate(QStringLiteral("SELECT 1 FROM \"kernia_migrations\" WHERE 1 = 0"), {});
        });
        ok = true;
    } catch (const std::exception &error) {
        qCWarning(lcHealth) << "database check failed:" << error.what();
    }
    const QString state = ok ? QStringLiteral("ok") : QStringLiteral("error");
    Response response = Response::json(QJsonObject{{QStringLiteral("status"), state},
                                                    {QStringLiteral("database"), state}},
                                        ok ? 200 : 503);
    response.setHeader("cache-control", "no-store");
    return response;
}

} // namespace Kernia::Server
