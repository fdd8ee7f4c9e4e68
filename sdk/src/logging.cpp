#include "logging_p.h"

namespace Kernia {
Q_LOGGING_CATEGORY(lcClient, "kernia.sdk.client", QtWarningMsg)
Q_LOGGING_CATEGORY(lcTransport, "kernia.sdk.transport", QtWarningMsg)
Q_LOGGING_CATEGORY(lcReachability, "kernia.sdk.reachability", QtWarningMsg)
Q_LOGGING_CATEGORY(lcVault, "kernia.sdk.vault", QtWarningMsg)
Q_LOGGING_CATEGORY(lcStore, "kernia.sdk.store", QtWarningMsg)
Q_LOGGING_CATEGORY(lcSession, "kernia.sdk.session", QtWarningMsg)
Q_LOGGING_CATEGORY(lcSync, "kernia.sdk.sync", QtWarningMsg)
} // namespace Kernia
