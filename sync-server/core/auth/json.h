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

// The objects are written once, as compact JSON text: the same bytes QJsonDocument::toJson
// gives (keys in its sorted order). Hot endpoints (get-session, anonymous sign-in) send
// the text as it is; building QJsonObjects and serialising them was ~10% of get-session.
void appendJsonString(QByteArray &out, const QString &value);   // quoted and escaped
void appendUserJson(QByteArray &out, const User &user);
void appendSessionJson(QByteArray &out, const Session &session);
// For responses that embed the objects in larger QJson structures.
QJsonObject userJson(const User &user);
QJsonObject sessionJson(const Session &session);

} // namespace Kernia::Server
