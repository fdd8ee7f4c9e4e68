// User and session objects exactly as Better Auth renders them (endpoints.md, intro).
#pragma once

#include "store/models.h"

#include <QJsonObject>

namespace Kernia::Server {

struct SessionWithUser
{
    Session session;
    User user;
};

QString isoTimestamp(const QDateTime &time);   // "2026-11-23T11:20:23.460Z"
QDateTime nowUtc();                             // millisecond precision
QJsonObject userJson(const User &user);
QJsonObject sessionJson(const Session &session);

} // namespace Kernia::Server
