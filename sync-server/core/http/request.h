// A parsed HTTP request as a plain value, independent of the HTTP server library, so the
// whole auth pipeline can be unit-tested without sockets.
#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>
#include <QUrlQuery>

namespace Kernia::Server {

struct Request
{
    QByteArray method;                          // upper-case, e.g. "POST"
    QString path;                               // decoded path without query, e.g. "/api/auth/ok"
    QUrlQuery query;
    QList<QPair<QByteArray, QByteArray>> headers; // names lower-cased, in arrival order
    QByteArray body;
    QString peerAddress;

    // First value of a header (case-insensitive name), or an empty array.
    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    void setHeader(const QByteArray &name, const QByteArray &value);
};

} // namespace Kernia::Server
