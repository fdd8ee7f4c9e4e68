// kernia-bench-sync — push and pull N records through /api/sync with a bearer token.
//
//   kernia-bench-sync --server http://127.0.0.1:3000 [--records 10000] [--batch 500]
//
// Signs in as a fresh anonymous user, pushes N "put" mutations in batches (one request
// at a time, as a client does), then pulls them all back (limit 1000 per page) and checks
// the count. Prints wall time and records/s for each phase.
#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>

#include <cstdio>
#include <cstdlib>

namespace {

struct Answer
{
    int status = 0;
    QJsonObject body;
    QByteArray token;
};

QNetworkAccessManager *nam;

Answer request(const QByteArray &verb, const QUrl &url, const QByteArray &bearer, const QJsonObject &body = {})
{
    QNetworkRequest req(url);
    req.setTransferTimeout(60000);
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    if (!bearer.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + bearer);
    // Bearer only, like a native client: a session cookie would make the server ask for an Origin.
    req.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
    req.setAttribute(QNetworkRequest::CookieLoadControlAttribute, QNetworkRequest::Manual);
    QNetworkReply *reply = verb == "GET" ? nam->get(req) : nam->post(req, QJsonDocument(body).toJson(QJsonDocument::Compact));
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    Answer a;
    a.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    a.body = QJsonDocument::fromJson(reply->readAll()).object();
    a.token = reply->rawHeader("set-auth-token");
    reply->deleteLater();
    return a;
}

[[noreturn]] void fail(const char *what, const Answer &a)
{
    std::fprintf(stderr, "kernia-bench-sync: %s failed: HTTP %d %s\n", what, a.status,
                 QJsonDocument(a.body).toJson(QJsonDocument::Compact).constData());
    std::exit(1);
}

void report(const char *phase, int records, qint64 ns, int requests)
{
    const double s = double(ns) / 1e9;
    std::printf("%-5s %6d records  %8.3f s  %9.0f records/s  (%d requests, %.1f ms/request)\n", phase, records, s,
                records / s, requests, s * 1000.0 / requests);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOptions({ { QStringLiteral("server"), QStringLiteral("kernia-server URL"), QStringLiteral("url"),
                          QStringLiteral("http://127.0.0.1:3000") },
                        { QStringLiteral("records"), QStringLiteral("records to push and pull"), QStringLiteral("n"),
                          QStringLiteral("10000") },
                        { QStringLiteral("batch"), QStringLiteral("mutations per push (max 500)"), QStringLiteral("n"),
                          QStringLiteral("500") } });
    parser.process(app);
    const QUrl server(parser.value(QStringLiteral("server")));
    const int records = parser.value(QStringLiteral("records")).toInt();
    const int batch = qBound(1, parser.value(QStringLiteral("batch")).toInt(), 500);
    QNetworkAccessManager manager;
    nam = &manager;
    auto endpoint = [&server](const QString &path) {
        QUrl u = server;
        u.setPath(path);
        return u;
    };

    const Answer guest = request("POST", endpoint(QStringLiteral("/api/auth/sign-in/anonymous")), {});
    if (guest.status != 200 || guest.token.isEmpty())
        fail("sign-in/anonymous", guest);
    const QByteArray token = guest.token;

    // Push: records like a cart line, ~80 bytes of JSON each.
    QElapsedTimer timer;
    timer.start();
    int pushes = 0;
    for (int start = 0; start < records; start += batch) {
        QJsonArray mutations;
        for (int i = start; i < qMin(records, start + batch); ++i) {
            mutations.append(QJsonObject{
                    { QStringLiteral("mid"), i + 1 },
                    { QStringLiteral("op"), QStringLiteral("put") },
                    { QStringLiteral("collection"), QStringLiteral("bench") },
                    { QStringLiteral("id"), QStringLiteral("item-%1").arg(i, 6, 10, QLatin1Char('0')) },
                    { QStringLiteral("data"), QJsonObject{ { QStringLiteral("name"), QStringLiteral("Product %1").arg(i) },
                                                           { QStringLiteral("qty"), i % 7 + 1 },
                                                           { QStringLiteral("price"), 1.5 + i % 10 } } } });
        }
        const Answer a = request("POST", endpoint(QStringLiteral("/api/sync/push")), token,
                                 QJsonObject{ { QStringLiteral("clientId"), QStringLiteral("bench") },
                                              { QStringLiteral("mutations"), mutations } });
        if (a.status != 200 || a.body.value(QStringLiteral("applied")).toInt() != mutations.size())
            fail("push", a);
        ++pushes;
    }
    report("push", records, timer.nsecsElapsed(), pushes);

    timer.restart();
    int pulled = 0, pulls = 0;
    qint64 since = 0;
    for (bool more = true; more; ++pulls) {
        QUrl url = endpoint(QStringLiteral("/api/sync/pull"));
        url.setQuery(QStringLiteral("since=%1&limit=1000").arg(since));
        const Answer a = request("GET", url, token);
        if (a.status != 200)
            fail("pull", a);
        pulled += a.body.value(QStringLiteral("changes")).toArray().size();
        since = a.body.value(QStringLiteral("version")).toInteger();
        more = a.body.value(QStringLiteral("more")).toBool();
    }
    report("pull", pulled, timer.nsecsElapsed(), pulls);
    if (pulled != records) {
        std::fprintf(stderr, "kernia-bench-sync: pulled %d records, expected %d\n", pulled, records);
        return 1;
    }
    return 0;
}
